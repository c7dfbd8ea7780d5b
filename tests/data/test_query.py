"""Governed SQL through the syscall: masks and filters for those they target, raw data for the
rest, denied datasets refused by name, and every query in history with its policies."""
from __future__ import annotations

import duckdb
import pytest

from lakekit import as_user, emails, governed_lake
from syscalls.errors import SyscallError

EMAILS = emails(1000)


@pytest.fixture
def k(tmp_path):
    with governed_lake(tmp_path, 1000) as c:
        yield c


def test_the_operator_sees_raw_rows(k):
    r = k.query.execute(sql="select email from lake.hr.employees order by id", limit=-1)
    assert [row[0] for row in r["rows"]] == EMAILS and r["governance"]["policies"] == []


def test_an_analyst_sees_hashed_emails_and_only_eu_rows(k):
    ana = as_user(k, "ana")
    r = ana.query.execute(sql="select * from lake.hr.employees", limit=-1)
    assert r["row_count"] == 500 and {row[2] for row in r["rows"]} == {"EU"}
    assert {c["name"]: c["masked"] for c in r["columns"]}["email"] == "hash"
    assert not {row[1] for row in r["rows"]} & set(EMAILS)
    assert r["governance"]["policies"] == ["eu-only", "mask-email"]
    # the masked value is what WHERE sees: a raw email finds nothing
    r = ana.query.execute(sql="select count(*) from lake.hr.employees where email = 'person0@example.com'")
    assert r["rows"] == [[0]]
    # any dialect in
    r = ana.query.execute(sql="SELECT COUNT(*) FROM lake.hr.employees WHERE region <> 'EU'", dialect="trino")
    assert r["rows"] == [[0]]


def test_a_user_without_select_is_told_the_dataset_is_unknown(k):
    bob = as_user(k, "bob")
    with pytest.raises(SyscallError) as e:
        bob.query.execute(sql="select 1 from lake.hr.employees")
    assert e.value.code == "ENOENT" and e.value.message == "unknown relation lake.hr.employees"


@pytest.mark.parametrize("sql, code", [
    ("drop table lake.hr.employees", "EACCES"),
    ("select * from read_parquet('/etc/passwd')", "EACCES"),
    ("select * from lake.hr.nothing", "ENOENT"),
    ("select * from information_schema.tables", "ENOENT"),
    ("selec 1", "EINVAL"),
])
def test_forbidden_and_bad_sql(k, sql, code):
    with pytest.raises(SyscallError) as e:
        as_user(k, "ana").query.execute(sql=sql)
    assert e.value.code == code
    assert not any(email in e.value.message for email in EMAILS)


def test_limits_and_timeouts(k):
    r = k.query.execute(sql="select id from lake.hr.employees order by id", limit=10)
    assert r["row_count"] == 10 and r["truncated"] is True
    with pytest.raises(SyscallError) as e:
        k.query.execute(sql="select count(*) from lake.hr.employees a, lake.hr.employees b, lake.hr.employees c, "
                            "lake.hr.employees d", timeout=0.3)
    assert e.value.code == "ETIMEDOUT"


def test_history_records_who_what_and_which_policies(k):
    ana = as_user(k, "ana")
    ana.query.execute(sql="select count(*) from lake.hr.employees")
    with pytest.raises(SyscallError):
        ana.query.execute(sql="drop table x")
    mine = ana.query.history()
    assert [(h["user"], h["errno"]) for h in mine] == [("ana", "EACCES"), ("ana", None)]
    assert mine[1]["policies"] == ["eu-only", "mask-email"] and "dataos://lake:hr/employees" in mine[1]["rewritten"]
    with pytest.raises(SyscallError) as e:
        ana.query.history(user="root")  # someone else's: not without read on /gateway/history
    assert e.value.code == "EACCES"
    assert len(k.query.history(limit=100)) >= 2


def test_a_duckdb_depot_is_queryable_once_applied(k, tmp_path):
    db = tmp_path / "wh.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE main.customers AS SELECT range AS id, 'c' || range AS name FROM range(3)")
    k.resource.apply(manifests=[{"name": "wh", "version": "v1", "type": "depot",
                                 "depot": {"type": "duckdb", "duckdb": {"path": str(db)}}}])
    r = k.query.execute(sql="select count(*) from wh.main.customers")
    assert r["rows"] == [[3]] and r["governance"]["datasets"] == ["dataos://wh:main/customers"]
    r = k.query.execute(sql="select name from customers order by id", depot="wh", collection="main")
    assert [row[0] for row in r["rows"]] == ["c0", "c1", "c2"]


def test_a_sqlite_depot_is_queryable_through_the_bundled_scanner(k, tmp_path):
    import sqlite3
    db = tmp_path / "app.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE users (id INTEGER, email TEXT)")
        con.executemany("INSERT INTO users VALUES (?, ?)", [(1, "x@example.com"), (2, "y@example.com")])
    k.resource.apply(manifests=[{"name": "app", "version": "v1", "type": "depot",
                                 "depot": {"type": "sqlite", "sqlite": {"path": str(db)}}}])
    r = k.query.execute(sql="select count(*) from app.main.users")
    assert r["rows"] == [[2]]


@pytest.mark.parametrize("name", ['".."', '"."', '".hidden"', '"../hr"', '"employees/.."'])
def test_a_dataset_name_cannot_climb_out_of_its_collection(k, name):
    """`lake.hr.".."` would read every file of the depot as one dataset, past per-dataset grants."""
    ana = as_user(k, "ana")
    for client in (k, ana):
        with pytest.raises(SyscallError) as e:
            client.query.execute(sql=f"select * from lake.hr.{name}")
        assert e.value.code in ("EACCES", "ENOENT", "EINVAL")
