"""Injection through the translator: every sqlglot expression class and every dialect, fed text that
tries to become SQL structure on its way to DuckDB.

The oracle is DuckDB's own parser (`json_serialize_sql`), not sqlglot's: a governed query must read,
to the engine, as at most one statement (none: the engine refuses it as a syntax error) that calls
no `canary` function — whatever text the translator echoed. The generator walk also proves that it finds the echoes it guards against (the
known ones: a collation, a dialect's date part), so it cannot pass by finding nothing.
"""
from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from functools import lru_cache

import duckdb
import pytest
import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialects

from kernel.gateway import GatewayError

planner = importlib.import_module("kernel.gateway.plan")
CANARY = "canary"
PAYLOADS = [  # each tries to end the surrounding token and call canary()
    "DAY ; SELECT canary() ; --",
    "x) + canary() + (1",
    "x' || canary() || '",
    'x" || canary() || "',
    "x */ + canary() /*",
    "x\n; SELECT canary()",
]


def safe(sql: str) -> bool:
    statements, calls = engine_reading(sql)
    return statements <= 1 and not calls


@lru_cache(maxsize=None)
def engine_reading(sql: str) -> tuple[int, bool]:
    """(statements, calls canary) as DuckDB's own parser reads `sql` (0 statements: it does not parse)."""
    answer = json.loads(duckdb.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])
    if answer.get("error"):
        return 0, False
    return len(answer["statements"]), f'"function_name":"{CANARY}"' in json.dumps(answer).lower().replace(" ", "")


def _subclasses(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _carriers(payload: str) -> list[exp.Expression | str]:
    return [exp.Literal.string(payload), exp.Var(this=payload), exp.to_identifier(payload, quoted=True),
            exp.column(payload, quoted=True), payload]


def _instances() -> Iterator[tuple[str, exp.Expression]]:
    """Every expression class with one argument at a time carrying each payload (the others: a column)."""
    for cls in sorted(set(_subclasses(exp.Expression)), key=lambda c: c.__name__):
        if issubclass(cls, (exp.Query, exp.DDL, exp.DML, exp.Command)):
            continue  # statements: refused as a whole
        for arg in cls.arg_types:
            for payload in PAYLOADS[:3]:
                for carrier in _carriers(payload):
                    args = {name: exp.column("age") for name, required in cls.arg_types.items() if required}
                    args[arg] = carrier.copy() if isinstance(carrier, exp.Expression) else carrier
                    try:
                        node = cls(**args)
                    except Exception:
                        continue
                    yield f"{cls.__name__}.{arg}", node


def _plan_tree(world, tree: exp.Expression, monkeypatch) -> str | None:
    """The planner's SQL for a query whose parse is `tree` (None: refused)."""
    monkeypatch.setattr(planner, "_parse", lambda sql, dialect: tree)
    try:
        return world.plan("(synthetic)").sql
    except GatewayError:
        return None
    finally:
        monkeypatch.undo()


@pytest.mark.slow
def test_no_generator_echo_reaches_the_engine(world, monkeypatch):
    echoes, checked = set(), 0
    for where, node in _instances():
        query = exp.select(exp.alias_(node, "v")).from_("employees")
        try:
            raw = query.sql(dialect="duckdb", identify=True)
        except Exception:
            continue
        statements, calls = engine_reading(raw)
        if statements != 1 or calls:
            echoes.add(where.split(".")[0])
            checked += 1
            sql = _plan_tree(world, query, monkeypatch)
            assert sql is None or safe(sql), (where, sql)
    assert {"Collate", "DateAdd"} <= echoes, sorted(echoes)  # the walk finds the known echoes
    assert checked > 20


TEMPLATES = [  # {p}: the payload inside a string literal, {q}: inside a quoted identifier
    "SELECT DATEADD('{p}', 1, dob) FROM employees",
    "SELECT DATEDIFF('{p}', dob, dob) FROM employees",
    "SELECT DATE_TRUNC('{p}', dob) FROM employees",
    "SELECT DATE_TRUNC(dob, '{p}') FROM employees",
    "SELECT DATE_PART('{p}', dob) FROM employees",
    "SELECT DATEPART('{p}', dob) FROM employees",
    "SELECT TIMESTAMPADD('{p}', 1, dob) FROM employees",
    "SELECT TIMESTAMPDIFF('{p}', dob, dob) FROM employees",
    "SELECT TIMESTAMP_TRUNC(dob, '{p}') FROM employees",
    "SELECT LAST_DAY(dob, '{p}') FROM employees",
    "SELECT TRUNC(dob, '{p}') FROM employees",
    "SELECT EXTRACT('{p}' FROM dob) FROM employees",
    "SELECT TO_CHAR(dob, '{p}') FROM employees",
    "SELECT TO_DATE(name, '{p}') FROM employees",
    "SELECT DATE_FORMAT(dob, '{p}') FROM employees",
    "SELECT FORMAT_DATE('{p}', dob) FROM employees",
    "SELECT STRFTIME(dob, '{p}') FROM employees",
    "SELECT STR_TO_DATE(name, '{p}') FROM employees",
    "SELECT PARSE_DATE('{p}', name) FROM employees",
    "SELECT CONVERT(VARCHAR, dob, '{p}') FROM employees",
    "SELECT FORMAT(dob, '{p}') FROM employees",
    "SELECT name COLLATE '{p}' FROM employees",
    'SELECT name COLLATE "{q}" FROM employees',
    'SELECT CAST(age AS "{q}") FROM employees',
    "SELECT CAST(age AS '{p}') FROM employees",
    "SELECT JSON_EXTRACT(name, '{p}') FROM employees",
    "SELECT name -> '{p}' FROM employees",
    "SELECT REGEXP_REPLACE(name, '{p}', 'x') FROM employees",
    'SELECT "{q}" FROM employees',
    'SELECT 1 AS "{q}" FROM employees',
    "SELECT INTERVAL '{p}' FROM employees",
    "SELECT age FROM employees WHERE name LIKE 'a' ESCAPE '{p}'",
]


def _dialect_cases() -> Iterator[tuple[str, str]]:
    for dialect in sorted(d.value for d in Dialects if d.value):
        for template in TEMPLATES:
            for payload in PAYLOADS:
                yield dialect, template.format(p=payload.replace("'", "''"), q=payload.replace('"', '""'))


@pytest.mark.slow
def test_no_dialect_spelling_reaches_the_engine_as_structure(world):
    planned = 0
    for dialect, sql in _dialect_cases():
        try:
            p = world.plan(sql, dialect=dialect)
        except GatewayError:
            continue
        planned += 1
        assert safe(p.sql), (dialect, sql, p.sql)
    assert planned > 500  # most spellings are ordinary queries, planned and proven


def test_the_oracle_sees_injection():
    assert engine_reading("SELECT 1; SELECT canary()") == (2, True)
    assert engine_reading("SELECT 'canary()'") == (1, False)
    assert engine_reading("SELECT CANARY(1)") == (1, True)


def test_sqlglot_round_trips_are_compared_exactly():
    from kernel.gateway.proof import same
    a = sqlglot.parse_one("SELECT 'Ab', x FROM t", read="duckdb")
    assert same(a, sqlglot.parse_one("SELECT 'Ab', x FROM t", read="duckdb"))
    assert not same(a, sqlglot.parse_one("SELECT 'ab', x FROM t", read="duckdb"))  # sqlglot's == says equal
    assert not same(a, sqlglot.parse_one('SELECT \'Ab\', "x" FROM t', read="duckdb"))
    assert not same(a, sqlglot.parse_one("SELECT 'Ab', x FROM t, u", read="duckdb"))
