"""Each kernel service's state: a database of its own with its schema's migrations.

On a laptop, SQLite: a file per service in the state directory (WAL mode). For a team's kernel,
PostgreSQL: one database, a schema per service (`Place.url`). Services write their SQL in what
both speak: `?` and `:name` parameters, `ON CONFLICT`, `RETURNING`, identifiers that are keywords
quoted ("user"). Their migrations are SQLite's, rewritten for PostgreSQL (`ddl.for_postgresql`);
a migration that cannot be one text (a full-text index) is a mapping {dialect: script}.

Both backends share one connection among the service's threads and serialize transactions (on
PostgreSQL with an advisory lock per service, so replicas of a service take turns as threads do).
"""
from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol, Sequence

from syscalls.errors import SyscallError

from ..clock import iso

Migration = str | Mapping[str, str]  # SQLite's DDL (rewritten for PostgreSQL), or a script per dialect


class Store(Protocol):
    """What a service sees of its database (either backend)."""
    dialect: str
    IntegrityError: type[Exception]
    TextError: tuple[type[Exception], ...]

    def query(self, sql: str, params: Sequence | dict = ()) -> list[Any]: ...

    def transaction(self) -> Any: ...  # a context manager giving an object with execute/executemany

    def on_change(self, callback: Callable[[], None]) -> None: ...  # another replica wrote here

    def replicated(self) -> bool: ...  # another kernel listens to this database now

    def version(self) -> int: ...  # write transactions so far (with on_change): to catch up at once

    def on_message(self, topic: str, callback: Callable[[str, str], None]) -> None: ...  # (data, sender)

    def send(self, topic: str, data: str) -> None: ...  # to the other replicas, not kept

    def close(self) -> None: ...


@dataclass(frozen=True)
class Place:
    """Where a kernel keeps its state: `directory` for local files (journals, archives, keys, and
    the SQLite databases), `url` (``postgresql://…``) for the services' databases when set."""
    directory: Path
    url: str | None = None

    def shown(self) -> str:
        """Where the services' databases are, without a password: "sqlite" or the URL."""
        if not self.url:
            return "sqlite"
        from urllib.parse import urlsplit, urlunsplit
        parts = urlsplit(self.url)
        if parts.password is None:
            return self.url
        host = parts.netloc.rpartition("@")[2]
        return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))

    @functools.cached_property
    def replica(self) -> str:
        """This kernel among those sharing a database: an id made once, kept in `directory`."""
        path = self.directory / "replica.id"
        try:
            return path.read_text().strip()
        except FileNotFoundError:
            made = uuid.uuid4().hex[:12]
            path.write_text(made + "\n")
            return made

    def database(self, service: str, migrations: Sequence[Migration]) -> Store:
        """`service`'s database, its schema brought up to date by `migrations`."""
        if self.url:
            try:
                from .postgres import PostgresStore
            except ImportError:
                raise SyscallError("EINVAL", "a postgresql:// database needs psycopg: "
                                             "pip install 'dataos-shell[postgresql]'", field="database") from None
            from .ddl import for_postgresql
            return PostgresStore(self.url, service, [m["postgresql"] if isinstance(m, Mapping) else for_postgresql(m)
                                                     for m in migrations], self.replica)
        from .sqlite import SQLiteStore
        return SQLiteStore(self.directory / f"{service}.db",
                           [m["sqlite"] if isinstance(m, Mapping) else m for m in migrations])


    def lease(self, name: str) -> Any:
        """The leader lease `name`: `held()` is true on one replica at a time (always, on SQLite)."""
        if self.url:
            from .replicas import Lease
            return Lease(self.url, name, self.replica)
        from .replicas import Always
        return Always()


def now() -> str:
    """The current UTC time, ISO 8601 with milliseconds and a Z."""
    return iso(datetime.now(timezone.utc))
