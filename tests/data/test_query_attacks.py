"""Attacks on the Gateway's trust boundary through the real kernel, as an analyst would try them.

Each class was a leak before the Gateway proved what it sends to the engine: text that sqlglot
writes back verbatim (a dialect's date-part string, a collation) became a second statement that
read raw rows; the keyed-hash pads were prepared-statement parameters a query could select; a
PostgreSQL depot's password sat in `duckdb_databases()`; and `postgres_execute` wrote to the source.
"""
from __future__ import annotations

import uuid
from pathlib import Path

import duckdb
import pytest
from sqlglot import exp

from lakekit import answers, as_user, emails, governed_lake, psql
from syscalls.errors import SyscallError

EMAILS = emails(50)


@pytest.fixture
def k(tmp_path):
    with governed_lake(tmp_path, 50) as c:
        yield c


def leaked(answer) -> list[str]:
    text = str(answer)
    return [e for e in EMAILS if e in text]


def _steal(k) -> str:
    """A second statement reading the raw file (spelled to survive translators that upper-case what
    they echo) and the keyed-hash pads, were they parameters of the statement."""
    return (f"SELECT email, $gw_hmac_ipad, $gw_hmac_opad FROM read_parquet(lower("
            f"''{str(k.lake).upper()}/HR/EMPLOYEES.PARQUET''))")


def _key_material(k) -> list[str]:
    key = (Path(k.kernel.info()["state_dir"]) / "gateway.key").read_bytes()
    block = key.ljust(64, b"\0")
    return [key.hex(), bytes(b ^ 0x36 for b in block).hex(), bytes(b ^ 0x5C for b in block).hex()]


# Text sqlglot echoes into its DuckDB output; each tries to end the statement and read raw rows.
# (The query also reads the dataset, so the engine may open its directory.)
ECHOES = [
    ("snowflake", "SELECT DATEADD('day ; {steal} ; --', 1, DATE '2020-01-01') FROM lake.hr.employees"),
    ("snowflake", "SELECT DATEDIFF('day ; {steal} ; --', DATE '2020-01-01', DATE '2020-01-02') "
                  "FROM lake.hr.employees"),
    ("snowflake", "SELECT DATE_TRUNC('day ; {steal} ; --', DATE '2020-01-01') FROM lake.hr.employees"),
    ("duckdb", "SELECT 'a' COLLATE 'nocase ; {steal} ; /*' FROM lake.hr.employees"),
    ("duckdb", "SELECT email COLLATE 'nocase ; {steal} ; --' FROM lake.hr.employees"),
    ("duckdb", "SELECT CAST(1 AS \"INT); {steal}; --\") FROM lake.hr.employees"),
    ("bigquery", "SELECT DATE_TRUNC(DATE '2020-01-01', `WEEK); {steal}; --`) FROM lake.hr.employees"),
    ("tsql", "SELECT DATEADD([day ; {steal} ; --], 1, CAST('2020-01-01' AS DATE)) "
             "FROM lake.hr.employees"),
]


@pytest.mark.parametrize("dialect, sql", ECHOES)
def test_text_the_translator_echoes_never_reaches_the_engine(k, dialect, sql):
    ana = as_user(k, "ana")
    try:
        answer = ana.query.execute(sql=sql.format(steal=_steal(k)), dialect=dialect, limit=-1)
    except SyscallError as e:
        assert e.code in ("EINVAL", "EACCES") and not leaked(e.message)
        return
    assert not leaked(answer) and not any(secret in str(answer) for secret in _key_material(k))


def test_the_engine_runs_exactly_one_statement(k, monkeypatch):
    """Even SQL that reached the engine with a second statement in it is refused there."""
    from kernel.minerva import duckdb_engine
    original = duckdb_engine.Query.__init__

    def smuggle(self, sql, *args, **kwargs):
        original(self, sql + "; SELECT 1", *args, **kwargs)

    monkeypatch.setattr(duckdb_engine.Query, "__init__", smuggle)
    with pytest.raises(SyscallError) as e:
        k.query.execute(sql="SELECT 1")
    assert e.value.code in ("EINVAL", "EIO")


def _engine_state(monkeypatch) -> list:
    """Patch the engine so each query, once set up and locked, dumps what an injected query could read."""
    from kernel.minerva import duckdb_engine
    seen: list = []
    original = duckdb_engine.Query.run
    probes = ["SELECT * FROM duckdb_databases()", "SELECT name, value FROM duckdb_settings()",
              "SELECT * FROM duckdb_secrets()", "SELECT * FROM duckdb_variables()",
              "SELECT function_name, macro_definition FROM duckdb_functions() WHERE macro_definition IS NOT NULL",
              "SELECT sql FROM duckdb_views()", "SELECT current_query()"]

    def run(self):
        for probe in probes:
            try:
                seen.append(self.con.execute(probe).fetchall())
            except duckdb.Error as e:
                seen.append(str(e))
        seen.append(getattr(self, "params", None))
        return original(self)

    monkeypatch.setattr(duckdb_engine.Query, "run", run)
    return seen


