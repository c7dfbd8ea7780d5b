"""The file depot and the locked-down DuckDB engine."""
from __future__ import annotations

import os
import threading
import time

import duckdb
import pytest

from kernel.depot import Address
from kernel.depot.file import FileDepot
from kernel.minerva.duckdb_engine import Limits, Query
from syscalls.errors import SyscallError


@pytest.fixture
def lake(tmp_path):
    root = tmp_path / "lake"
    (root / "retail" / "orders").mkdir(parents=True)
    (root / "hr").mkdir()
    con = duckdb.connect()
    con.execute(f"COPY (SELECT 1 AS id, 'ana@example.com' AS email) TO '{root}/hr/people.parquet' (FORMAT parquet)")
    for part in range(2):
        con.execute(f"COPY (SELECT range AS id FROM range({part * 10}, {part * 10 + 10})) "
                    f"TO '{root}/retail/orders/part-{part}.parquet' (FORMAT parquet)")
    (root / "hr" / "notes.txt").write_text("not a dataset")
    (root / ".hidden").mkdir()
    con.close()
    (tmp_path / "secret.parquet").write_bytes((root / "hr" / "people.parquet").read_bytes())
    return root


def test_collections_and_datasets(lake):
    depot = FileDepot("lake", {"path": str(lake), "format": "parquet"})
    assert depot.collections() == ["hr", "retail"]
    assert depot.datasets("hr") == ["people"] and depot.datasets("retail") == ["orders"]
    with pytest.raises(SyscallError) as e:
        depot.datasets("..")
    assert e.value.code == "ENOENT"
    with pytest.raises(SyscallError) as e:
        depot.source("hr", "nobody")
    assert e.value.code == "ENOENT"


def run(depot, sql, limits=Limits()):
    q = Query(sql, depot.allowed_directories(), limits)
    try:
        return q.run().fetchall()
    finally:
        q.close()


def _aged(*folders):
    """Folders last changed a minute ago: a file depot keeps what it found in them."""
    for folder in folders:
        os.utime(folder, (time.time() - 60, time.time() - 60))


def test_a_kept_source_follows_files_that_come_and_go(lake):
    depot = FileDepot("lake", {"path": str(lake), "format": "parquet"})
    _aged(lake, lake / "hr")
    assert depot.source("hr", "people").paths == (str(lake / "hr" / "people.parquet"),)
    assert depot.source("hr", "people").paths == (str(lake / "hr" / "people.parquet"),)  # (kept)
    (lake / "hr" / "people.parquet").rename(lake / "hr" / "staff.parquet")
    with pytest.raises(SyscallError) as e:
        depot.source("hr", "people")
    assert e.value.code == "ENOENT"
    _aged(lake, lake / "hr")
    assert depot.source("hr", "staff").paths == (str(lake / "hr" / "staff.parquet"),)
    (lake / "hr").rename(lake / "people")
    (lake / "hr").mkdir()
    with pytest.raises(SyscallError) as e:
        depot.source("hr", "staff")
    assert e.value.code == "ENOENT"


def test_a_folder_of_parts_is_looked_into_each_time(lake):
    depot = FileDepot("lake", {"path": str(lake), "format": "parquet"})
    _aged(lake, lake / "retail", lake / "retail" / "orders")
    assert depot.source("retail", "orders").paths == (str(lake / "retail" / "orders"),)
    for part in (lake / "retail" / "orders").iterdir():
        part.unlink()
    _aged(lake, lake / "retail", lake / "retail" / "orders")
    with pytest.raises(SyscallError) as e:
        depot.source("retail", "orders")
    assert e.value.code == "ENOENT"


def test_the_engine_reads_a_depot_and_nothing_else(lake, tmp_path):
    depot = FileDepot("lake", {"path": str(lake)})
    assert run(depot, f"SELECT count(*) FROM {depot.source('retail', 'orders').sql}") == [(20,)]
    assert run(depot, f"SELECT email FROM {depot.source('hr', 'people').sql}") == [("ana@example.com",)]
    for sql in (f"SELECT * FROM read_parquet('{tmp_path}/secret.parquet')", "SELECT * FROM read_csv('/etc/passwd')",
                f"SELECT * FROM read_parquet('{lake}/../secret.parquet')", "ATTACH '/tmp/x.duckdb'",
                "SET enable_external_access = true", "INSTALL httpfs", "LOAD httpfs", "SET lock_configuration = false"):
        with pytest.raises(SyscallError) as e:
            run(depot, sql)
        assert e.value.code == "EINVAL", sql


def test_a_query_past_its_timeout_is_interrupted(lake):
    depot = FileDepot("lake", {"path": str(lake)})
    start = time.monotonic()
    with pytest.raises(SyscallError) as e:
        run(depot, "SELECT count(*) FROM range(10000000000) a, range(10) b", Limits(timeout=0.3))
    assert e.value.code == "ETIMEDOUT" and time.monotonic() - start < 5


def test_a_query_can_be_cancelled(lake):
    depot = FileDepot("lake", {"path": str(lake)})
    q = Query("SELECT count(*) FROM range(10000000000) a, range(10) b", depot.allowed_directories(), Limits())
    threading.Timer(0.3, q.cancel).start()
    with pytest.raises(SyscallError) as e:
        q.run()
    assert e.value.code == "ECANCELED"
    q.close()


def test_a_query_cancelled_before_it_runs_does_not_run(lake):
    """An interrupt sent to a connection that is not executing yet is lost: the flag is not."""
    depot = FileDepot("lake", {"path": str(lake)})
    q = Query("SELECT count(*) FROM range(10000000000) a, range(10) b", depot.allowed_directories(),
              Limits(timeout=30))
    q.cancel()
    started = time.monotonic()
    with pytest.raises(SyscallError) as e:
        q.run()
    assert e.value.code == "ECANCELED" and time.monotonic() - started < 5
    q.close()


def test_addresses():
    a = Address.parse("dataos://lake:retail/orders")
    assert (a.depot, a.collection, a.dataset, a.sql_name, str(a)) == ("lake", "retail", "orders",
                                                                      "lake.retail.orders", "dataos://lake:retail/orders")
    assert Address.parse("dataos://lake").sql_name == "lake"
    with pytest.raises(SyscallError):
        Address.parse("s3://bucket/x")


def test_a_duckdb_depot_is_attached_read_only(tmp_path):
    from kernel.depot.attached import DuckDBDepot
    db = tmp_path / "wh" / "warehouse.duckdb"
    db.parent.mkdir()
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE SCHEMA sales; CREATE TABLE sales.orders AS SELECT range AS id FROM range(5);"
                    "CREATE VIEW sales.big AS SELECT * FROM sales.orders WHERE id > 2")
    depot = DuckDBDepot("wh", {"path": str(db)})
    assert "sales" in depot.collections() and depot.datasets("sales") == ["big", "orders"]
    source = depot.source("sales", "orders")
    q = Query(f"SELECT count(*) FROM {source.sql}", depot.allowed_directories(), Limits(), setup=source.setup)
    try:
        assert q.run().fetchall() == [(5,)]
    finally:
        q.close()
    q = Query(f"DELETE FROM {source.sql}", depot.allowed_directories(), Limits(), setup=source.setup)
    with pytest.raises(SyscallError):
        q.run()  # read-only, whatever the SQL
    q.close()
