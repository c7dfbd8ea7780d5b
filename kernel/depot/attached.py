"""Depots the engine attaches read-only: a DuckDB database file, or SQLite through DuckDB's own
scanner (loaded from its PyPI package, never downloaded at run time).

    depot: {type: duckdb, duckdb: {path: /data/warehouse.duckdb}}
    depot: {type: sqlite, sqlite: {path: /data/app.sqlite}}

    depot: {type: postgresql, postgresql: {host: db, port: 5432, database: hr},
            secrets: [{name: hr-db}]}     # an instance-secret with username and password

Collections are schemas (SQLite has one, `main`), datasets are tables and views. Passwords
never appear in a depot: they come from the instance-secret it names."""
from __future__ import annotations

from pathlib import Path

from syscalls.errors import SyscallError

from ..poros.schema import Int, Map, Str
from . import Source
from .file import quote


def _server(**more: Str) -> Map:
    """The connection section of a database server (its credentials come from a secret)."""
    return Map({"host": Str(), "port": Int(min=1, max=65535), "database": Str(), **more}, required=("database",))


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class AttachedDepot:
    kind = "duckdb"
    extension: tuple[str, str] | None = None  # (PyPI package, extension name) to load first
    connection = Map({"path": Str()}, required=("path",))  # the connection section's schema

    def __init__(self, name: str, spec: dict, credentials: dict[str, str] | None = None) -> None:
        self.name = name
        self.spec = spec
        self.credentials = credentials or {}
        self.path = Path(spec["path"]).expanduser().resolve() if "path" in spec else None
        self.alias = f"depot_{name.replace('-', '_')}"

    def target(self) -> str:
        """What ATTACH opens."""
        return str(self.path)

    def setup(self) -> tuple[str, ...]:
        """Statements that make the database visible to a (not yet locked) connection. A server's
        address and credentials go into a temporary DuckDB secret, never into the ATTACH text:
        engine metadata (`duckdb_databases()`, settings) shows the secret's name, not its values."""
        load = (f"LOAD {quote(self._extension_file())}",) if self.extension else ()
        options = f"TYPE {self.kind}, READ_ONLY" if self.kind != "duckdb" else "READ_ONLY"
        fields = self.secret()
        if fields is None:
            return (*load, f"ATTACH {quote(self.target())} AS {ident(self.alias)} ({options})")
        name = ident(self.alias + "_creds")
        values = ", ".join(f"{k} {v if isinstance(v, int) else quote(str(v))}" for k, v in fields.items()
                           if v not in (None, ""))
        return (*load, f"CREATE OR REPLACE TEMPORARY SECRET {name} (TYPE {self.kind}, {values})",
                f"ATTACH '' AS {ident(self.alias)} ({options}, SECRET {name})")

    def secret(self) -> dict[str, str | int | None] | None:
        """The fields of the secret a server database is attached with (None: a file, by path)."""
        return None

    def _extension_file(self) -> str:
        package, name = self.extension  # type: ignore[misc]
        import importlib

        import duckdb
        try:
            module = importlib.import_module(package.replace("-", "_"))
        except ImportError:
            raise SyscallError("EUNAVAIL", f"a {self.kind} depot needs DuckDB's {name} extension: "
                               f"pip install {package}=={duckdb.__version__}") from None
        file = Path(module.__file__).parent / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
        if not file.is_file():
            raise SyscallError("EUNAVAIL", f"{package} has no {name} extension for DuckDB {duckdb.__version__}")
        return str(file)

    def _catalog(self, sql: str, params: list) -> list[tuple]:
        if self.path is not None and not self.path.is_file():
            raise SyscallError("EUNAVAIL", f"depot {self.name!r}: {self.path} is not a file", depot=self.name)
        import duckdb
        with duckdb.connect(config={"autoload_known_extensions": False,
                                    "autoinstall_known_extensions": False}) as con:
            for statement in self.setup():
                try:
                    con.execute(statement)
                except duckdb.Error:  # its text may carry the connection string: say only where
                    raise SyscallError("EUNAVAIL", f"depot {self.name!r}: cannot open {self.describe()}",
                                       depot=self.name) from None
            return con.execute(sql, [self.alias, *params]).fetchall()

    def describe(self) -> str:
        return str(self.path)

    hidden_schemas: frozenset[str] = frozenset()

    def collections(self) -> list[str]:
        rows = self._catalog("SELECT schema_name FROM duckdb_tables() WHERE database_name = ? UNION "
                             "SELECT schema_name FROM duckdb_views() WHERE database_name = $1 AND NOT internal", [])
        return sorted(r[0] for r in rows if r[0] not in self.hidden_schemas)

    def datasets(self, collection: str) -> list[str]:
        if collection in self.hidden_schemas:
            return []
        rows = self._catalog("SELECT table_name FROM duckdb_tables() WHERE database_name = $1 AND schema_name = $2 "
                             "UNION SELECT view_name FROM duckdb_views() WHERE database_name = $1 "
                             "AND schema_name = $2 AND NOT internal", [collection])
        return sorted(r[0] for r in rows)

    def source(self, collection: str, dataset: str) -> Source:
        if dataset not in self.datasets(collection):
            raise SyscallError("ENOENT", f"no dataset dataos://{self.name}:{collection}/{dataset}")
        paths = (str(self.path),) if self.path is not None else ()
        return Source(f"{ident(self.alias)}.{ident(collection)}.{ident(dataset)}", paths, self.setup())

    def allowed_directories(self) -> list[str]:
        return [str(self.path.parent)] if self.path is not None else []


class DuckDBDepot(AttachedDepot):
    kind = "duckdb"


class SQLiteDepot(AttachedDepot):
    kind = "sqlite"
    extension = ("duckdb-extension-sqlite-scanner", "sqlite_scanner")


class PostgresDepot(AttachedDepot):
    """Collections are the database's schemas (its system schemas hidden)."""
    kind = "postgres"
    extension = ("duckdb-extension-postgres-scanner", "postgres_scanner")
    connection = _server(sslmode=Str(enum=("disable", "allow", "prefer", "require", "verify-ca",
                                                 "verify-full")))
    hidden_schemas = frozenset({"information_schema", "pg_catalog", "pg_toast"})

    def secret(self) -> dict[str, str | int | None]:
        spec = self.spec
        return {"HOST": spec.get("host", "127.0.0.1"), "PORT": int(spec.get("port", 5432)),
                "DATABASE": spec["database"], "USER": self.credentials.get("username"),
                "PASSWORD": self.credentials.get("password"), "SSLMODE": spec.get("sslmode")}

    def describe(self) -> str:
        spec = self.spec
        return f"postgresql://{spec.get('host', '127.0.0.1')}:{spec.get('port', 5432)}/{spec['database']}"


class MySQLDepot(AttachedDepot):
    """Collections are the server's databases (its system schemas hidden)."""
    kind = "mysql"
    extension = ("duckdb-extension-mysql-scanner", "mysql_scanner")
    connection = _server()
    hidden_schemas = frozenset({"information_schema", "mysql", "performance_schema", "sys"})

    def secret(self) -> dict[str, str | int | None]:
        spec = self.spec
        return {"HOST": spec.get("host", "127.0.0.1"), "PORT": int(spec.get("port", 3306)),
                "DATABASE": spec["database"], "USER": self.credentials.get("username"),
                "PASSWORD": self.credentials.get("password")}

    def describe(self) -> str:
        spec = self.spec
        return f"mysql://{spec.get('host', '127.0.0.1')}:{spec.get('port', 3306)}/{spec['database']}"

