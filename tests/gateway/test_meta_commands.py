"""DESCRIBE, SHOW TABLES, SHOW COLUMNS, SUMMARIZE and pgcli's \\d, \\dt, \\d NAME, in `dataos query` and
in the shell: answered by the Gateway for the caller, so masked columns are marked, only datasets the
caller may select are listed, and SUMMARIZE sees what a query would (masked values, filtered rows)."""
from __future__ import annotations

import json

import pytest
from clitools import as_json, error_line, ok
from govkit import EMAIL, ORDERS, governed_lake


@pytest.fixture(scope="module")
def lake(run_module, tmp_path_factory):
    return governed_lake(run_module, tmp_path_factory.mktemp("lake"))


def rows(lake, user, sql):
    return as_json(lake.as_(user, "query", sql, "-o", "json"))["rows"]


@pytest.mark.parametrize("sql", ["DESCRIBE lake.shop.orders", "describe lake.shop.orders;",
                                 "SHOW COLUMNS FROM lake.shop.orders", "\\d lake.shop.orders"])
def test_describe_marks_the_columns_masked_for_the_caller(lake, sql):
    assert rows(lake, "ana", sql) == [["id", "BIGINT", None], ["email", "VARCHAR", "hash"],
                                      ["amount", "DECIMAL(21,1)", None], ["region", "VARCHAR", None]]
    assert [r[2] for r in rows(lake, "op", sql)] == [None] * 4


def test_describe_resolves_in_the_current_collection_and_names_the_policies(lake):
    r = ok(lake.as_("ana", "query", "DESCRIBE orders", "--depot", "lake", "--collection", "shop"))
    assert r.stdout.split()[:3] == ["column_name", "column_type", "masked"]
    assert "policies applied: eu-only, hash-email" in r.stderr and "4 rows" in r.stderr


@pytest.mark.parametrize("sql", ["SHOW TABLES", "\\dt", "\\d", "show all tables;"])
def test_show_tables_lists_only_the_datasets_the_caller_may_select(lake, sql):
    assert rows(lake, "op", sql) == [["lake.hr.salaries"], ["lake.shop.orders"]]
    assert rows(lake, "ana", sql) == [["lake.shop.orders"]]
    assert rows(lake, "bob", sql) == []


def test_show_tables_stays_in_the_current_collection(lake):
    r = as_json(lake.as_("op", "query", "SHOW TABLES", "--depot", "lake", "--collection", "hr", "-o", "json"))
    assert r["rows"] == [["lake.hr.salaries"]]


def test_summarize_sees_what_a_query_would(lake):
    mine = {r[0]: r for r in rows(lake, "ana", "SUMMARIZE lake.shop.orders")}
    everything = {r[0]: r for r in rows(lake, "op", "SUMMARIZE lake.shop.orders")}
    assert list(mine) == ["id", "email", "amount", "region"]
    count = 10  # the summary's count column
    assert mine["id"][count] == ORDERS // 2 and everything["id"][count] == ORDERS  # the row filter applies
    assert mine["region"][2:4] == ["EU", "EU"] and everything["region"][2:4] == ["EU", "US"]
    assert len(mine["email"][2]) == 64 and "@" not in json.dumps(mine)  # hashed values, never an email
    assert everything["email"][2] == EMAIL.format(0)
    assert mine["amount"][5] == pytest.approx(sum(1.5 * i for i in range(0, ORDERS, 2)) / (ORDERS // 2))


@pytest.mark.parametrize("sql", ["DESCRIBE {}", "SUMMARIZE {}", "\\d {}", "SHOW COLUMNS FROM {}"])
def test_a_dataset_the_caller_may_not_select_is_unknown_as_one_that_does_not_exist(lake, sql):
    hidden = error_line(lake.as_("ana", "query", sql.format("lake.hr.salaries")), "ENOENT", 5)
    missing = error_line(lake.as_("ana", "query", sql.format("lake.hr.salarie")), "ENOENT", 5)
    assert hidden == "error: ENOENT: unknown relation lake.hr.salaries"
    assert missing == "error: ENOENT: unknown relation lake.hr.salarie"
    for user in ("ana", "bob"):
        assert "secret_bonus" not in lake.as_(user, "query", sql.format("lake.hr.salaries")).stderr


def test_describe_of_a_query_says_what_it_takes(lake):
    line = error_line(lake.as_("ana", "query", "DESCRIBE SELECT 1"), "EINVAL", 2)
    assert "DESCRIBE takes a dataset" in line


def test_the_shell_answers_meta_commands_too(lake):
    r = ok(lake.as_("ana", "shell", "-c", "\\dt; \\d lake.shop.orders; cd dataos://lake:shop; summarize orders; "
                    "show tables;"))
    out = r.stdout.split()
    assert out.count("lake.shop.orders") == 2 and "lake.hr.salaries" not in out
    assert ["email", "VARCHAR", "hash"] == out[out.index("email"):out.index("email") + 3]
    assert "null_percentage" in out and "(1 row)" in r.stderr and "(4 rows)" in r.stderr


def test_the_shell_help_lists_the_meta_commands(lake):
    out = ok(lake.as_("ana", "shell", "-c", "help")).stdout
    for command in ("\\d", "\\dt", "DESCRIBE", "SHOW TABLES", "SUMMARIZE"):
        assert command in out
    assert "EXPLAIN" not in out.split("SQL, governed")[-1]  # the Gateway refuses it: not offered
