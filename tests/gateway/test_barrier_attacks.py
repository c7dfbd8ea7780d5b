"""Attacks on the security barrier (`kernel.gateway.leakproof`): user expressions that fail, or fail
only when some hidden row holds a value, must not run on rows a row filter hides.

The vault's hidden row holds values chosen to make such expressions fail with the value in the
message: text that is not a number, an INTEGER at its maximum, a date past the timestamps' range,
decimals and a HUGEINT that overflow a common type. Its row filter is a policy expression with a
subquery, which the engine plans as a join: it pushes the user's predicates below it, into the scan.

Whether the engine ever runs a user expression before the filter is its optimizer's choice, so the
tests take the worst case: the planned query with the policy's WHERE taken out of the governed
table (what the barrier guards must hold without it). The control shows each attack fails with
the hidden value when it meets the raw row. Each predicate the barrier calls leakproof (moved next
to the filter, or left ungated) must answer as on the visible rows, and hold on the hidden one.
"""
from __future__ import annotations

import pytest

from kernel.gateway import Dataset, parse_data_policy

HIDDEN = ("SECRET-7731", "2147483647", "5000000", "9999999999999", "170141183460469231731687303715884105727")
VAULT = Dataset("lab", "vault", "vault", {"id": "INTEGER", "region": "VARCHAR", "s": "VARCHAR", "n": "INTEGER",
                                          "d": "DATE", "m": "DECIMAL(18,2)", "h": "HUGEINT",
                                          "a": "DECIMAL(15,2)"})
ALLOWED = Dataset("lab", "vault", "allowed", {"id": "INTEGER"})
ROWS = [(1, "EU", "12", 5, "2024-01-01", "1.50", "1", "1.25"), (2, "EU", "34", 6, "2024-02-01", "2.50", "2", "-3"),
        (3, "XX", "SECRET-7731", 2147483647, "5000000-01-01", "9999999999999999.99",
         "170141183460469231731687303715884105727", "9999999999999.99")]
POLICIES = {
    "subquery": parse_data_policy("allowed-ids", {
        "type": "filter", "priority": 1, "dataset_id": "lab.vault.vault", "selector": {"user": {"tags": ["roles:id:user"]}},
        "filters": [{"expression": "id IN (SELECT id FROM lab.vault.allowed)"}]}),
    "literal": parse_data_policy("eu-only", {
        "type": "filter", "priority": 1, "dataset_id": "lab.vault.vault", "selector": {"user": {"tags": ["roles:id:user"]}},
        "filters": [{"column": "region", "operator": "equals", "value": "EU"}]}),
}

ATTACKS = [  # (id, query): each fails on the hidden row, or only because the hidden row is there
    ("cast", "SELECT id FROM vault WHERE CAST(s AS INTEGER) = 12"),
    ("implicit cast", "SELECT id FROM vault WHERE s = 12"),
    ("integer overflow", "SELECT id FROM vault WHERE n + n > 0"),
    ("decimal overflow", "SELECT id FROM vault WHERE m * m > 0"),
    ("date to timestamp", "SELECT id FROM vault WHERE d < now()"),
    ("hugeint to decimal", "SELECT id FROM vault WHERE h = m"),
    ("through a derived name", "SELECT v FROM (SELECT s AS v FROM vault) t WHERE CAST(v AS INTEGER) = 12"),
    ("through a positional name", "SELECT * FROM (SELECT s FROM vault) AS t(v) WHERE CAST(v AS INTEGER) = 12"),
    ("constant that fails, behind a leakproof test", "SELECT id FROM vault WHERE s = 'SECRET-7731' "
                                                     "AND CAST('x' AS INTEGER) = 1"),
    ("regexp", "SELECT id FROM vault WHERE regexp_matches(s, '^SECRET') AND CAST(s AS INTEGER) = 1"),
]

LEAKPROOF = [  # (id, predicate): moved into the governed table, or left ungated
    ("date range as a date", "d <= DATE '2024-01-01' + INTERVAL '1' DAY"),
    ("decimal sum", "a + a > 0"),  # DECIMAL(16,2): no 15-digit pair overflows it
    ("like", "s LIKE 'SEC%' OR s LIKE '1%'"),
    ("between", "n BETWEEN 1 AND 10"),
    ("in list", "n IN (5, 7)"),
    ("substring", "substring(s, 1, 3) = 'SEC' OR substring(s, 1, 1) = '3'"),
    ("lower", "lower(s) = '12'"),
    ("extract", "extract(year FROM d) = 2024"),
    ("cast to text", "CAST(n AS VARCHAR) = '6'"),
    ("try_cast", "TRY_CAST(s AS INTEGER) = 12"),
    ("is null", "NOT s IS NULL"),
    ("date literal", "d = '2024-02-01'"),
    ("case", "CASE WHEN n > 5 THEN s ELSE 'x' END = '34'"),
]


@pytest.fixture(scope="module")
def vault(world):
    world.con.execute("CREATE OR REPLACE TABLE barrier_vault (id INTEGER, region VARCHAR, s VARCHAR, n INTEGER, "
                      "d DATE, m DECIMAL(18,2), h HUGEINT, a DECIMAL(15,2))")
    world.con.executemany("INSERT INTO barrier_vault VALUES (?, ?, ?, ?, ?, ?, ?, ?)", ROWS)
    world.con.execute("CREATE OR REPLACE TABLE barrier_allowed AS SELECT * FROM (VALUES (1), (2)) t(id)")
    world.expose(VAULT, '"memory"."main"."barrier_vault"')
    world.expose(ALLOWED, '"memory"."main"."barrier_allowed"')
    return world


