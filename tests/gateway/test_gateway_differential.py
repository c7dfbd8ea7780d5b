"""Differential test: on random small tables, the Gateway's answer to a few query shapes equals a
hand-written masked query over the raw table (raw SQL for the filter, Python for the masks)."""
from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kernel.gateway import Dataset, parse_data_policy

COLUMNS = {"id": "INTEGER", "email": "VARCHAR", "region": "VARCHAR", "age": "INTEGER", "phone": "VARCHAR"}
BUCKETS = [0, 18, 40, 65]
POLICIES = [
    parse_data_policy("eu", {"type": "filter", "priority": 5, "selector": {"user": {"tags": ["roles:id:user"]}},
                             "filters": [{"column": "region", "operator": "in", "value": ["EU", "UK"]}]}),
    parse_data_policy("ages", {"type": "mask", "priority": 5, "selector": {
        "user": {"tags": ["roles:id:user"]}, "column": {"names": ["age"]}},
        "mask": {"operator": "bucket_number", "bucket_number": {"buckets": BUCKETS}}}),
]
DATASET = Dataset("lab", "diff", "people", COLUMNS, '"memory"."main"."diff_people"',
                  {"email": frozenset({"PII.Email"}), "phone": frozenset({"PII.PhoneNumber"})})

rows_strategy = st.lists(st.tuples(
    st.sampled_from(["a@x.io", "b@x.io", "c@y.io", "O'Neil@z.io", "", None]),
    st.sampled_from(["EU", "UK", "US", None]),
    st.one_of(st.none(), st.integers(-5, 99)),
    st.one_of(st.none(), st.sampled_from(["+44 1", "+1 2", "''"])),
), max_size=8)


@pytest.fixture(scope="module")
def lab(world):
    world.con.execute("CREATE OR REPLACE TABLE diff_people (id INTEGER, email VARCHAR, region VARCHAR, age INTEGER, "
                      "phone VARCHAR)")
    return world


def _bucket(age: int | None) -> int | None:
    if age is None:
        return None
    return max((b for b in BUCKETS if age >= b), default=None)


def _visible(lab, rows: list[tuple]) -> list[tuple]:
    """The hand-written governed view: raw rows the filter keeps, masked in Python."""
    lab.con.execute("DELETE FROM diff_people")
    if rows:
        lab.con.executemany("INSERT INTO diff_people VALUES (?, ?, ?, ?, ?)", [(i, *r) for i, r in enumerate(rows)])
    raw = lab.con.execute("SELECT * FROM diff_people WHERE region IN ('EU', 'UK') ORDER BY id").fetchall()
    return [(i, None if e is None else lab.hmac_hex(e), region, _bucket(age), None if p is None else "#####")
            for i, e, region, age, p in raw]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=rows_strategy, threshold=st.integers(-5, 99))
def test_gateway_equals_the_hand_masked_query(lab, rows, threshold):
    view = _visible(lab, rows)

    def run(sql: str) -> list[tuple]:
        return lab.run(sql, resolve=lambda *_: DATASET, policies=POLICIES)

    assert run("SELECT * FROM people ORDER BY id") == view
    assert Counter(run("SELECT email, count(*) FROM people GROUP BY email")) == \
        Counter(Counter(v[1] for v in view).items())
    assert run(f"SELECT id FROM people WHERE age >= {threshold} ORDER BY id") == \
        [(v[0],) for v in view if v[3] is not None and v[3] >= threshold]
    assert sorted(run("SELECT a.id, b.id FROM people a JOIN people b ON a.email = b.email")) == \
        sorted((a[0], b[0]) for a in view for b in view if a[1] is not None and a[1] == b[1])
    assert run("SELECT max(phone), count(phone), count(*) FROM people") == \
        [(max((v[4] for v in view if v[4]), default=None), sum(v[4] is not None for v in view), len(view))]
