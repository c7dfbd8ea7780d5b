"""Rows written behind the caller (query history): a reader who flushes sees every row put before
it, a write that fails loses nothing and is retried, and closing writes what is left."""
from __future__ import annotations

import time

import pytest

from kernel.store.sqlite import SQLiteStore
from kernel.writebehind import WriteBehind

INSERT = "INSERT INTO t (n) VALUES (?)"


def numbers(db: SQLiteStore) -> list[int]:
    return [r["n"] for r in db.query("SELECT n FROM t ORDER BY n")]


@pytest.fixture
def db(tmp_path):
    return SQLiteStore(tmp_path / "t.db", ["CREATE TABLE t (n INTEGER)"])


def test_a_reader_who_flushes_sees_every_row_put_before(db):
    rows = WriteBehind(db, INSERT, "test rows")
    for n in range(500):
        rows.put((n,))
    rows.flush()
    assert numbers(db) == list(range(500))
    rows.close()


def test_a_failing_write_keeps_its_rows_and_is_retried(tmp_path, caplog):
    db = SQLiteStore(tmp_path / "t.db", [])  # no table yet: every write fails
    rows = WriteBehind(db, INSERT, "test rows")
    rows.put((1,))
    rows.put((2,))
    start = time.monotonic()
    rows.flush()  # does not wait for a writer that fails
    assert time.monotonic() - start < 5
    assert rows.unwritten() == [(1,), (2,)]
    assert "test rows failed; retrying" in caplog.text
    with db.transaction() as c:
        c.execute("CREATE TABLE t (n INTEGER)")
    rows.put((3,))
    deadline = time.monotonic() + 10
    while rows.unwritten() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert numbers(db) == [1, 2, 3] and rows.unwritten() == []
    rows.close()


def test_closing_writes_what_is_left(db):
    rows = WriteBehind(db, INSERT, "test rows")
    rows.put((7,))
    rows.close()
    assert numbers(db) == [7]
