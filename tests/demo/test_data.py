"""The demo's data generator: deterministic, the rows and columns asked for, consistent across
tables, and never half written."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb
import pytest

from dataos_shell.demo.data import COLLECTION, MARKER, generate, installed
from syscalls.errors import SyscallError

ANCHOR = date(2026, 3, 1)
ORDERS = 20_000
COLUMNS = {
    "customers": {"customer_id": "BIGINT", "name": "VARCHAR", "email": "VARCHAR", "phone": "VARCHAR",
                  "birth_date": "DATE", "city": "VARCHAR", "country": "VARCHAR", "region": "VARCHAR"},
    "products": {"product_id": "BIGINT", "name": "VARCHAR", "category": "VARCHAR", "price": "DECIMAL(10,2)"},
    "orders": {"order_id": "BIGINT", "customer_id": "BIGINT", "product_id": "BIGINT", "quantity": "INTEGER",
               "amount": "DECIMAL(12,2)", "ordered_at": "TIMESTAMP", "region": "VARCHAR"},
}


def rows(root, name):
    return duckdb.sql(f"SELECT * FROM '{root / COLLECTION / name}.parquet'").fetchall()


def test_the_tables_have_the_rows_and_columns_asked_for(tmp_path):
    marker = generate(tmp_path, ORDERS, anchor=ANCHOR)
    assert marker["rows"] == {"customers": 50_000, "products": 1_000, "orders": ORDERS}
    assert installed(tmp_path) == marker
    assert sorted(p.name for p in (tmp_path / COLLECTION).iterdir()) == [
        MARKER, "customers.parquet", "orders.parquet", "products.parquet"]
    assert [p.name for p in tmp_path.iterdir()] == [COLLECTION]  # no staging directory left
    for name, columns in COLUMNS.items():
        described = duckdb.sql(f"DESCRIBE SELECT * FROM '{tmp_path / COLLECTION / name}.parquet'").fetchall()
        assert {c[0]: c[1] for c in described} == columns
        assert len(rows(tmp_path, name)) == marker["rows"][name]
    q = lambda sql: duckdb.sql(sql.replace("{}", str(tmp_path / COLLECTION))).fetchall()  # noqa: E731
    assert q("SELECT DISTINCT region FROM '{}/customers.parquet' ORDER BY 1") == [("APAC",), ("EU",), ("NA",)]
    assert q("SELECT count(DISTINCT customer_id), count(DISTINCT email), min(customer_id) FROM '{}/customers.parquet'"
             ) == [(50_000, 50_000, 1)]
    assert q("SELECT count(DISTINCT name) FROM '{}/products.parquet'") == [(1_000,)]
    # every order's customer and product exist; region and amount agree with them
    assert q("SELECT count(*) FROM '{}/orders.parquet' o JOIN '{}/customers.parquet' c USING (customer_id) "
             "JOIN '{}/products.parquet' p USING (product_id) "
             "WHERE o.region = c.region AND o.amount = o.quantity * p.price AND o.quantity BETWEEN 1 AND 5"
             ) == [(ORDERS,)]
    first, last = q("SELECT min(ordered_at), max(ordered_at) FROM '{}/orders.parquet'")[0]
    midnight = datetime.combine(ANCHOR, datetime.min.time())
    assert midnight - timedelta(days=365) <= first and last < midnight and last - first > timedelta(days=360)


def test_generation_is_deterministic(tmp_path):
    generate(tmp_path / "a", ORDERS, anchor=ANCHOR)
    generate(tmp_path / "b", ORDERS, anchor=ANCHOR)
    for name in COLUMNS:
        assert rows(tmp_path / "a", name) == rows(tmp_path / "b", name)


def test_a_failed_generation_leaves_the_previous_data_whole(tmp_path):
    generate(tmp_path, 1_000, anchor=ANCHOR)
    before = rows(tmp_path, "orders")

    def interrupt(message):
        if message.startswith("generating orders"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate(tmp_path, 2_000, anchor=ANCHOR, step=interrupt)
    assert rows(tmp_path, "orders") == before and installed(tmp_path)["rows"]["orders"] == 1_000
    assert [p.name for p in tmp_path.iterdir()] == [COLLECTION]
    generate(tmp_path, 2_000, anchor=ANCHOR)  # a new generation replaces the collection whole
    assert len(rows(tmp_path, "orders")) == 2_000


def test_a_bad_order_count_is_einval(tmp_path):
    with pytest.raises(SyscallError) as e:
        generate(tmp_path, 0)
    assert e.value.code == "EINVAL" and not tmp_path.joinpath(COLLECTION).exists()
