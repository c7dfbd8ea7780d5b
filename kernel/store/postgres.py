"""PostgreSQL: a service's state in a schema of its own (named after the service) in a shared
database, its migrations numbered in that schema's `schema_version` table.

The service's SQL comes in the portable form (`?`, `:name`) and is rewritten once per text to
psycopg's (`%s`, `%(name)s`). One connection is shared by the service's threads; a transaction
takes the service's advisory lock, so that replicas of the service write one at a time as the
threads of one process do (SQLite's BEGIN IMMEDIATE). A connection found cut is opened again
at once for a read or a BEGIN (nothing done yet), else at the next call; an unreachable server is
EUNAVAIL, a full disk ENOSPC.
"""
from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import sql as pgsql

from syscalls.errors import SyscallError

from .replicas import CHANNEL, MESSAGE, Listener, lock_key

_PARAM = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|%|\?|(?<![:\w]):([A-Za-z_]\w*)""")


@lru_cache(maxsize=2048)
def to_psycopg(statement: str) -> str:
    """`?` as %s, `:name` as %(name)s, % as %%; quoted text and identifiers, and `::` casts, as they are."""
    def one(m: re.Match) -> str:
        token = m.group(0)
        if token == "?":
            return "%s"
        if token == "%":
            return "%%"
        if m.group(1):
            return f"%({m.group(1)})s"
        return token
    return _PARAM.sub(one, statement)


class Row(tuple):
    """A row by position or by column name, and `dict(row)`: as sqlite3.Row."""

    def __new__(cls, values: Sequence, names: dict[str, int]) -> "Row":
        row = super().__new__(cls, values)
        row._names = names
        return row

    def __getitem__(self, key: Any) -> Any:
        return super().__getitem__(self._names[key] if isinstance(key, str) else key)

    def keys(self) -> list[str]:
        return list(self._names)


def _rows(cursor: Any) -> Any:
    names = {d.name: i for i, d in enumerate(cursor.description or ())}
    return lambda values: Row(values, names)


class _Transaction:
    """The connection inside a transaction, taking the portable SQL."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def execute(self, statement: str, params: Sequence | dict = ()) -> psycopg.Cursor:
        return self.conn.execute(to_psycopg(statement), params) if params else self.conn.execute(statement)

    def executemany(self, statement: str, rows: Sequence) -> psycopg.Cursor:
        cursor = self.conn.cursor()
        cursor.executemany(to_psycopg(statement), rows)
        return cursor


