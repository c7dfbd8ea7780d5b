"""The depots of this kernel, built from their resources, and what their datasets look like.

Schemas are read with the engine itself (`DESCRIBE` of the dataset's source, on a locked-down
connection) and cached until the file behind the dataset changes."""
from __future__ import annotations

import os
import threading
from typing import Any

from syscalls.errors import SyscallError

from . import Source
from .attached import DuckDBDepot, MySQLDepot, PostgresDepot, SQLiteDepot
from .file import FileDepot

DRIVERS = {"file": FileDepot, "duckdb": DuckDBDepot, "sqlite": SQLiteDepot, "postgresql": PostgresDepot,
           "mysql": MySQLDepot}


class Depots:
    def __init__(self) -> None:
        self._depots: dict[str, Any] = {}
        self._schemas: dict[tuple[str, str], tuple[float, dict[str, str]]] = {}
        self._lock = threading.Lock()

    def load(self, resource: dict[str, Any], credentials: dict[str, str] | None = None) -> None:
        """A depot resource was applied: (re)build its driver (with the values of its secrets)."""
        driver = build(resource, credentials)
        with self._lock:
            if driver is None:
                self._depots.pop(resource["name"], None)
            else:
                self._depots[resource["name"]] = driver
            self._schemas = {k: v for k, v in self._schemas.items() if not k[0].startswith(resource["name"] + ".")}

    def unload(self, name: str) -> None:
        with self._lock:
            self._depots.pop(name, None)

    def names(self) -> list[str]:
        return sorted(self._depots)

    def get(self, name: str) -> Any:
        try:
            return self._depots[name]
        except KeyError:
            raise SyscallError("ENOENT", f"no depot {name!r} (see `dataos get depot`)") from None

    def allowed_directories(self) -> list[str]:
        return [d for depot in self._depots.values() for d in depot.allowed_directories()]

    def source(self, depot: str, collection: str, dataset: str) -> Source:
        return self.get(depot).source(collection, dataset)

    def columns(self, depot: str, collection: str, dataset: str) -> dict[str, str]:
        """Column name -> DuckDB type of a dataset (cached until its files change)."""
        source = self.source(depot, collection, dataset)
        key = (f"{depot}.{collection}.{dataset}", source.sql)
        stamp = max((_mtime(p) for p in source.paths), default=0.0)
        cached = self._schemas.get(key)
        if cached and cached[0] == stamp:
            return cached[1]
        from ..minerva.duckdb_engine import Limits, Query
        q = Query(f"DESCRIBE SELECT * FROM {source.sql}", self.get(depot).allowed_directories(), Limits(timeout=60),
                  setup=source.setup)
        try:
            columns = {row[0]: row[1] for row in q.run().fetchall()}
        finally:
            q.close()
        self._schemas[key] = (stamp, columns)
        return columns


def build(resource: dict[str, Any], credentials: dict[str, str] | None = None) -> Any:
    """A depot's driver (None if its type has no driver here), or EINVAL naming its connection
    section when the driver refuses it. Apply calls it before anything is stored."""
    section = resource["depot"]
    driver = DRIVERS.get(section["type"])
    if driver is None:
        return None
    connection = section[section["type"]]
    try:
        if issubclass(driver, FileDepot):
            return driver(resource["name"], connection)
        return driver(resource["name"], connection, credentials)
    except SyscallError:
        raise
    except Exception as e:  # a plugin's driver: its complaint, as the user's error
        field = f"depot.{section['type']}"
        raise SyscallError("EINVAL", f"{field}: the {section['type']} driver refused it "
                           f"({type(e).__name__}: {e})", field=field) from None


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0
