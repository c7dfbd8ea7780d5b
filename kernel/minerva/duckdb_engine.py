"""The embedded DuckDB engine: a locked-down database per query configuration, one query at a time.

An engine (a DuckDB database) is configured once, before any user SQL runs: the depots' own
statements (a read-only ATTACH, a credentials secret), the kernel's functions (the keyed hash),
then file access only below the depots' directories (`allowed_directories` with
`enable_external_access = false`), no extension installed or loaded on the fly, memory and thread
limits, and `lock_configuration` so no query can undo any of it. A query runs on the connection
of an engine no other query is running on, with a temporary view per dataset it reads, named by
its address. Making a view reads the files' footers (1-2 ms for a large Parquet file, as much as a
small query), so an engine keeps the views of its owner's recent queries (`KEPT_VIEWS`); a query by
another user first drops every view it does not read itself. The views are the datasets' raw rows:
only the Gateway's proven SQL names them (a user may not write their names), and a user never finds
another user's there. The query must be exactly one SELECT statement as DuckDB's own parser reads
it; that statement is what runs (kept by its text for the next time the same SQL runs: a kept plan's
SQL is parsed once). A query past its timeout, or cancelled, is interrupted.

Engines of file depots are kept for the next query with exactly the same configuration
(directories, functions, limits: `engines.Engines`); one whose query was interrupted, ran out of
memory or met an engine error is closed instead. Engines with setup statements are not kept: an
ATTACH held open would keep the source's file locked, or its connections open, between queries.

What does not fit in the memory limit spills to a private folder of the engine's own (under
`Limits.spill`, else the system's temporary folder; never the kernel's working directory, as
DuckDB would), removed when the engine closes. A query that needs more memory than its limit is
ENOMEM, naming the cluster and the limit; one that finds the spill disk full is ENOSPC.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from syscalls.errors import SyscallError, disk_full

from .deadlines import DEADLINES
from .engines import Engines

_CANDIDATE = re.compile(r'"((?:[^"]|"")*)"')
KEPT_VIEWS = 32  # views an engine keeps for its owner's next queries
INTERRUPT_AGAIN = 0.05  # seconds between interrupts of a cancelled or timed-out query until it ends
KEPT_STATEMENTS = 256  # parsed queries kept by their text (DuckDB copies one each time it runs it)
_statements: OrderedDict[str, Any] = OrderedDict()
_statements_lock = threading.Lock()


@dataclass(frozen=True)
class Limits:
    memory: str | None = None  # e.g. "2GB"
    threads: int | None = None
    timeout: float | None = 300.0
    cluster: str | None = None  # whose limits these are (errors name it)
    spill: str | None = None  # the folder a query's spill folder is made in (None: the system's temporary one)


@dataclass(frozen=True)
class Setup:
    """What an engine is configured with: the key it is kept by."""
    directories: tuple[str, ...]
    statements: tuple[str, ...]
    functions: tuple[tuple[str, Callable[[Any], Any]], ...]
    memory: str | None
    threads: int | None
    spill: str | None


class Engine:
    """One locked-down DuckDB database; `con` is its own connection (queries take a cursor)."""

    def __init__(self, setup: Setup) -> None:
        import duckdb
        self.con = duckdb.connect(config={"autoload_known_extensions": False, "autoinstall_known_extensions": False})
        self._cursor: Any = None
        self._views: dict[str, str] = {}  # name -> table expression, least recently read first
        self.owner: str | None = None  # whose queries' views it holds
        self.spill = tempfile.mkdtemp(prefix="dataos-query-", dir=setup.spill)  # 0700
        try:
            self._lock_down(setup, duckdb)
        except BaseException:
            self.close()
            raise

    def _lock_down(self, setup: Setup, duckdb: Any) -> None:
        self.con.execute(f"SET allowed_directories = [{', '.join(_literal(d) for d in setup.directories)}]")
        for statement in setup.statements:
            try:
                self.con.execute(statement)
            except duckdb.Error as e:  # the source is down or refuses us; its text may carry a connection string
                raise SyscallError("EUNAVAIL", f"a depot's source could not be opened ({type(e).__name__})") from None
        for name, function in setup.functions:  # the database's, not a connection's: as long-lived as it
            self.con.create_function(name, function, ["VARCHAR"], "VARCHAR", type="arrow", side_effects=False)
        if setup.memory:
            self.con.execute(f"SET memory_limit = {_literal(setup.memory)}")
        self.con.execute(f"SET temp_directory = {_literal(self.spill)}")
        if setup.threads:
            self.con.execute(f"SET threads = {int(setup.threads)}")
        self.con.execute("SET enable_external_access = false")
        self.con.execute("SET lock_configuration = true")

    def connection(self, views: dict[str, str], owner: str | None = None) -> Any:
        """The engine's query connection for a query of `owner` reading `views` (name -> table
        expression) as temporary views: made where missing or changed; of the others, those of
        another owner's queries are dropped, and the owner's own beyond `KEPT_VIEWS`."""
        if self._cursor is None:
            self._cursor, self._views = self.con.cursor(), {}
        others = [name for name in self._views if name not in views]
        if owner != self.owner:
            self.owner, drop = owner, others
        else:
            drop = others[:max(0, len(others) + len(views) - KEPT_VIEWS)]
        for name in drop:
            del self._views[name]
            self._cursor.execute(f"DROP VIEW IF EXISTS temp.main.{ident(name)}")
        for name, source in views.items():
            if self._views.pop(name, None) != source:
                self._cursor.execute(f"CREATE OR REPLACE TEMPORARY VIEW {ident(name)} AS SELECT * FROM {source}")
            self._views[name] = source  # (the most recently read last)
        return self._cursor

    def close(self) -> None:
        if self._cursor is not None:
            self._cursor.close()
        self.con.close()
        shutil.rmtree(self.spill, ignore_errors=True)


class Query:
    """One running query: `result()` waits for it, `cancel()` interrupts it."""

    def __init__(self, sql: str, allowed_directories: list[str], limits: Limits, setup: tuple[str, ...] = (),
                 views: dict[str, str] | None = None, functions: dict[str, Callable[[Any], Any]] | None = None,
                 engines: Engines[Setup, Engine] | None = None, owner: str | None = None) -> None:
        """`setup` runs before the lockdown (the depots' own statements, never user SQL); `views`
        maps a view name to the table expression it reads; `functions` are VARCHAR -> VARCHAR
        Arrow functions the query may call. With `engines`, the engine comes from (and goes back
        to) that pool when `setup` is empty, one `owner` (the user) last ran on if there is one;
        otherwise it is the query's own."""
        import duckdb
        self._duckdb = duckdb
        self.sql = sql
        self.limits = limits
        self.cancelled = False
        self.timed_out = False
        self._broken = False
        self._deadline: list | None = None
        self._closed = False
        self._closing = threading.Lock()  # an interrupt never reaches the engine once it is given back
        self._key = Setup(tuple(sorted(set(allowed_directories))), tuple(dict.fromkeys(setup)),
                          tuple(sorted((functions or {}).items(), key=lambda item: item[0])),
                          limits.memory, limits.threads, limits.spill)
        self._engines = engines if not setup else None
        self._engine = (self._engines.take(self._key, lambda engine: engine.owner == owner) if self._engines
                        else Engine(self._key))
        try:
            self.con = self._engine.connection(views or {}, owner)
        except BaseException:
            self._broken = True
            self.close()
            raise

    def cancel(self) -> None:
        self.cancelled = True
        self._interrupt()

    def _expire(self) -> None:
        self.timed_out = True
        self._interrupt()

    def _interrupt(self) -> None:
        """Interrupt the query, and again every `INTERRUPT_AGAIN` seconds until it is closed: an
        interrupt that comes just before DuckDB starts executing is lost on the idle connection."""
        with self._closing:
            if self._closed:
                return  # its engine may be another query's by now
            try:
                self.con.interrupt()
            except self._duckdb.ConnectionException:
                return  # the engine is closed
        DEADLINES.add(INTERRUPT_AGAIN, self._interrupt)

    def run(self) -> Any:
        """Execute; returns the DuckDB result (fetch it with `fetchmany` or `batches`). The
        timeout runs from here until `close`, so fetching a slow result is bounded too."""
        if self.limits.timeout and self._deadline is None:
            self._deadline = DEADLINES.add(self.limits.timeout, self._expire)
        with self._errors():
            statement = self._one_select()
            if self.cancelled:  # before it ran (an interrupt then is lost on an idle connection)
                raise self._duckdb.InterruptException("cancelled")
            return self.con.execute(statement)

    def _one_select(self) -> Any:
        """`sql` as exactly one SELECT statement, as DuckDB's own parser reads it."""
        with _statements_lock:
            kept = _statements.get(self.sql)
            if kept is not None:
                _statements.move_to_end(self.sql)
                return kept
        try:
            statements = self.con.extract_statements(self.sql)
        except self._duckdb.Error:
            raise
        except Exception:  # e.g. text DuckDB cannot take at all
            raise SyscallError("EINVAL", "the engine cannot read the query") from None
        if len(statements) != 1 or statements[0].type != self._duckdb.StatementType.SELECT:
            raise SyscallError("EINVAL", f"the engine runs exactly one query, not {len(statements)} statements"
                               if len(statements) != 1 else "the engine runs queries only")
        with _statements_lock:
            _statements[self.sql] = statements[0]
            if len(_statements) > KEPT_STATEMENTS:
                _statements.popitem(last=False)
        return statements[0]

    def fetchmany(self, n: int) -> list[tuple]:
        with self._errors():
            return self.con.fetchmany(n) if n >= 0 else self.con.fetchall()

    def batches(self, rows: int = 100_000) -> Iterator[Any]:
        """The result as Arrow record batches: the first is the schema, then the batches."""
        with self._errors():
            reader = self.con.to_arrow_reader(rows)
        yield reader.schema
        while True:
            with self._errors():
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
            yield batch

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """DuckDB's errors as the user's; after any but the query's own mistakes (binding, types,
        a file it may not read) the engine is in doubt: it is closed, not kept."""
        d = self._duckdb
        try:
            yield
        except SyscallError:
            raise
        except d.Error as e:
            self._broken |= not isinstance(e, (d.ProgrammingError, d.DataError, d.NotSupportedError,
                                               d.PermissionException)) or "Contents of view were altered" in str(e)
            raise self._error(e) from None
        except BaseException:
            self._broken = True
            raise

    def _error(self, e: Exception) -> SyscallError:
        if isinstance(e, self._duckdb.InterruptException):
            if self.timed_out:
                return SyscallError("ETIMEDOUT", f"the query ran past its {self.limits.timeout:g} s timeout")
            return SyscallError("ECANCELED", "the query was cancelled")
        if isinstance(e, self._duckdb.OutOfMemoryException):
            if "max_temp_directory_size" in str(e):  # memory full, and the disk it spills to too
                return SyscallError("ENOSPC", f"the disk is full: the query cannot spill to {self._spilled_in}; "
                                    f"free space there and retry", path=self._spilled_in)
            limit = f"its memory limit of {self.limits.memory}" if self.limits.memory else "the memory it may use"
            where = f"cluster {self.limits.cluster!r}" if self.limits.cluster else "this engine"
            return SyscallError("ENOMEM", f"the query needs more than {limit} on {where}: read less (filter, "
                                f"aggregate, limit) or run it on a cluster with more memory",
                                cluster=self.limits.cluster, memory=self.limits.memory)
        if (full := disk_full(e, self._spilled_in)) is not None:
            return full
        refused = SyscallError("EINVAL", f"the engine refused the query: {type(e).__name__}: "
                               f"{str(e).splitlines()[0]}")
        refused.candidates = candidate_bindings(str(e))  # (not a detail: the Gateway shows what it may)
        return refused

    @property
    def _spilled_in(self) -> str:
        return os.path.dirname(self._engine.spill)

    def close(self) -> None:
        """End the query: the engine (its connection and views) kept for the next query, or closed."""
        if self._deadline is not None:
            DEADLINES.cancel(self._deadline)
        with self._closing:
            self._closed = True
        reuse = not (self._broken or self.cancelled or self.timed_out)
        if self._engines is not None:
            self._engines.give(self._key, self._engine, reuse)
        else:
            self._engine.close()


def candidate_bindings(message: str) -> tuple[str, ...]:
    """The names a DuckDB binder error offers for an unknown column (its "Candidate bindings"), if any."""
    for line in message.splitlines():
        if line.startswith("Candidate bindings:"):
            return tuple(_CANDIDATE.findall(line))
    return ()


def ident(name: str) -> str:
    """`name` as a quoted DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    """A string literal (not a bound parameter: binding one makes DuckDB look for pandas each time)."""
    return "'" + text.replace("'", "''") + "'"
