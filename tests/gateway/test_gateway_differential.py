"""Differential test: on random small tables, the Gateway's answer to a few query shapes equals a
hand-written masked query over the raw table (raw SQL for the filter, Python for the masks)."""
from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kernel.gateway import Dataset, parse_data_policy

COLUMNS = {"id": "INTEGER", "email": "VARCHAR", "region": "VARCHAR", "age": "INTEGER", "phone": "VARCHAR"}
BUCKETS = [0, 18, 40, 65]
POLICIES = [
    parse_data_policy("eu", {"type": "filter", "priority": 5, "selector": {"user": {"tags": ["roles:id:user"]}},
                             "filters": [{"column": "region", "operator": "in", "value": ["EU", "UK"]}]}),
    parse_data_policy("ages", {"type": "mask", "priority": 5, "selector": {
        "user": {"tags": ["roles:id:user"]}, "column": {"names": ["age"]}},
        "mask": {"operator": "bucket_number", "bucket_number": {"buckets": BUCKETS}}}),
]
DATASET = Dataset("lab", "diff", "people", COLUMNS, {"email": frozenset({"PII.Email"}), "phone": frozenset({"PII.PhoneNumber"})})

rows_strategy = st.lists(st.tuples(
    st.sampled_from(["a@x.io", "b@x.io", "c@y.io", "O'Neil@z.io", "", None]),
    st.sampled_from(["EU", "UK", "US", None]),
    st.one_of(st.none(), st.integers(-5, 99)),
    st.one_of(st.none(), st.sampled_from(["+44 1", "+1 2", "''"])),
), max_size=8)


@pytest.fixture(scope="module")
def lab(world):
    world.con.execute("CREATE OR REPLACE TABLE diff_people (id INTEGER, email VARCHAR, region VARCHAR, age INTEGER, "
                      "phone VARCHAR)")
    world.expose(DATASET, '"memory"."main"."diff_people"')
    return world


def _bucket(age: int | None) -> int | None:
    if age is None:
        return None
    return max((b for b in BUCKETS if age >= b), default=None)


def _visible(lab, rows: list[tuple]) -> list[tuple]:
    """The hand-written governed view: raw rows the filter keeps, masked in Python."""
    lab.con.execute("DELETE FROM diff_people")
    if rows:
        lab.con.executemany("INSERT INTO diff_people VALUES (?, ?, ?, ?, ?)", [(i, *r) for i, r in enumerate(rows)])
    raw = lab.con.execute("SELECT * FROM diff_people WHERE region IN ('EU', 'UK') ORDER BY id").fetchall()
    return [(i, None if e is None else lab.hmac_hex(e), region, _bucket(age), None if p is None else "#####")
            for i, e, region, age, p in raw]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=rows_strategy, threshold=st.integers(-5, 99))
def test_gateway_equals_the_hand_masked_query(lab, rows, threshold):
    view = _visible(lab, rows)

    def run(sql: str) -> list[tuple]:
        return lab.run(sql, resolve=lambda *_: DATASET, policies=POLICIES)

    assert run("SELECT * FROM people ORDER BY id") == view
    assert Counter(run("SELECT email, count(*) FROM people GROUP BY email")) == \
        Counter(Counter(v[1] for v in view).items())
    assert run(f"SELECT id FROM people WHERE age >= {threshold} ORDER BY id") == \
        [(v[0],) for v in view if v[3] is not None and v[3] >= threshold]
    assert sorted(run("SELECT a.id, b.id FROM people a JOIN people b ON a.email = b.email")) == \
        sorted((a[0], b[0]) for a in view for b in view if a[1] is not None and a[1] == b[1])
    assert run("SELECT max(phone), count(phone), count(*) FROM people") == \
        [(max((v[4] for v in view if v[4]), default=None), sum(v[4] is not None for v in view), len(view))]


# --- what the engine runs is what was authorized ---------------------------------------------------

COLUMNS_OF = {"employees": ["id", "name", "email", "age", "region", "dob", "salary"],
              "departments": ["id", "name", "manager_email"], "orders": ["id", "employee_id", "amount", "card"]}
TABLES = {"employees": "employees", "departments": "people.departments", "orders": "shop.sales.orders"}
EXPRESSIONS = ["{c}", "upper(CAST({c} AS VARCHAR))", "length(CAST({c} AS VARCHAR))", "coalesce(CAST({c} AS VARCHAR), 'x')",
               "CASE WHEN {c} IS NULL THEN 0 ELSE 1 END", "CAST({c} AS VARCHAR) || '-'", "md5(CAST({c} AS VARCHAR))"]
PREDICATES = ["{c} IS NOT NULL", "CAST({c} AS VARCHAR) LIKE 'a%'", "CAST({c} AS VARCHAR) = 'EU'",
              "length(CAST({c} AS VARCHAR)) > 3", "CAST({c} AS VARCHAR) IN ('a', 'b')"]


@st.composite
def queries(draw) -> tuple[str, str]:
    """A random governed query over one or two datasets, in a random input dialect."""
    first = draw(st.sampled_from(sorted(TABLES)))
    tables = [first] + ([draw(st.sampled_from(sorted(TABLES)))] if draw(st.booleans()) else [])
    aliases = [f"t{i}" for i in range(len(tables))]

    def column() -> str:
        i = draw(st.integers(0, len(tables) - 1))
        return f"{aliases[i]}.{draw(st.sampled_from(COLUMNS_OF[tables[i]]))}"

    outputs = [draw(st.sampled_from(EXPRESSIONS)).format(c=column()) for _ in range(draw(st.integers(1, 3)))]
    sql = f"SELECT {', '.join(outputs)} FROM {TABLES[tables[0]]} AS t0"
    if len(tables) == 2:
        sql += f" JOIN {TABLES[tables[1]]} AS t1 ON CAST({column()} AS VARCHAR) = CAST({column()} AS VARCHAR)"
    if draw(st.booleans()):
        sql += " WHERE " + draw(st.sampled_from(PREDICATES)).format(c=column())
    if draw(st.booleans()):
        sql = f"WITH q AS ({sql}) SELECT * FROM q"
    return sql, draw(st.sampled_from(["duckdb", "postgres", "trino", "snowflake", "bigquery", "spark"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=queries())
def test_the_sql_the_engine_runs_reads_back_as_the_authorized_tree(world, monkeypatch, query):
    """Independently of the planner's own proof: the statement DuckDB was given (its own parser
    splits it) re-parses to the tree the planner authorized, and DuckDB reads one statement."""
    import importlib

    import sqlglot

    proof = importlib.import_module("kernel.gateway.proof")
    authorized = []
    real = proof.prove
    monkeypatch.setattr(proof, "prove", lambda sql, tree, spliced=None: (authorized.append((tree, spliced)),
                                                                        real(sql, tree, spliced))[1])
    sql, dialect = query
    p = world.plan(sql, dialect=dialect)
    monkeypatch.undo()
    statements = world.con.extract_statements(p.sql)
    assert len(statements) == 1
    tree, spliced = authorized[-1]
    assert proof.same(sqlglot.parse_one(statements[0].query, read="duckdb"), tree, spliced)
    world.con.execute(statements[0]).fetchall()
