"""`dataos query history`: a sub-command of its own (--limit, --user, -o table|wide|json|yaml|name, its
own --help) beside `dataos query "SQL"`, which works as before."""
from __future__ import annotations

import duckdb
import pytest
from clitools import apply_file_depot, as_json, error_line, ok


@pytest.fixture(scope="module")
def lake(run_module, tmp_path_factory):
    root = tmp_path_factory.mktemp("lake")
    (root / "shop").mkdir()
    duckdb.sql(f"COPY (SELECT i AS id, i * 2 AS amount FROM range(10) t(i)) TO '{root}/shop/orders.parquet' "
               f"(FORMAT parquet)")
    apply_file_depot(run_module, "lake", root)
    ok(run_module("query", "select count(*) from lake.shop.orders"))
    ok(run_module("query", "-o", "json", "select 42 as answer"))  # options before the SQL still work
    return run_module


def test_history_has_its_own_help(lake):
    r = ok(lake("query", "history", "--help"))
    assert "Usage: dataos query history [OPTIONS]" in r.stdout
    for option in ("--limit", "--user", "--output", "wide"):
        assert option in r.stdout


def test_query_help_is_the_sql_help_and_names_history(lake):
    r = ok(lake("query", "--help"))
    assert "Usage: dataos query [OPTIONS] " in r.stdout and "--dialect" in r.stdout
    assert "dataos query history" in r.stdout


def test_history_lists_the_newest_first_up_to_the_limit(lake):
    records = as_json(lake("query", "history", "--limit", "1", "-o", "json"))
    assert [r["sql"] for r in records] == ["select 42 as answer"]
    table = ok(lake("query", "history")).stdout.splitlines()
    assert table[0].split() == ["ID", "AGE", "USER", "ROWS", "MS", "ERRNO", "POLICIES", "SQL"]
    assert "select 42 as answer" in table[1] and "select count(*) from lake.shop.orders" in table[2]


def test_wide_shows_the_rewritten_sql(lake):
    out = ok(lake("query", "history", "-o", "wide")).stdout
    assert "REWRITTEN" in out and '"temp"."main"."dataos://lake:shop/orders"' in out
    assert '"temp"."main"' not in ok(lake("query", "history")).stdout
    ids = ok(lake("query", "history", "-o", "name")).stdout.split()
    assert len(ids) >= 2 and ids[0] == as_json(lake("query", "history", "-o", "json"))[0]["id"]


def test_someone_elses_history_takes_read_on_gateway_history(lake):
    ok(lake("user", "create", "carol", "--tag", "roles:id:analyst"))
    token = ok(lake("user", "apikey", "create", "carol")).stdout.strip()
    env = {"DATAOS_TOKEN": token}
    assert as_json(lake("query", "history", "-o", "json", env=env)) == []
    assert as_json(lake("query", "history", "--user", "carol", "-o", "json", env=env)) == []
    error_line(lake("query", "history", "--user", "operator", env=env), "EACCES", 4)
    users = {r["user"] for r in as_json(lake("query", "history", "-o", "json"))}  # the operator sees everyone's
    assert users


def test_sql_still_runs_and_one_row_is_one_row(lake):
    r = ok(lake("query", "select 1 as x"))
    assert r.stdout.split() == ["x", "1"] and "1 row in" in r.stderr
    r = ok(lake("query", "select id from lake.shop.orders where id < 2 order by id"))
    assert "2 rows in" in r.stderr
