"""Golden tests: every mask operator and every filter operator, planned and run on DuckDB."""
from __future__ import annotations

import datetime as dt
import hmac
import re
from hashlib import sha256
from typing import Any

import pytest

from kernel.gateway import Dataset, parse_data_policy

ROWS = [
    (1, "alice@x.com", 17, dt.date(2024, 5, 17), dt.datetime(2024, 5, 17, 13, 45), 1.5),
    (2, "bob@y.org", 42, dt.date(2023, 11, 30), dt.datetime(2023, 11, 30, 8, 0), 70.0),
    (3, None, None, None, None, None),
    (4, "", -3, dt.date(2024, 1, 1), dt.datetime(2024, 1, 1), -1.0),
]
COLUMNS = {"id": "INTEGER", "s": "VARCHAR", "n": "INTEGER", "d": "DATE", "ts": "TIMESTAMP", "x": "DOUBLE"}
GOLDEN = Dataset("lab", "gold", "golden", COLUMNS)


@pytest.fixture(scope="module")
def lab(world):
    world.con.execute("CREATE OR REPLACE TABLE golden (id INTEGER, s VARCHAR, n INTEGER, d DATE, ts TIMESTAMP, "
                      "x DOUBLE)")
    world.con.executemany("INSERT INTO golden VALUES (?, ?, ?, ?, ?, ?)", ROWS)
    world.expose(GOLDEN, '"memory"."main"."golden"')
    return world


def masked(lab, column: str, mask: dict, select: str | None = None, tags: dict | None = None,
           key: bytes | None = None) -> list[Any]:
    """`select` (default: the column) per row, ordered by id, with `mask` on `column`."""
    policy = parse_data_policy("m", {"type": "mask", "priority": 1, "selector": {
        "user": {"tags": ["roles:id:user"]}, "column": {"names": [column]}}, "mask": mask})
    dataset = Dataset("lab", "gold", "golden", COLUMNS, tags or {})
    rows = lab.run(f"SELECT {select or column} FROM golden ORDER BY id", resolve=lambda *_: dataset,
                   policies=[policy], **({"key": key} if key else {}))
    return [row[0] for row in rows]


def filtered(lab, *filters: dict, user_tags: frozenset[str] | None = None) -> list[int]:
    policies = [parse_data_policy(f"f{i}", {"type": "filter", "priority": 1, "selector": {
        "user": {"tags": ["roles:id:user"]}}, "filters": [f]}) for i, f in enumerate(filters)]
    rows = lab.run("SELECT id FROM golden ORDER BY id", resolve=lambda *_: GOLDEN, policies=policies,
                   **({"user_tags": user_tags} if user_tags is not None else {}))
    return [row[0] for row in rows]


# --- masks -----------------------------------------------------------------------------------------

def test_hash_is_hmac_sha256_with_the_key(lab):
    expected = [lab.hmac_hex(v) if v is not None else None for v in (r[1] for r in ROWS)]
    assert masked(lab, "s", {"operator": "hash", "hash": {"algo": "sha256"}}) == expected


def test_hash_of_a_number_hashes_its_text_and_is_a_string(lab):
    assert masked(lab, "n", {"operator": "hash"}) == [lab.hmac_hex("17"), lab.hmac_hex("42"), None,
                                                      lab.hmac_hex("-3")]
    assert set(masked(lab, "n", {"operator": "hash"}, "typeof(n)")) == {"VARCHAR"}


def test_hash_depends_on_the_key(lab):
    mask = {"operator": "hash"}
    assert masked(lab, "s", mask, key=b"another-key-0123456789")[:2] != masked(lab, "s", mask)[:2]


def test_keys_longer_than_a_block_are_hashed_first_as_in_rfc_2104(lab):
    key = bytes(range(100))
    assert masked(lab, "s", {"operator": "hash"}, key=key)[0] == hmac.new(key, b"alice@x.com", sha256).hexdigest()


def test_redact_strings_become_the_replacement_and_null_stays_null(lab):
    assert masked(lab, "s", {"operator": "redact"}) == ["#####", "#####", None, "#####"]
    replaced = masked(lab, "s", {"operator": "redact", "redact": {"replacement": "[gone]"}})
    assert replaced == ["[gone]", "[gone]", None, "[gone]"]


@pytest.mark.parametrize("column, type_name", [("n", "INTEGER"), ("d", "DATE"), ("ts", "TIMESTAMP"), ("x", "DOUBLE")])
def test_redact_other_types_become_typed_null(lab, column, type_name):
    assert masked(lab, column, {"operator": "redact"}) == [None] * 4
    assert set(masked(lab, column, {"operator": "redact"}, f"typeof({column})")) == {type_name}


def test_bucket_number_gives_the_lower_bound_keeping_the_type(lab):
    mask = {"operator": "bucket_number", "bucket_number": {"buckets": [0, 18, 65]}}
    assert masked(lab, "n", mask) == [0, 18, None, None]
    assert masked(lab, "x", mask) == [0.0, 65.0, None, None]
    assert set(masked(lab, "n", mask, "typeof(n)")) == {"INTEGER"}
    assert masked(lab, "s", mask) == [None] * 4  # not a number: fails closed


@pytest.mark.parametrize("precision, expected", [
    ("day", [dt.date(2024, 5, 17), dt.date(2023, 11, 30), None, dt.date(2024, 1, 1)]),
    ("week", [dt.date(2024, 5, 13), dt.date(2023, 11, 27), None, dt.date(2024, 1, 1)]),
    ("month", [dt.date(2024, 5, 1), dt.date(2023, 11, 1), None, dt.date(2024, 1, 1)]),
    ("quarter", [dt.date(2024, 4, 1), dt.date(2023, 10, 1), None, dt.date(2024, 1, 1)]),
    ("year", [dt.date(2024, 1, 1), dt.date(2023, 1, 1), None, dt.date(2024, 1, 1)]),
])
def test_bucket_date_truncates_dates(lab, precision, expected):
    assert masked(lab, "d", {"operator": "bucket_date", "bucket_date": {"precision": precision}}) == expected


