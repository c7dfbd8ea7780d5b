"""The embedded DuckDB engine: one locked-down connection per query.

Before user SQL runs: the depots' own statements (a read-only ATTACH, a credentials secret),
one view per dataset named by its address, the kernel's functions (the keyed hash), then file
access only below the depots' directories (`allowed_directories` with `enable_external_access =
false`), no extension installed or loaded on the fly, memory and thread limits, and
`lock_configuration` so the query cannot undo any of it. The query itself must be exactly one
SELECT statement as DuckDB's own parser reads it. A query past its timeout, or cancelled, is
interrupted.

What does not fit in the memory limit spills to a private folder of the query's own (under
`Limits.spill`, else the system's temporary folder; never the kernel's working directory, as
DuckDB would), removed when it ends. A query that needs more memory than its limit is ENOMEM,
naming the cluster and the limit; one that finds the spill disk full is ENOSPC.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from syscalls.errors import SyscallError, disk_full

_CANDIDATE = re.compile(r'"((?:[^"]|"")*)"')


@dataclass(frozen=True)
class Limits:
    memory: str | None = None  # e.g. "2GB"
    threads: int | None = None
    timeout: float | None = 300.0
    cluster: str | None = None  # whose limits these are (errors name it)
    spill: str | None = None  # the folder a query's spill folder is made in (None: the system's temporary one)


class Query:
    """One running query: `result()` waits for it, `cancel()` interrupts it."""

    def __init__(self, sql: str, allowed_directories: list[str], limits: Limits, setup: tuple[str, ...] = (),
                 views: dict[str, str] | None = None, functions: dict[str, Callable[[Any], Any]] | None = None
                 ) -> None:
        """`setup` runs before the lockdown (the depots' own statements, never user SQL); `views`
        maps a view name to the table expression it reads; `functions` are VARCHAR -> VARCHAR
        Arrow functions the query may call."""
        import duckdb
        self._duckdb = duckdb
        self.con = duckdb.connect(config={"autoload_known_extensions": False, "autoinstall_known_extensions": False})
        self.con.execute("SET allowed_directories = $dirs", {"dirs": list(allowed_directories)})
        for statement in dict.fromkeys(setup):
            try:
                self.con.execute(statement)
            except duckdb.Error as e:  # the source is down or refuses us; its text may carry a connection string
                self.con.close()
                raise SyscallError("EUNAVAIL", f"a depot's source could not be opened ({type(e).__name__})") from None
        for name, source in (views or {}).items():
            self.con.execute(f"CREATE TEMPORARY VIEW {_ident(name)} AS SELECT * FROM {source}")
        for name, function in (functions or {}).items():
            self.con.create_function(name, function, ["VARCHAR"], "VARCHAR", type="arrow", side_effects=False)
        if limits.memory:
            self.con.execute("SET memory_limit = $m", {"m": limits.memory})
        self._spill = tempfile.mkdtemp(prefix="dataos-query-", dir=limits.spill)  # 0700
        self.con.execute("SET temp_directory = $t", {"t": self._spill})
        if limits.threads:
            self.con.execute(f"SET threads = {int(limits.threads)}")
        self.con.execute("SET enable_external_access = false")
        self.con.execute("SET lock_configuration = true")
        self.sql = sql
        self.limits = limits
        self.cancelled = False
        self.timed_out = False
        self._timer: threading.Timer | None = None

    def cancel(self) -> None:
        self.cancelled = True
        self.con.interrupt()

    def _expire(self) -> None:
        self.timed_out = True
        self.con.interrupt()

    def run(self) -> Any:
        """Execute; returns the DuckDB result (fetch it with `fetchmany` or `batches`). The
        timeout runs from here until `close`, so fetching a slow result is bounded too."""
        if self.limits.timeout and self._timer is None:
            self._timer = threading.Timer(self.limits.timeout, self._expire)
            self._timer.daemon = True
            self._timer.start()
        with self._errors():
            return self.con.execute(self._one_select())

    def _one_select(self) -> Any:
        """`sql` as exactly one SELECT statement, as DuckDB's own parser reads it."""
        try:
            statements = self.con.extract_statements(self.sql)
        except self._duckdb.Error:
            raise
        except Exception:  # e.g. text DuckDB cannot take at all
            raise SyscallError("EINVAL", "the engine cannot read the query") from None
        if len(statements) != 1 or statements[0].type != self._duckdb.StatementType.SELECT:
            raise SyscallError("EINVAL", f"the engine runs exactly one query, not {len(statements)} statements"
                               if len(statements) != 1 else "the engine runs queries only")
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
        try:
            yield
        except self._duckdb.InterruptException:
            if self.timed_out:
                raise SyscallError("ETIMEDOUT", f"the query ran past its {self.limits.timeout:g} s timeout") from None
            raise SyscallError("ECANCELED", "the query was cancelled") from None
        except self._duckdb.OutOfMemoryException as e:
            if "max_temp_directory_size" in str(e):  # memory full, and the disk it spills to too
                raise SyscallError("ENOSPC", f"the disk is full: the query cannot spill to {self._spilled_in}; free "
                                   f"space there and retry", path=self._spilled_in) from None
            limit = f"its memory limit of {self.limits.memory}" if self.limits.memory else "the memory it may use"
            where = f"cluster {self.limits.cluster!r}" if self.limits.cluster else "this engine"
            raise SyscallError("ENOMEM", f"the query needs more than {limit} on {where}: read less (filter, "
                               f"aggregate, limit) or run it on a cluster with more memory",
                               cluster=self.limits.cluster, memory=self.limits.memory) from None
        except self._duckdb.Error as e:
            if (full := disk_full(e, self._spilled_in)) is not None:
                raise full from None
            refused = SyscallError("EINVAL", f"the engine refused the query: {type(e).__name__}: "
                                   f"{str(e).splitlines()[0]}")
            refused.candidates = candidate_bindings(str(e))  # (not a detail: the Gateway shows what it may)
            raise refused from None

    @property
    def _spilled_in(self) -> str:
        return os.path.dirname(self._spill)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.con.close()
        shutil.rmtree(self._spill, ignore_errors=True)


def candidate_bindings(message: str) -> tuple[str, ...]:
    """The names a DuckDB binder error offers for an unknown column (its "Candidate bindings"), if any."""
    for line in message.splitlines():
        if line.startswith("Candidate bindings:"):
            return tuple(_CANDIDATE.findall(line))
    return ()


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