class PostgresStore:
    dialect = "postgresql"
    IntegrityError = psycopg.errors.IntegrityError
    TextError = (UnicodeEncodeError, psycopg.DataError)  # text it cannot store (lone surrogates, NUL)

    def __init__(self, url: str, service: str, migrations: Sequence[str], replica: str = "") -> None:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", service):
            raise ValueError(f"not a schema name: {service!r}")
        self.url, self.schema, self.replica = url, service, replica
        self.lock = threading.RLock()
        self._key = lock_key(service)
        self.conn: psycopg.Connection | None = None
        self._notify = False  # tell other replicas of each write (someone keeps this state in memory)
        self._heard: list[tuple[str, Callable]] = []  # (schema or message topic, callback)
        self._migrate(migrations)

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call `callback` whenever another replica commits a write here (and make ours heard).
        Writes also count in `version()`, which a replica can read to catch up at once."""
        if not self._notify:
            with self.transaction() as c:
                c.execute("CREATE TABLE IF NOT EXISTS dataos_changes (n BIGINT NOT NULL)")
                if c.execute("SELECT 1 FROM dataos_changes").fetchone() is None:
                    c.execute("INSERT INTO dataos_changes VALUES (0)")
        self._notify = True
        self._heard.append((self.schema, callback))
        Listener.of(self.url).add(self.schema, self.replica, callback)

    def on_message(self, topic: str, callback: Callable[[str, str], None]) -> None:
        """Call `callback(data, sender)` for each message on `topic` another replica sends."""
        self._heard.append((f"{MESSAGE}{topic}", callback))
        Listener.of(self.url).add(f"{MESSAGE}{topic}", self.replica, callback)

    def send(self, topic: str, data: str) -> None:
        """A message to the other replicas listening on `topic` (delivered at once: not kept)."""
        self.query("SELECT pg_notify(?, ?)", (CHANNEL, f"{self.replica} {MESSAGE}{topic} {data}"))

    def replicated(self) -> bool:
        """Does another kernel listen to this database now (a live replica, here or elsewhere)?"""
        if Listener.kernels(self.url) - {self.replica}:
            return True
        return self.query("SELECT count(*) > 1 FROM pg_stat_activity WHERE datname = current_database() "
                          "AND query = ?", (f"LISTEN {CHANNEL}",))[0][0]

    def version(self) -> int:
        """How many write transactions this schema has had (with `on_change`): changes since a
        version read earlier are other replicas' (or ours)."""
        return self.query("SELECT n FROM dataos_changes")[0][0]

    def _connection(self) -> psycopg.Connection:
        if self.conn is None or self.conn.closed or self.conn.broken:
            try:
                conn = psycopg.connect(self.url, autocommit=True, row_factory=_rows, connect_timeout=10)
            except psycopg.Error as e:
                raise SyscallError("EUNAVAIL", f"the {self.schema} database cannot be reached "
                                               f"({type(e).__name__})") from None
            conn.execute(pgsql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(pgsql.Identifier(self.schema)))
            conn.execute(pgsql.SQL("SET search_path TO {}").format(pgsql.Identifier(self.schema)))
            self.conn = conn
        return self.conn

    def _migrate(self, migrations: Sequence[str]) -> None:
        with self.transaction() as c:
            c.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = c.execute("SELECT version FROM schema_version").fetchone()
            if row is None:
                c.execute("INSERT INTO schema_version VALUES (0)")
            version = row[0] if row else 0
            for number, script in enumerate(migrations[version:], start=version + 1):
                for statement in filter(str.strip, script.split(";")):
                    c.conn.execute(statement)
                c.execute("UPDATE schema_version SET version=?", (number,))

    @contextmanager
    def transaction(self) -> Iterator[_Transaction]:
        """BEGIN … COMMIT under the service's advisory lock, rolled back on any exception. Begun
        once more on a new connection if the one it had was cut (nothing was done yet)."""
        with self.lock:
            conn, tx = self._again(self._begin)
            with self._errors():
                try:
                    yield _Transaction(conn)
                    if self._notify:  # delivered at the commit, only if it commits
                        conn.execute("UPDATE dataos_changes SET n = n + 1")
                        conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"{self.replica} {self.schema}"))
                except BaseException as e:
                    tx.__exit__(type(e), e, e.__traceback__)
                    raise
                tx.__exit__(None, None, None)

    def _begin(self) -> tuple[psycopg.Connection, Any]:
        conn = self._connection()
        tx = conn.transaction()
        tx.__enter__()
        try:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._key,))
        except BaseException as e:
            with suppress(Exception):
                tx.__exit__(type(e), e, e.__traceback__)
            raise
        return conn, tx

    def query(self, statement: str, params: Sequence | dict = ()) -> list[Row]:
        with self.lock:
            return self._again(lambda: _Transaction(self._connection()).execute(statement, params).fetchall())

    def _again(self, read: Callable[[], Any]) -> Any:
        """`read`, once more on a new connection if the one it used had been cut meanwhile (the
        server restarted, an administrator ended it): a read, or a BEGIN, is safe to repeat."""
        kept = self.conn is not None and not self.conn.closed and not self.conn.broken
        try:
            with self._errors():
                return read()
        except SyscallError as e:
            if e.code != "EUNAVAIL" or not kept:
                raise
        with self._errors():
            return read()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except psycopg.errors.DiskFull:
            raise SyscallError("ENOSPC", f"the database server's disk is full: cannot write the {self.schema} "
                                         "database") from None
        except psycopg.OperationalError as e:
            if self.conn is not None and not self.conn.broken:
                raise
            raise SyscallError("EUNAVAIL", f"the {self.schema} database cannot be reached "
                                           f"({type(e).__name__})") from None

    def close(self) -> None:
        for topic, callback in self._heard:
            Listener.remove(self.url, topic, self.replica, callback)
        with self.lock:
            if self.conn is not None:
                self.conn.close()