def test_bucket_date_keeps_timestamps_and_fails_closed_on_other_types(lab):
    mask = {"operator": "bucket_date", "bucket_date": {"precision": "month"}}
    assert masked(lab, "ts", mask) == [dt.datetime(2024, 5, 1), dt.datetime(2023, 11, 1), None, dt.datetime(2024, 1, 1)]
    assert masked(lab, "s", mask) == [None] * 4


def test_regex_replace_replaces_every_match(lab):
    mask = {"operator": "regex_replace", "regex_replace": {"pattern": "[a-z]", "replacement": "*"}}
    assert masked(lab, "s", mask) == ["*****@*.***", "***@*.***", None, ""]
    assert masked(lab, "n", {"operator": "regex_replace", "regex_replace": {"pattern": "\\d", "replacement": "9"}}) \
        == ["99", "99", None, "-9"]


def test_rand_pattern_makes_random_digits_in_the_pattern(lab):
    mask = {"operator": "rand_pattern", "rand_pattern": {"pattern": "ID-###.#"}}
    first, second = masked(lab, "s", mask), masked(lab, "s", mask)
    assert first[2] is None
    assert all(re.fullmatch(r"ID-\d{3}\.\d", v) for v in first[:2] + first[3:])
    assert first != second


def test_pass_through_beats_a_pii_default_when_its_priority_is_lower(lab):
    tags = {"s": frozenset({"PII.Email"})}
    assert masked(lab, "s", {"operator": "pass_through"}, tags=tags) == [r[1] for r in ROWS]


def test_pii_tags_mask_by_default(lab):
    dataset = Dataset("lab", "gold", "golden", COLUMNS,
                      {"s": frozenset({"PII.Email"}), "d": frozenset({"PII.DateOfBirth"}),
                       "n": frozenset({"PII.Income"})})
    rows = lab.run("SELECT s, d, n FROM golden ORDER BY id", resolve=lambda *_: dataset, policies=[])
    assert rows[0] == (lab.hmac_hex("alice@x.com"), dt.date(2024, 1, 1), None)
    reader = lab.run("SELECT s, d, n FROM golden ORDER BY id", resolve=lambda *_: dataset, policies=[],
                     user_tags=frozenset({"roles:id:pii-reader"}))
    assert reader[0] == ("alice@x.com", dt.date(2024, 5, 17), 17)


# --- filters ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("operator, value, ids", [
    ("equals", 42, [2]),
    ("not_equals", 42, [1, 4]),
    ("greater_than", 17, [2]),
    ("greater_than_equals", 17, [1, 2]),
    ("less_than", 17, [4]),
    ("less_than_equals", 17, [1, 4]),
    ("in", [17, -3, 99], [1, 4]),
    ("not_in", [17], [2, 4]),
])
def test_filter_operators(lab, operator, value, ids):
    assert filtered(lab, {"column": "n", "operator": operator, "value": value}) == ids


def test_filters_on_strings_and_dates(lab):
    assert filtered(lab, {"column": "s", "operator": "equals", "value": "bob@y.org"}) == [2]
    assert filtered(lab, {"column": "d", "operator": "greater_than", "value": "2024-01-01"}) == [1]


def test_filter_policies_are_anded(lab):
    assert filtered(lab, {"column": "n", "operator": "greater_than", "value": 0},
                    {"column": "x", "operator": "less_than", "value": 10}) == [1]


def test_a_filter_on_a_missing_column_hides_every_row(lab):
    assert filtered(lab, {"column": "nope", "operator": "equals", "value": 1}) == []


def test_filters_of_other_users_do_not_apply(lab):
    assert filtered(lab, {"column": "n", "operator": "equals", "value": 42},
                    user_tags=frozenset({"roles:id:analyst"})) == [1, 2, 3, 4]


GUARD = 'CASE WHEN "gw_source"."n" = 42 THEN "gw_source"."{}" END'


@pytest.mark.parametrize("sql, guarded", [
    ("SELECT s FROM golden WHERE d > DATE '2024-01-01' AND s LIKE 'a%'", set()),  # leakproof: nothing to gate
    ("SELECT CAST(s AS INTEGER) FROM golden", {"s"}),  # a cast can fail on a hidden row's value
    ("SELECT id FROM golden WHERE s = 5", {"id", "s"}),  # a filter that can fail may run next to any other
    ("SELECT t.v FROM (SELECT id + n AS v FROM golden) t", {"id", "n"}),  # integer sums overflow, under any name
    ("SELECT id FROM golden UNION SELECT n FROM golden WHERE x > 1", {"id", "n", "x"}),  # positional: all it reads
    ("SELECT s FROM golden", set()),
])
def test_hidden_rows_show_only_nulls_to_what_could_fail_on_them(lab, sql, guarded):
    policy = parse_data_policy("f", {"type": "filter", "priority": 1, "selector": {"user": {"tags": ["roles:id:user"]}},
                                     "filters": [{"column": "n", "operator": "equals", "value": 42}]})
    planned = lab.plan(sql, resolve=lambda *_: GOLDEN, policies=[policy]).sql
    assert {column for column in COLUMNS if GUARD.format(column) in planned} == guarded  # (of those it selects)
