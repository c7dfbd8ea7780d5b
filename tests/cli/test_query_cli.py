"""`dataos query` from the command line: tables on the terminal, whole results to files
(streamed, all or nothing), clusters by name, errors in one line."""
from __future__ import annotations

import json

import duckdb
import pyarrow.parquet as pq
import pytest

from clitools import apply_file_depot, error_line, ok

ROWS = 30_000


@pytest.fixture(scope="module")
def lake(run_module, tmp_path_factory):
    root = tmp_path_factory.mktemp("lake")
    (root / "shop").mkdir()
    duckdb.sql(f"COPY (SELECT i AS id, 'c' || i || '@example.com' AS email, i * 1.5 AS amount "
               f"FROM range({ROWS}) t(i)) TO '{root}/shop/orders.parquet' (FORMAT parquet)")
    apply_file_depot(run_module, "lake", root)
    return root


def test_a_query_prints_a_table_and_a_summary(run_module, lake):
    r = ok(run_module("query", "select id, email from lake.shop.orders order by id", "--limit", "3"))
    assert "c2@example.com" in r.stdout and "c3@example.com" not in r.stdout
    assert "3 rows" in r.stderr and "more rows" in r.stderr


@pytest.mark.parametrize("suffix", ["parquet", "csv", "json"])
def test_out_writes_every_row_to_a_file(run_module, lake, tmp_path, suffix):
    target = tmp_path / f"orders.{suffix}"
    r = ok(run_module("query", "select * from lake.shop.orders order by id", "--out", str(target)))
    assert f"{ROWS:,} rows to {target}" in r.stderr
    if suffix == "parquet":
        table = pq.read_table(target)
        assert table.num_rows == ROWS and table.column("email")[5].as_py() == "c5@example.com"
    elif suffix == "csv":
        lines = target.read_text().splitlines()
        assert len(lines) == ROWS + 1 and lines[0].replace('"', "") == "id,email,amount"
    else:
        lines = target.read_text().splitlines()
        assert len(lines) == ROWS and json.loads(lines[1]) == {"id": 1, "email": "c1@example.com", "amount": 1.5}
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temporary file left


def test_out_honours_limit(run_module, lake, tmp_path):
    target = tmp_path / "few.parquet"
    ok(run_module("query", "select * from lake.shop.orders", "--out", str(target), "--limit", "10"))
    assert pq.read_table(target).num_rows == 10


def test_a_failed_export_leaves_no_file(run_module, lake, tmp_path):
    target = tmp_path / "x.parquet"
    error_line(run_module("query", "select * from lake.shop.missing", "--out", str(target)), "ENOENT", 5)
    error_line(run_module("query", "select 1", "--out", str(tmp_path / "x.xlsx")), "EINVAL", 2)
    assert list(tmp_path.iterdir()) == []


def test_clusters_by_name(run_module, lake):
    r = ok(run_module("query", "select count(*) from lake.shop.orders", "-c", "default"))
    assert str(ROWS) in r.stdout
    line = error_line(run_module("query", "select 1", "-c", "nope"), "ENOENT", 5)
    assert "nope" in line
    r = ok(run_module("get", "cluster", "-A"))
    assert "default" in r.stdout


def test_one_row_says_1_row(run_module, lake):
    r = ok(run_module("query", "select id from lake.shop.orders order by id limit 1"))
    assert "1 row in " in r.stderr
