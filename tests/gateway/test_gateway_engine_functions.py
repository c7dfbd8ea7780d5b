"""Every function the engine has — DuckDB's own and those of the depot extensions it loads — is
refused by the planner unless it is an ordinary function over values (or makes rows from its
arguments alone, like `range`): nothing that reads files,
runs SQL on a source (`postgres_execute`, `mysql_query` …), generates tables, or shows engine
state (`duckdb_settings()`, `current_setting`, `duckdb_secrets()` …) can be called."""
from __future__ import annotations

import importlib
import re
from pathlib import Path

import duckdb
import pytest

from kernel.gateway import GatewayError

EXTENSIONS = [("duckdb_extension_postgres_scanner", "postgres_scanner"),
              ("duckdb_extension_mysql_scanner", "mysql_scanner"),
              ("duckdb_extension_sqlite_scanner", "sqlite_scanner")]
NEVER = re.compile(r"duckdb_.*|pragma_.*|current_setting|getenv|.*_(execute|query|scan|attach|configure_pool|"
                   r"clear_cache)|read_.*|glob|sniff_csv|parquet_.*|.*secret.*|which_secret|query_table|query|"
                   r"postgres_.*|mysql_.*|sqlite_.*|icu_.*|current_query|version|checkpoint|.*_extension.*")


def _engine_functions() -> list[tuple[str, str]]:
    con = duckdb.connect(config={"autoload_known_extensions": False, "autoinstall_known_extensions": False})
    for package, name in EXTENSIONS:
        module = importlib.import_module(package)
        con.execute(f"LOAD '{Path(module.__file__).parent / 'extensions' / f'v{duckdb.__version__}' / name}"
                    f".duckdb_extension'")
    return con.execute("SELECT DISTINCT function_name, function_type FROM duckdb_functions() "
                       "WHERE NOT internal OR true ORDER BY 1").fetchall()


FUNCTIONS = _engine_functions()


def test_the_depot_extensions_functions_are_in_the_list():
    names = {name for name, _ in FUNCTIONS}
    assert {"postgres_execute", "postgres_query", "mysql_execute", "mysql_query", "duckdb_settings",
            "current_setting", "duckdb_databases", "duckdb_secrets"} <= names


def test_no_engine_function_that_touches_sources_or_shows_state_is_allowed(world):
    allowed = set()
    for name, kind in FUNCTIONS:
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            continue  # operators (+, ~~ …) are not called by name
        for sql in (f"SELECT {name}(1) FROM employees", f"SELECT * FROM {name}(1)"):
            try:
                world.plan(sql)
            except GatewayError:
                continue
            allowed.add((name, kind))
    generators = {"unnest", "generate_series", "range", "histogram"}  # rows from their arguments alone
    assert not [(n, k) for n, k in allowed if k in ("table", "table_macro", "pragma") and n not in generators]
    assert not [n for n, _ in allowed if NEVER.fullmatch(n)]
    assert len(allowed) > 150  # the ordinary ones remain


@pytest.mark.parametrize("sql", [
    "SELECT * FROM postgres_execute('depot_pg', 'COMMIT; DROP TABLE t')",
    "SELECT postgres_execute('depot_pg', 'DROP TABLE t')",
    "SELECT * FROM mysql_execute('depot_my', 'DROP TABLE t')",
    "SELECT * FROM postgres_query('depot_pg', 'SELECT 1')",
    "SELECT * FROM duckdb_databases()",
    "SELECT current_setting('allowed_directories')",
    "SELECT * FROM duckdb_secrets()",
    "SELECT * FROM duckdb_settings()",
    "SELECT getvariable('x')",
    "SELECT gw_keyed_hash('alice.smith@example.com')",
])
def test_source_and_state_functions_are_refused_by_name(world, sql):
    with pytest.raises(GatewayError) as e:
        world.plan(sql)
    assert e.value.code == "EACCES"
