"""Dataset names resolve as the query's dialect resolves identifiers: unquoted names fold (DuckDB,
Snowflake, Postgres, Trino all find `lake.shop.orders` as `LAKE.SHOP.ORDERS`), a quoted name is
matched as that dialect spells it (Snowflake's `"LAKE"` is its unquoted `lake`; Postgres's `"LAKE"`
is not `lake`). One canonical address stays for policies and history, and a hidden dataset under
another spelling is answered exactly as a missing one."""
from __future__ import annotations

import json

import pytest
from clitools import as_json, error_line, ok
from govkit import governed_lake


@pytest.fixture(scope="module")
def lake(run_module, tmp_path_factory):
    return governed_lake(run_module, tmp_path_factory.mktemp("lake"))


def rows(lake, sql: str, dialect: str = "duckdb", user: str = "ana") -> list:
    return as_json(lake.as_(user, "query", sql, "--dialect", dialect, "-o", "json"))["rows"]


@pytest.mark.parametrize("dialect, sql", [
    ("duckdb", "select id, email from LAKE.SHOP.ORDERS order by id"),
    ("duckdb", 'select id, email from "LAKE"."Shop"."ORDERS" order by id'),
    ("snowflake", "select id, email from LAKE.SHOP.ORDERS order by id"),
    ("snowflake", 'select id, email from "LAKE"."SHOP"."ORDERS" order by id'),
    ("postgres", "select id, email from Lake.Shop.Orders order by id"),
    ("trino", "select id, email from LAKE.SHOP.ORDERS order by id"),
])
def test_a_name_the_engine_would_find_is_found_and_governed(lake, dialect, sql):
    expected = rows(lake, "select id, email from lake.shop.orders order by id")
    assert expected and all(int(r[0]) % 2 == 0 for r in expected)  # ana: EU rows only, emails hashed
    assert rows(lake, sql, dialect) == expected
    history = json.loads(ok(lake.as_("op", "query", "history", "-o", "json")).stdout)
    mine = next(h for h in history if h["sql"] == sql)
    assert mine["datasets"] == ["dataos://lake:shop/orders"] and "eu-only" in mine["policies"], mine


@pytest.mark.parametrize("dialect, sql", [
    ("snowflake", 'select * from "Lake"."shop"."orders"'),   # quoted mixed case: not Snowflake's lake
    ("postgres", 'select * from "LAKE".shop.orders'),        # quoted: Postgres keeps the case
])
def test_a_quoted_name_the_engine_would_not_find_is_unknown(lake, dialect, sql):
    line = error_line(lake.as_("ana", "query", sql, "--dialect", dialect), "ENOENT", 5)
    assert "unknown relation" in line


@pytest.mark.parametrize("spelling", ["LAKE.HR.SALARIES", '"LAKE"."HR"."SALARIES"', "Lake.Hr.Salaries"])
def test_a_hidden_dataset_in_another_spelling_is_answered_as_a_missing_one(lake, spelling):
    hidden = error_line(lake.as_("ana", "query", f"select * from {spelling}"), "ENOENT", 5)
    missing = error_line(lake.as_("ana", "query", f"select * from {spelling.replace('ALARIES', 'ALARIEZ')}"
                                                   .replace("alaries", "alariez")), "ENOENT", 5)
    assert hidden.lower().replace("salaries", "x") == missing.lower().replace("salariez", "x"), (hidden, missing)
    assert "did you mean" not in hidden


def test_describe_and_summarize_take_any_spelling(lake):
    assert rows(lake, "describe LAKE.SHOP.ORDERS") == rows(lake, "describe lake.shop.orders")
