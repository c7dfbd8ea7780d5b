"""The `duckdb` depot driver: a DuckDB database file, attached read-only.

    depot: {type: duckdb, duckdb: {path: /data/warehouse.duckdb}}

Collections are its schemas, datasets its tables and views."""
from __future__ import annotations

from pathlib import Path

from syscalls.errors import SyscallError

from . import Source
from .file import quote


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class DuckDBDepot:
    def __init__(self, name: str, spec: dict) -> None:
        self.name = name
        self.path = Path(spec["path"]).expanduser().resolve()
        self.alias = f"depot_{name.replace('-', '_')}"

    def _catalog(self, sql: str, params: list) -> list[tuple]:
        if not self.path.is_file():
            raise SyscallError("EUNAVAIL", f"depot {self.name!r}: {self.path} is not a file", depot=self.name)
        import duckdb
        with duckdb.connect(str(self.path), read_only=True) as con:
            return con.execute(sql, params).fetchall()

    def collections(self) -> list[str]:
        rows = self._catalog("SELECT DISTINCT schema_name FROM duckdb_tables() UNION "
                             "SELECT DISTINCT schema_name FROM duckdb_views() WHERE NOT internal", [])
        return sorted(r[0] for r in rows)

    def datasets(self, collection: str) -> list[str]:
        rows = self._catalog("SELECT table_name FROM duckdb_tables() WHERE schema_name = ? UNION "
                             "SELECT view_name FROM duckdb_views() WHERE schema_name = ? AND NOT internal",
                             [collection, collection])
        return sorted(r[0] for r in rows)

    def source(self, collection: str, dataset: str) -> Source:
        if dataset not in self.datasets(collection):
            raise SyscallError("ENOENT", f"no dataset dataos://{self.name}:{collection}/{dataset}")
        return Source(f"{ident(self.alias)}.{ident(collection)}.{ident(dataset)}", (str(self.path),),
                      (f"ATTACH {quote(str(self.path))} AS {ident(self.alias)} (READ_ONLY)",))

    def allowed_directories(self) -> list[str]:
        return [str(self.path.parent)]