def test_the_hash_key_is_not_a_value_any_query_could_select(k, monkeypatch):
    seen = _engine_state(monkeypatch)
    answer = as_user(k, "ana").query.execute(sql="SELECT email FROM lake.hr.employees LIMIT 1")
    assert answer["columns"][0]["masked"] == "hash"
    dump = repr(seen)
    assert not any(secret in dump or bytes.fromhex(secret).decode("latin-1") in dump for secret in _key_material(k))
    assert not any(isinstance(s, dict) and s for s in seen)  # no parameters at all


@pytest.fixture
def pg(k):
    if not answers(5432):
        pytest.skip("no PostgreSQL server answers on 127.0.0.1:5432")
    table = f"people_{uuid.uuid4().hex[:8]}"
    psql(f"CREATE TABLE {table} (id int, email text); INSERT INTO {table} VALUES (1, 'person1@example.com')")
    k.resource.apply(manifests=[
        {"name": "pg-creds", "version": "v1", "type": "instance-secret",
         "instance-secret": {"type": "key-value", "data": {"username": "postgres", "password": "pw-0f1e2d3c"}}},
        {"name": "pg", "version": "v1", "type": "depot", "depot": {
            "type": "postgresql", "postgresql": {"host": "127.0.0.1", "port": 5432, "database": "test"},
            "secrets": [{"name": "pg-creds"}]}}])
    yield table
    psql(f"DROP TABLE IF EXISTS {table}")


def test_a_database_depots_password_is_not_in_engine_metadata(k, pg, monkeypatch):
    seen = _engine_state(monkeypatch)
    answer = k.query.execute(sql=f"SELECT count(*) FROM pg.public.{pg}")
    assert answer["rows"] == [[1]]
    assert "pw-0f1e2d3c" not in repr(seen)


@pytest.mark.parametrize("dialect, sql", [
    ("duckdb", "SELECT * FROM postgres_execute('depot_pg', 'COMMIT; CREATE TABLE {victim}_x (a int)')"),
    ("duckdb", "SELECT * FROM postgres_query('depot_pg', 'SELECT 1')"),
    ("snowflake", "SELECT DATEADD('day ; SELECT * FROM postgres_execute(''depot_pg'', ''COMMIT; CREATE TABLE "
                  "{victim}_x (a int)'') ; --', 1, DATE '2020-01-01') FROM pg.public.{victim}"),
])
def test_database_depots_are_read_only_to_queries(k, pg, dialect, sql):
    """No query, however it is spelled, runs SQL of its own on a database depot's server."""
    with pytest.raises(SyscallError) as e:
        k.query.execute(sql=sql.format(victim=pg), dialect=dialect)  # even the operator
    assert e.value.code in ("EINVAL", "EACCES")
    assert psql(f"SELECT count(*) FROM pg_tables WHERE tablename = '{pg}_x'").strip() == "0"


def test_history_and_explain_show_addresses_not_paths(k):
    ana = as_user(k, "ana")
    answer = ana.query.execute(sql="SELECT count(*) FROM lake.hr.employees")
    shown = [answer["governance"]["sql"], ana.query.history()[0]["rewritten"]]
    for text in shown:
        assert "dataos://lake:hr/employees" in text
        assert str(k.lake) not in text and "read_parquet" not in text.lower()



def test_a_query_duckdb_would_split_into_two_statements_is_refused(k, monkeypatch):
    """A dynamic PIVOT is one statement to sqlglot and two to DuckDB (a CREATE TYPE, then the
    SELECT): the planner refuses it, and so would the engine's own parser."""
    sql = "SELECT * FROM (PIVOT lake.hr.employees ON region USING count(*))"
    with pytest.raises(SyscallError) as e:
        as_user(k, "ana").query.execute(sql=sql)
    assert e.value.code == "EINVAL" and "IN (…)" in e.value.message
    import importlib
    checks = importlib.import_module("kernel.gateway.checks")
    monkeypatch.setattr(checks.Walk, "visit", lambda self, node, ctes: self.tables.extend(
        (t, self.find([t.catalog, t.db, t.name])) for t in node.find_all(exp.Table) if t.name == "employees"))
    with pytest.raises(SyscallError) as e:
        k.query.execute(sql=sql)
    assert e.value.code == "EINVAL" and "one query" in e.value.message