def run(world, sql: str, policy: str) -> tuple[list | None, str | None]:
    """(rows, None) or (None, the error's text)."""
    datasets = {"vault": VAULT, "allowed": ALLOWED}
    try:
        rows = world.run(sql, resolve=lambda name, *_: datasets.get(name.lower()), policies=[POLICIES[policy]],
                         default_depot="lab", default_collection="vault")
        return sorted(rows), None
    except Exception as e:  # the engine's error, as the Gateway would pass it on
        return None, str(e)


def worst_case(world, sql: str, policy: str) -> str | None:
    """The error (or None) of `sql` planned, with the policy's WHERE taken out of the governed table:
    every user expression then meets the hidden row, as if the engine ran it before the filter."""
    datasets = {"vault": VAULT, "allowed": ALLOWED}
    planned = world.plan(sql, resolve=lambda name, *_: datasets.get(name.lower()), policies=[POLICIES[policy]],
                         default_depot="lab", default_collection="vault").sql
    condition = CONDITIONS[policy]
    assert f'AS "gw_source" WHERE {condition}' in planned
    try:
        world.con.execute(planned.replace(f'AS "gw_source" WHERE {condition}', 'AS "gw_source" WHERE TRUE')).fetchall()
    except Exception as e:
        return str(e)
    return None


CONDITIONS = {"literal": '"gw_source"."region" = \'EU\'',
              "subquery": '"gw_source"."id" IN (SELECT "id" FROM "temp"."main"."dataos://lab:vault/allowed" AS "allowed")'}


def leaked(rows: list | None, error: str | None) -> list[str]:
    text = f"{rows} {error}"
    return [value for value in HIDDEN if value in text]


def raw(sql: str) -> str:
    return sql.replace("FROM vault", "FROM barrier_vault")


@pytest.mark.parametrize("sql", [sql for _, sql in ATTACKS], ids=[name for name, _ in ATTACKS])
def test_the_attack_fails_on_the_hidden_row_unguarded(vault, sql):
    # the control: run before the filter, on the raw row, the expression tells the hidden value
    def error(text: str) -> str | None:
        try:
            vault.con.execute(raw(text)).fetchall()
        except Exception as e:
            return str(e)
        return None
    if "CAST('x'" in sql:  # the oracle: an error exactly when a hidden row matches
        assert error(sql) and not error(sql.replace("SECRET-7731", "NOPE"))
    else:
        assert leaked(None, error(sql))


@pytest.mark.parametrize("policy", sorted(POLICIES))
@pytest.mark.parametrize("sql", [sql for _, sql in ATTACKS], ids=[name for name, _ in ATTACKS])
def test_the_barrier_keeps_failing_expressions_off_hidden_rows(vault, sql, policy):
    rows, error = run(vault, sql, policy)
    assert not leaked(rows, error), (rows, error)
    worst = worst_case(vault, sql, policy)
    assert not leaked(None, worst), worst
    if "CAST('x'" in sql:  # no error to tell the hidden row by
        assert (rows, error) == run(vault, sql.replace("SECRET-7731", "NOPE"), policy)
        assert worst == worst_case(vault, sql.replace("SECRET-7731", "NOPE"), policy)


@pytest.mark.parametrize("policy", sorted(POLICIES))
@pytest.mark.parametrize("predicate", [p for _, p in LEAKPROOF], ids=[name for name, _ in LEAKPROOF])
def test_leakproof_predicates_answer_as_on_the_visible_rows_and_hold_on_hidden_ones(vault, predicate, policy):
    sql = f"SELECT id FROM vault WHERE {predicate}"
    rows, error = run(vault, sql, policy)
    expected = vault.con.execute(f"SELECT id FROM barrier_vault WHERE region = 'EU' AND ({predicate})").fetchall()
    assert error is None and rows == sorted(expected)
    assert worst_case(vault, sql, policy) is None  # what the barrier lets meet hidden rows holds there


@pytest.mark.parametrize("predicate", [p for _, p in LEAKPROOF if "CASE" not in p],
                         ids=[name for name, p in LEAKPROOF if "CASE" not in p])
def test_leakproof_predicates_move_into_the_governed_table_and_gate_nothing(vault, predicate):
    planned = vault.plan(f"SELECT id FROM vault WHERE {predicate}", resolve=lambda name, *_: VAULT,
                         policies=[POLICIES["literal"]], default_depot="lab", default_collection="vault").sql
    inner, outer = planned.rsplit(") AS ", 1)
    assert "CASE WHEN" not in planned and '"gw_source"' in inner.rsplit("WHERE", 1)[1] and "WHERE" not in outer


def test_a_masked_column_is_not_compared_raw_inside(vault):
    hashed = parse_data_policy("hash-s", {"type": "mask", "priority": 1, "dataset_id": "lab.vault.vault",
                                          "selector": {"user": {"tags": ["roles:id:user"]}, "column": {"names": ["s"]}},
                                          "mask": {"operator": "hash", "hash": {"algo": "sha256"}}})
    planned = vault.plan("SELECT id FROM vault WHERE s = '12'", resolve=lambda name, *_: VAULT,
                         policies=[POLICIES["literal"], hashed], default_depot="lab", default_collection="vault")
    assert vault.con.execute(planned.sql).fetchall() == []  # '12' is the raw value: the mask hides it
    assert '"gw_source"."s" = \'12\'' not in planned.sql
