"""The catalog's scanners against every driver: schemas, row counts, profiles and PII suggestions,
incremental re-scans by fingerprint, failures that stay local, sampling and cancellation.
PostgreSQL and MySQL/MariaDB scans run against the local servers (skipped where none answers)."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import threading
import time
import uuid

import duckdb
import pytest

from kernel.depot.attached import DuckDBDepot, MySQLDepot, PostgresDepot, SQLiteDepot
from kernel.depot.file import FileDepot
from kernel.metis.scan import Budget, Progress, Scanned, scan_depot
from syscalls.errors import SyscallError

COLUMNS = ("i AS id, 'p' || i || '@example.com' AS email, 'p' || i || '@example.com' AS contact, "
           "CASE WHEN i % 2 = 0 THEN 'EU' ELSE 'US' END AS region, CASE WHEN i % 4 = 0 THEN NULL "
           "ELSE (i * 1.5)::DECIMAL(10, 2) END AS amount, DATE '1990-01-01' + i::INT AS birth_date, "
           "'Widget ' || i AS product_name")
PEOPLE = f"SELECT {COLUMNS} FROM range(1, 21) t(i)"  # DuckDB; PostgreSQL reads the same columns


def scan(driver, known=None, **budget):
    """Scanned aspects by urn, and the Progress items, of one scan."""
    items = list(scan_depot(driver.name, driver, known or {}, Budget(**budget)))
    assert all(isinstance(i, (Scanned, Progress)) for i in items)
    return {i.urn: i.aspects for i in items if isinstance(i, Scanned)}, [i for i in items if isinstance(i, Progress)]


def states(progress):
    return {p.dataset: p.state for p in progress if p.dataset}


def fingerprints(scanned):
    return {urn: aspects["properties"]["fingerprint"] for urn, aspects in scanned.items()}


def check_people(aspects, rows=20):
    """The aspects of the PEOPLE dataset, whatever the driver."""
    columns = [c["name"] for c in aspects["schema"]["columns"]]
    assert columns == ["id", "email", "contact", "region", "amount", "birth_date", "product_name"]
    assert aspects["properties"]["rows"] == rows
    profile = aspects["profile"]
    assert profile["sampled"] is False and profile["sample_rows"] == rows
    stats = profile["columns"]
    assert (stats["id"]["min"], stats["id"]["max"], stats["id"]["null_pct"]) == (1, 20, 0.0)
    assert stats["amount"]["null_pct"] == 25.0  # DECIMAL as text ("1.50"); PostgreSQL's bare numeric as DOUBLE
    assert float(stats["amount"]["min"]) == 1.5 and float(stats["amount"]["max"]) == 28.5
    assert stats["birth_date"]["min"] == "1990-01-02"
    assert stats["region"]["top"] == [["EU", 10], ["US", 10]] and stats["region"]["distinct"] == 2
    assert 17 <= stats["email"]["distinct"] <= 20 and stats["email"]["top"] is None  # all distinct: no top
    json.dumps(aspects, allow_nan=False)
    suggestions = aspects["suggestions"]["columns"]
    assert suggestions["email"] == ["PII.Email"] and suggestions["contact"] == ["PII.Email"]
    assert suggestions["birth_date"] == ["PII.DateOfBirth"] and "product_name" not in suggestions


def digest(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


# --- file depots --------------------------------------------------------------------------------

@pytest.fixture
def lake(tmp_path):
    """Parquet: hr/people, retail/orders (a folder of part files), retail/items."""
    root = tmp_path / "lake"
    (root / "retail" / "orders").mkdir(parents=True)
    (root / "hr").mkdir()
    con = duckdb.connect()
    con.execute(f"COPY ({PEOPLE}) TO '{root}/hr/people.parquet' (FORMAT parquet)")
    for part in range(2):
        con.execute(f"COPY (SELECT range AS order_id, [range, 1] AS pair FROM range({part * 10}, {part * 10 + 10})) "
                    f"TO '{root}/retail/orders/part-{part}.parquet' (FORMAT parquet)")
    con.execute(f"COPY (SELECT 'sku-' || range AS sku FROM range(5)) TO '{root}/retail/items.parquet' (FORMAT parquet)")
    con.close()
    return root


def test_a_file_depot_is_scanned_dataset_by_dataset(lake):
    scanned, progress = scan(FileDepot("lake", {"path": str(lake)}))
    assert set(scanned) == {"dataos://lake:hr/people", "dataos://lake:retail/orders", "dataos://lake:retail/items"}
    check_people(scanned["dataos://lake:hr/people"])
    assert scanned["dataos://lake:hr/people"]["profile"]["columns"]["amount"]["min"] == "1.50"
    orders = scanned["dataos://lake:retail/orders"]
    assert orders["properties"]["rows"] == 20 and orders["properties"]["format"] == "parquet"
    assert orders["properties"]["bytes"] == sum(f.stat().st_size for f in (lake / "retail" / "orders").iterdir())
    assert orders["schema"]["columns"][1] == {"name": "pair", "type": "BIGINT[]", "nullable": True}
    assert orders["profile"]["columns"]["pair"] == {"min": None, "max": None, "null_pct": 0.0, "distinct": None,
                                                    "top": None}
    assert progress[0].state == "listing" and [p.state for p in progress[1:-1]] == ["scanned"] * 3
    done = progress[-1]
    assert done.state == "done" and done.done == done.total == 3 and done.seen == set(scanned)
    assert [p.done for p in progress[1:-1]] == [1, 2, 3]


def test_csv_and_json_depots(tmp_path):
    for fmt in ("csv", "json"):
        root = tmp_path / fmt
        (root / "crm").mkdir(parents=True)
        option = "HEADER" if fmt == "csv" else "FORMAT json"
        duckdb.sql(f"COPY ({PEOPLE}) TO '{root}/crm/people.{fmt}' ({option})")
        scanned, _ = scan(FileDepot(fmt, {"path": str(root), "format": fmt}))
        aspects = scanned[f"dataos://{fmt}:crm/people"]
        assert aspects["properties"]["rows"] == 20 and aspects["properties"]["format"] == fmt
        assert aspects["suggestions"]["columns"]["contact"] == ["PII.Email"]
        assert aspects["profile"]["columns"]["region"]["top"] == [["EU", 10], ["US", 10]]


def test_a_rescan_skips_what_did_not_change(lake):
    depot = FileDepot("lake", {"path": str(lake)})
    scanned, _ = scan(depot)
    known = fingerprints(scanned)
    again, progress = scan(depot, known)
    assert again == {} and set(states(progress).values()) == {"unchanged"}
    part = lake / "retail" / "orders" / "part-1.parquet"
    st = part.stat()
    os.utime(part, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    again, progress = scan(depot, known)
    assert list(again) == ["dataos://lake:retail/orders"]
    assert states(progress) == {"dataos://lake:hr/people": "unchanged", "dataos://lake:retail/items": "unchanged",
                                "dataos://lake:retail/orders": "scanned"}


def test_a_removed_dataset_is_not_seen(lake):
    depot = FileDepot("lake", {"path": str(lake)})
    known = fingerprints(scan(depot)[0])
    (lake / "retail" / "items.parquet").unlink()
    shutil.rmtree(lake / "hr")
    _, progress = scan(depot, known)
    assert progress[-1].seen == {"dataos://lake:retail/orders"}


def test_a_broken_file_fails_alone(lake):
    (lake / "hr" / "broken.parquet").write_bytes(b"PAR1 this is not parquet at all")
    scanned, progress = scan(FileDepot("lake", {"path": str(lake)}))
    failed = [p for p in progress if p.state == "failed"]
    assert [p.dataset for p in failed] == ["dataos://lake:hr/broken"]
    assert failed[0].error.startswith("EINVAL: ") and "\n" not in failed[0].error
    assert len(scanned) == 3 and "dataos://lake:hr/broken" in progress[-1].seen


def test_an_unreachable_file_depot_is_eunavail_before_any_dataset(lake):
    depot = FileDepot("lake", {"path": str(lake)})
    shutil.rmtree(lake)
    items = []
    with pytest.raises(SyscallError) as e:
        for item in scan_depot("lake", depot, {}):
            items.append(item)
    assert e.value.code == "EUNAVAIL" and not any(isinstance(i, Scanned) for i in items)


def test_a_big_dataset_is_profiled_on_a_sample(tmp_path):
    (tmp_path / "big" / "events").mkdir(parents=True)
    duckdb.sql(f"COPY (SELECT i AS id, CASE WHEN i % 3 = 0 THEN 'a' ELSE 'b' END AS kind, 'n' || (i % 3000) AS tag "
               f"FROM range(300000) t(i)) TO '{tmp_path}/big/events/big.parquet'")
    scanned, _ = scan(FileDepot("big", {"path": str(tmp_path / "big")}), sample_rows=10_000, top_values=1)
    aspects = scanned["dataos://big:events/big"]
    profile = aspects["profile"]
    assert aspects["properties"]["rows"] == 300_000
    assert profile["sampled"] is True and 9_000 < profile["sample_rows"] < 11_000
    (value, count), = profile["columns"]["kind"]["top"]  # from histogram()
    assert value == "b" and 5_000 < count < 8_000
    (value, count), = profile["columns"]["tag"]["top"]  # ~3,000 distinct values: from a GROUP BY
    assert value.startswith("n") and count >= 4
    assert profile["columns"]["id"]["top"] is None


def test_max_columns_profiled_bounds_the_profile_not_the_schema(lake):
    scanned, _ = scan(FileDepot("lake", {"path": str(lake)}), max_columns_profiled=2)
    aspects = scanned["dataos://lake:hr/people"]
    assert len(aspects["schema"]["columns"]) == 7 and list(aspects["profile"]["columns"]) == ["id", "email"]


def test_a_scan_can_be_cancelled_between_datasets(lake):
    depot = FileDepot("lake", {"path": str(lake)})
    seen = []
    with pytest.raises(SyscallError) as e:
        for item in scan_depot("lake", depot, {}, cancelled=lambda: len(seen) >= 1):
            if isinstance(item, Scanned):
                seen.append(item.urn)
    assert e.value.code == "ECANCELED" and len(seen) == 1


# --- database depots ----------------------------------------------------------------------------

@pytest.fixture
def warehouse(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA crm")
    con.execute(f"CREATE TABLE crm.people AS {PEOPLE}")
    con.execute("CREATE TABLE crm.accounts (id INTEGER NOT NULL, iban VARCHAR, opened TIMESTAMPTZ)")
    con.execute("INSERT INTO crm.accounts VALUES (1, 'DE89 3704 0044 0532 0130 00', '2024-01-01 10:00:00+00')")
    con.execute("CREATE VIEW main.eu AS SELECT * FROM crm.people WHERE region = 'EU'")
    con.close()
    return path


def test_a_duckdb_depot_is_scanned_read_only(warehouse):
    before = digest(warehouse)
    scanned, progress = scan(DuckDBDepot("wh", {"path": str(warehouse)}))
    assert set(scanned) == {"dataos://wh:crm/people", "dataos://wh:crm/accounts", "dataos://wh:main/eu"}
    check_people(scanned["dataos://wh:crm/people"])
    accounts = scanned["dataos://wh:crm/accounts"]
    assert accounts["schema"]["columns"][0] == {"name": "id", "type": "INTEGER", "nullable": False}
    assert accounts["properties"]["format"] == "duckdb" and accounts["properties"]["bytes"] is None
    assert accounts["profile"]["columns"]["opened"]["min"].startswith("2024-01-01")
    assert accounts["suggestions"]["columns"]["iban"] == ["PII.BankAccount"]
    assert scanned["dataos://wh:main/eu"]["properties"]["rows"] == 10
    assert digest(warehouse) == before


def test_a_duckdb_rescan_reads_only_changed_tables(warehouse):
    depot = DuckDBDepot("wh", {"path": str(warehouse)})
    known = fingerprints(scan(depot)[0])
    assert set(states(scan(depot, known)[1]).values()) == {"unchanged"}
    with duckdb.connect(str(warehouse)) as con:
        con.execute("INSERT INTO crm.accounts VALUES (2, NULL, NULL)")
        con.execute("CREATE TABLE main.fresh AS SELECT 1 AS x")
        con.execute("DROP VIEW main.eu")
    scanned, progress = scan(depot, known)
    assert set(scanned) == {"dataos://wh:crm/accounts", "dataos://wh:main/fresh"}
    assert progress[-1].seen == {"dataos://wh:crm/people", "dataos://wh:crm/accounts", "dataos://wh:main/fresh"}


def test_a_slow_dataset_times_out_alone_and_a_slow_scan_can_be_cancelled(warehouse):
    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE VIEW main.slow AS SELECT a.range AS x FROM range(100000000) a, range(1000) b")
    depot = DuckDBDepot("wh", {"path": str(warehouse)})
    start = time.monotonic()
    scanned, progress = scan(depot, timeout=0.5)
    failed = [p for p in progress if p.state == "failed"]
    assert [p.dataset for p in failed] == ["dataos://wh:main/slow"] and failed[0].error.startswith("ETIMEDOUT")
    assert len(scanned) == 3 and time.monotonic() - start < 20
    flag = threading.Event()
    threading.Timer(0.5, flag.set).start()
    start = time.monotonic()
    with pytest.raises(SyscallError) as e:
        list(scan_depot("wh", depot, {}, cancelled=flag.is_set))
    assert e.value.code == "ECANCELED" and time.monotonic() - start < 10


def test_a_missing_database_is_eunavail(tmp_path):
    with pytest.raises(SyscallError) as e:
        list(scan_depot("gone", DuckDBDepot("gone", {"path": str(tmp_path / "nope.duckdb")}), {}))
    assert e.value.code == "EUNAVAIL"


def test_a_sqlite_depot(tmp_path):
    path = tmp_path / "app.sqlite"
    rows = duckdb.sql(PEOPLE).fetchall()
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE people (id INTEGER, email TEXT, contact TEXT, region TEXT, amount TEXT, "
                    "birth_date DATE, product_name TEXT)")
        con.executemany("INSERT INTO people VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [(*r[:4], None if r[4] is None else str(r[4]), str(r[5]), r[6]) for r in rows])
    con.close()
    before = digest(path)
    depot = SQLiteDepot("app", {"path": str(path)})
    scanned, _ = scan(depot)
    aspects = scanned["dataos://app:main/people"]
    assert aspects["properties"]["rows"] == 20 and aspects["properties"]["format"] == "sqlite"
    assert aspects["suggestions"]["columns"]["contact"] == ["PII.Email"]
    assert aspects["profile"]["columns"]["region"]["top"] == [["EU", 10], ["US", 10]]
    assert set(states(scan(depot, fingerprints(scanned))[1]).values()) == {"unchanged"}
    assert digest(path) == before


def _answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def run(command: list[str]) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=60)


@pytest.fixture
def postgres():
    """A database of its own (the depot's collections are its schemas), dropped afterwards."""
    if not _answers(5432):
        pytest.skip("no PostgreSQL server answers on 127.0.0.1:5432")
    name = f"metis_scan_{uuid.uuid4().hex[:8]}"
    psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-v", "ON_ERROR_STOP=1"]
    run([*psql, "-d", "test", "-c", f"CREATE DATABASE {name}"])
    sql = lambda text: run([*psql, "-d", name, "-c", text])  # noqa: E731
    sql(f"CREATE SCHEMA crm; CREATE TABLE crm.people AS SELECT {COLUMNS} FROM generate_series(1, 20) i")
    depot = PostgresDepot("pg", {"host": "127.0.0.1", "port": 5432, "database": name}, {"username": "postgres"})
    yield depot, sql
    run([*psql, "-d", "test", "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"])


def test_a_postgres_depot(postgres):
    depot, sql = postgres
    scanned, _ = scan(depot)
    check_people(scanned["dataos://pg:crm/people"])
    assert scanned["dataos://pg:crm/people"]["properties"]["format"] == "postgresql"
    known = fingerprints(scanned)
    sql("CREATE TABLE crm.other (x int)")
    again, progress = scan(depot, known)
    assert set(again) == {"dataos://pg:crm/other"} and states(progress)["dataos://pg:crm/people"] == "unchanged"
    sql("INSERT INTO crm.people (id) VALUES (21)")
    assert set(scan(depot, known)[0]) == {"dataos://pg:crm/people", "dataos://pg:crm/other"}


def test_an_unreachable_postgres_is_eunavail_without_its_password():
    depot = PostgresDepot("pg", {"host": "127.0.0.1", "port": 1, "database": "test"},
                          {"username": "nobody", "password": "s3cret-pw"})
    with pytest.raises(SyscallError) as e:
        list(scan_depot("pg", depot, {}))
    assert e.value.code == "EUNAVAIL" and "s3cret-pw" not in str(e.value)


@pytest.fixture
def mysql():
    """A database and a user of their own (the depot's collections are the databases it sees)."""
    if not _answers(3306):
        pytest.skip("no MySQL/MariaDB server answers on 127.0.0.1:3306")
    name, password = f"metis_scan_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    root = ["mariadb", "-h", "127.0.0.1", "-u", "root", "-e"]
    run([*root, f"CREATE DATABASE {name}; CREATE USER '{name}'@'%' IDENTIFIED BY '{password}'; "
                f"GRANT ALL ON {name}.* TO '{name}'@'%'"])
    run([*root, f"CREATE TABLE {name}.people (id INT, email VARCHAR(64), phone VARCHAR(20), region VARCHAR(2)); "
                f"INSERT INTO {name}.people VALUES (1, 'a@example.com', '+49 30 1234567', 'EU'), "
                f"(2, 'b@example.com', '+33 1 2345678', 'EU'), (3, NULL, '+1 555 123 4567', 'US')"])
    yield MySQLDepot("shop", {"host": "127.0.0.1", "port": 3306, "database": name},
                     {"username": name, "password": password}), name
    run([*root, f"DROP DATABASE IF EXISTS {name}; DROP USER IF EXISTS '{name}'@'%'"])


def test_a_mysql_depot(mysql):
    depot, name = mysql
    scanned, progress = scan(depot)
    aspects = scanned[f"dataos://shop:{name}/people"]
    assert aspects["properties"]["rows"] == 3 and aspects["properties"]["format"] == "mysql"
    assert aspects["suggestions"]["columns"] == {"email": ["PII.Email"], "phone": ["PII.PhoneNumber"]}
    assert aspects["profile"]["columns"]["email"]["null_pct"] == pytest.approx(33.33)
    assert progress[-1].seen == {f"dataos://shop:{name}/people"}
    assert set(states(scan(depot, fingerprints(scanned))[1]).values()) == {"unchanged"}


def test_distinct_counts_are_exact_up_to_a_size_and_estimated_within_2_percent_past_it(tmp_path):
    (tmp_path / "d" / "shop").mkdir(parents=True)
    duckdb.sql(f"COPY (SELECT i % 1000 + 1 AS product_id, i AS line FROM range(1000000) t(i)) "
               f"TO '{tmp_path}/d/shop/lines.parquet'")
    duckdb.sql(f"COPY (SELECT i AS id, CASE WHEN i % 4 = 0 THEN NULL ELSE i % 7001 END AS k FROM range(50000) t(i)) "
               f"TO '{tmp_path}/d/shop/keys.parquet'")
    depot = FileDepot("d", {"path": str(tmp_path / "d")})
    scanned, _ = scan(depot)  # the profile is sampled past 100,000 rows; its distinct counts are not
    lines, keys = scanned["dataos://d:shop/lines"]["profile"], scanned["dataos://d:shop/keys"]["profile"]
    assert lines["sampled"] is True and lines["distinct"] == "exact" and keys["distinct"] == "exact"
    assert (lines["columns"]["product_id"]["distinct"], lines["columns"]["line"]["distinct"]) == (1000, 1_000_000)
    assert (keys["columns"]["id"]["distinct"], keys["columns"]["k"]["distinct"]) == (50_000, 7001)

    scanned, _ = scan(depot, exact_distinct_rows=10_000)  # past it: a HyperLogLog estimate
    lines, keys = scanned["dataos://d:shop/lines"]["profile"], scanned["dataos://d:shop/keys"]["profile"]
    assert lines["distinct"] == "estimate" and keys["distinct"] == "estimate"
    for got, exact in ((lines["columns"]["product_id"]["distinct"], 1000), (lines["columns"]["line"]["distinct"], 10**6),
                       (keys["columns"]["id"]["distinct"], 50_000), (keys["columns"]["k"]["distinct"], 7001)):
        assert abs(got - exact) <= 0.02 * exact, (got, exact)
