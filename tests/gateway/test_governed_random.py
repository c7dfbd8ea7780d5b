"""Random differential test: random small tables, random data policies (row filters and masks of
the operator forms, and policy expressions: filters with subqueries over the other dataset, masks
over the row) and random queries; the Gateway's answer equals the same query's on views a
person would write for the same policies (the filters in WHERE, the masks in the select list),
as multisets, or both raise.

Two governed datasets, `lab.rnd.a` and `lab.rnd.b` (k, n INTEGER; d DECIMAL(15,2); s VARCHAR;
dt DATE), on one DuckDB connection: the raw rows in `main.a` / `main.b` (so a table reference the
rewrite missed reads raw rows), the engine's views by address over them, the hand-written views
in schema `hand`. The queries exercise predicate pushdown and guards: comparisons, BETWEEN, IN,
LIKE, IS NULL, OR, NOT against literals (dates plus intervals too), column against column, joins
(inner, left, comma), GROUP BY, arithmetic, IN / EXISTS / scalar subqueries and a derived table
filtered on its output. Predicates that could fail on a row (overflow) appear in select lists
only: in a WHERE the hand-written views do not promise when the engine evaluates them.
"""
from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from decimal import Decimal
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernel.gateway import Dataset, GatewayError, parse_data_policy, plan
from kernel.gateway.masks import KEYED_HASH, keyed_hash, view_name

COLUMNS = {"k": "INTEGER", "n": "INTEGER", "d": "DECIMAL(15,2)", "s": "VARCHAR", "dt": "DATE"}
TABLES = ("a", "b")
DATASETS = {t: Dataset("lab", "rnd", t, dict(COLUMNS)) for t in TABLES}
USER_TAGS = frozenset({"users:id:alice", "roles:id:user"})

INTS = [0, 1, -1, 3, 42, 2147483647, -2147483648]
DECIMALS = [Decimal("0.00"), Decimal("1.50"), Decimal("-0.01"), Decimal("100.00"), Decimal("9999999999999.99"),
            Decimal("-9999999999999.99")]
TEXTS = ["", "a", "A", "abc", "O'Neil", "ä", "%", "_x", " "]
DATES = [dt.date(1, 1, 1), dt.date(1970, 1, 1), dt.date(1995, 3, 1), dt.date(1995, 3, 15), dt.date(2000, 2, 29),
         dt.date(9999, 12, 31)]
VALUES = {"k": [0, 1, 2, 3], "n": INTS, "d": DECIMALS, "s": TEXTS, "dt": DATES}
MASKS = {"k": ("redact", "bucket_number", "pass_through"), "n": ("redact", "bucket_number", "pass_through"),
         "d": ("redact", "bucket_number", "pass_through"), "s": ("hash", "redact", "bucket_number", "pass_through"),
         "dt": ("redact", "bucket_number", "pass_through")}
COMPARISONS = {"equals": "=", "not_equals": "<>", "greater_than": ">", "greater_than_equals": ">=",
               "less_than": "<", "less_than_equals": "<="}


def sql_literal(value: Any) -> str:
    """`value` as a person writes it in SQL."""
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    return str(value)


def policy_value(value: Any) -> Any:
    """`value` as a policy's filter takes it (a string, number or boolean)."""
    if isinstance(value, dt.date):
        return value.isoformat()
    return float(value) if isinstance(value, Decimal) else value


# --- random data and policies ------------------------------------------------------------------

rows = st.lists(st.tuples(*(st.sampled_from([None, *VALUES[c]]) for c in COLUMNS)), min_size=1, max_size=8)


# Policy expressions: (filter SQL, with {other} the other dataset), the same over the raw tables.
FILTER_EXPRESSIONS = [
    "k IN (SELECT k FROM lab.rnd.{other} WHERE n > 0)",
    "EXISTS (SELECT 1 FROM lab.rnd.{other} o WHERE o.s = s)",
    "n > 0 OR s IS NULL",
    "lower(s) LIKE 'a%' AND dt >= DATE '1995-03-01'",
    "coalesce(d, 0) < 100 AND k <> 2",
    "k = (SELECT min(k) FROM lab.rnd.{other})",
]
MASK_EXPRESSIONS = {  # column -> expressions of the row, each TRY_CAST to the column's type
    "k": ["k * 10", "CASE WHEN n > 0 THEN k ELSE 0 END"],
    "n": ["abs(n) % 10", "n // 2"],
    "d": ["round(d, 0)", "CASE WHEN s = 'a' THEN d END"],
    "s": ["right(s, 1)", "CASE WHEN n > 0 THEN s ELSE 'x' || k END", "s || '!'"],
    "dt": ["date_trunc('month', dt)", "CASE WHEN k = 1 THEN dt END"],
}


@st.composite
def filters(draw) -> tuple[str, str, Any]:
    if draw(st.integers(0, 3)) == 0:
        return "expression", draw(st.sampled_from(FILTER_EXPRESSIONS)), None
    column = draw(st.sampled_from(sorted(COLUMNS)))
    op = draw(st.sampled_from(sorted([*COMPARISONS, "in", "not_in"])))
    value = st.sampled_from(VALUES[column])
    return column, op, (draw(st.lists(value, min_size=1, max_size=3)) if op in ("in", "not_in") else draw(value))


@st.composite
def masks(draw) -> dict[str, tuple[str, list[int]]]:
    columns = draw(st.lists(st.sampled_from(sorted(COLUMNS)), unique=True, max_size=3))
    buckets = st.lists(st.sampled_from([-5, 0, 1, 10, 100]), min_size=1, max_size=3, unique=True).map(sorted)
    out = {}
    for c in columns:
        op = draw(st.sampled_from([*MASKS[c], "expression"]))
        out[c] = (op, draw(st.sampled_from(MASK_EXPRESSIONS[c])) if op == "expression" else draw(buckets))
    return out


governance = st.fixed_dictionaries({t: st.tuples(st.lists(filters(), max_size=2), masks()) for t in TABLES})


def data_policies(rules: dict) -> list:
    """The Gateway's policies for `rules` (table → (filters, masks)): one policy per filter or mask."""
    out = []
    for table, (row_filters, column_masks) in rules.items():
        base = {"dataset_id": f"lab.rnd.{table}", "priority": 10}
        for i, (column, op, value) in enumerate(row_filters):
            if column == "expression":
                spec = {"expression": op.format(other=_other(table))}
            else:
                value = [policy_value(v) for v in value] if isinstance(value, list) else policy_value(value)
                spec = {"column": column, "operator": op, "value": value}
            out.append(parse_data_policy(f"{table}-filter-{i}", {
                **base, "type": "filter", "selector": {"user": {"tags": ["roles:id:user"]}}, "filters": [spec]}))
        for column, (op, params) in column_masks.items():
            mask = {"operator": op, **({op: {"buckets": params}} if op == "bucket_number" else {}),
                    **({op: {"sql": params}} if op == "expression" else {})}
            out.append(parse_data_policy(f"{table}-mask-{column}", {
                **base, "type": "mask", "selector": {"user": {"tags": ["roles:id:user"]}, "column": {"names": [column]}},
                "mask": mask}))
    return out


def hand_view(table: str, row_filters: list, column_masks: dict) -> str:
    """The view a person writes for the policies: the masks in the select list, the filters in WHERE."""
    def masked(column: str) -> str:
        op, buckets = column_masks.get(column, ("pass_through", []))
        kind = COLUMNS[column]
        if op == "expression":
            return f"TRY_CAST(({buckets}) AS {kind})"
        if op == "hash":
            return f"{KEYED_HASH}({column})"
        if op == "redact":
            return f"CASE WHEN {column} IS NULL THEN NULL ELSE '#####' END" if kind == "VARCHAR" \
                else f"CAST(NULL AS {kind})"
        if op == "bucket_number":
            if kind not in ("INTEGER", "DECIMAL(15,2)"):
                return f"CAST(NULL AS {kind})"
            return "CASE " + " ".join(f"WHEN {column} >= {b} THEN CAST({b} AS {kind})" for b in reversed(buckets)) \
                + " END"
        return column

    def kept(column: str, op: str, value: Any) -> str:
        if column == "expression":
            return "(" + op.replace("lab.rnd.{other}", f"main.{_other(table)}") + ")"
        if op in ("in", "not_in"):
            return f"{column} {'NOT IN' if op == 'not_in' else 'IN'} ({', '.join(map(sql_literal, value))})"
        return f"{column} {COMPARISONS[op]} {sql_literal(value)}"

    where = " AND ".join(kept(*f) for f in row_filters)
    return (f"SELECT {', '.join(f'{masked(c)} AS {c}' for c in COLUMNS)} FROM main.{table}"
            + (f" WHERE {where}" if where else ""))


def _other(table: str) -> str:
    return "b" if table == "a" else "a"


# --- random queries ----------------------------------------------------------------------------
# A query is a template: {a} and {b} name the tables (the Gateway's `a`, the hand-written `hand.a`).

LIKES = ["'a%'", "'%'", "'_'", "'%b%'", "'O''%'", "'\\%'"]
DATE_LITERALS = ["DATE '1995-03-01'", "DATE '1970-01-01'", "DATE '1995-03-01' + INTERVAL '14' DAY",
                 "DATE '1995-03-01' + INTERVAL 1 DAY", "DATE '2000-02-28' + INTERVAL '1' DAY", "DATE '9999-12-31'"]


@st.composite
def predicates(draw, aliases: tuple[str, ...], depth: int = 2) -> str:
    """A WHERE condition over `aliases` that cannot fail on any row (no arithmetic on columns)."""
    alias = draw(st.sampled_from(aliases))

    def col(*names: str) -> str:
        return f"{alias}.{draw(st.sampled_from(names or sorted(COLUMNS)))}"

    def lit(column: str) -> str:
        name = column.split(".")[1]
        if name == "dt" and draw(st.booleans()):
            return draw(st.sampled_from(DATE_LITERALS))
        return sql_literal(draw(st.sampled_from(VALUES[name] + ([3000000000] if name == "n" else []))))

    forms = ["compare", "between", "in", "like", "null", "columns"] + (["and", "or", "not"] if depth else [])
    form = draw(st.sampled_from(forms))
    if form == "compare":
        c = col()
        return f"{c} {draw(st.sampled_from(sorted(COMPARISONS.values())))} {lit(c)}"
    if form == "between":
        c = col()
        return f"{c} {draw(st.sampled_from(['', 'NOT ']))}BETWEEN {lit(c)} AND {lit(c)}"
    if form == "in":
        c = col()
        return f"{c} {draw(st.sampled_from(['', 'NOT ']))}IN ({', '.join(lit(c) for _ in range(draw(st.integers(1, 3))))})"
    if form == "like":
        return f"{col('s')} {draw(st.sampled_from(['', 'NOT ']))}LIKE {draw(st.sampled_from(LIKES))}"
    if form == "null":
        return f"{col()} IS {draw(st.sampled_from(['', 'NOT ']))}NULL"
    if form == "columns":
        other = draw(st.sampled_from(aliases))
        left, right = draw(st.sampled_from([("n", "k"), ("k", "n"), ("d", "n"), ("s", "s"), ("dt", "dt"), ("k", "k")]))
        return f"{alias}.{left} {draw(st.sampled_from(sorted(COMPARISONS.values())))} {other}.{right}"
    if form == "not":
        return f"NOT ({draw(predicates(aliases, depth - 1))})"
    return f"({draw(predicates(aliases, depth - 1))}) {form.upper()} ({draw(predicates(aliases, depth - 1))})"


PROJECTIONS = ["{x}.k", "{x}.n", "{x}.d", "{x}.s", "{x}.dt", "{x}.n + 1", "{x}.d * 2", "{x}.n % 7", "upper({x}.s)",
               "length({x}.s)", "coalesce({x}.s, 'none')", "{x}.dt + INTERVAL 1 DAY", "{x}.d + {x}.n",
               "CASE WHEN {x}.n > 0 THEN 'pos' ELSE 'other' END"]
AGGREGATES = ["count(*)", "count({x}.s)", "sum({x}.n)", "sum({x}.d)", "min({x}.s)", "max({x}.dt)", "avg({x}.d)",
              "count(DISTINCT {x}.k)"]


@st.composite
def queries(draw) -> str:
    t1, t2 = (f"{{{t}}}" for t in (draw(st.sampled_from(TABLES)), draw(st.sampled_from(TABLES))))

    def where(*aliases: str) -> str:
        return f" WHERE {draw(predicates(aliases))}" if draw(st.booleans()) else ""

    def select(*aliases: str) -> str:
        items = draw(st.lists(st.tuples(st.sampled_from(PROJECTIONS), st.sampled_from(aliases)), min_size=1, max_size=3))
        return ", ".join(p.format(x=x) for p, x in items)

    shape = draw(st.sampled_from(["select", "join", "comma", "group", "in", "exists", "scalar", "derived"]))
    if shape == "select":
        return f"SELECT {select('x')} FROM {t1} x{where('x')}"
    if shape == "join":
        kind = draw(st.sampled_from(["JOIN", "LEFT JOIN"]))
        key = draw(st.sampled_from(["k", "s", "dt"]))
        on = f"x.{key} = y.{key}" + (f" AND {draw(predicates(('x', 'y'), 1))}" if draw(st.booleans()) else "")
        return f"SELECT {select('x', 'y')} FROM {t1} x {kind} {t2} y ON {on}{where('x', 'y')}"
    if shape == "comma":
        return f"SELECT {select('x', 'y')} FROM {t1} x, {t2} y WHERE x.k = y.k AND {draw(predicates(('x', 'y')))}"
    if shape == "group":
        key = draw(st.sampled_from(["k", "s", "dt", "n % 7"]))
        aggregates = ", ".join(a.format(x="x") for a in draw(st.lists(st.sampled_from(AGGREGATES), min_size=1,
                                                                          max_size=3)))
        having = " HAVING count(*) > 1" if draw(st.booleans()) else ""
        return f"SELECT x.{key}, {aggregates} FROM {t1} x{where('x')} GROUP BY x.{key}{having}"
    if shape == "in":
        key = draw(st.sampled_from(["k", "s", "dt"]))
        negated = draw(st.sampled_from(["", "NOT "]))
        return f"SELECT {select('x')} FROM {t1} x WHERE x.{key} {negated}IN (SELECT y.{key} FROM {t2} y{where('y')})"
    if shape == "exists":
        negated = draw(st.sampled_from(["", "NOT "]))
        return (f"SELECT {select('x')} FROM {t1} x WHERE {negated}EXISTS "
                f"(SELECT 1 FROM {t2} y WHERE y.k = x.k AND {draw(predicates(('x', 'y'), 1))})")
    if shape == "scalar":
        aggregate = draw(st.sampled_from(["max(y.n)", "min(y.d)", "count(*)", "max(y.dt)"]))
        if draw(st.booleans()):
            return f"SELECT x.k, (SELECT {aggregate} FROM {t2} y WHERE y.k = x.k) AS m FROM {t1} x{where('x')}"
        return f"SELECT {select('x')} FROM {t1} x WHERE x.n > (SELECT min(y.n) FROM {t2} y{where('y')})"
    outer = draw(st.sampled_from(["q.m > 2", "q.m IS NULL", "q.s LIKE 'a%' OR q.m = 0", "q.dt < DATE '1996-01-01'",
                                  "q.k IN (1, 2)", "q.e >= 100"]))
    return (f"SELECT q.* FROM (SELECT x.k, x.n % 7 AS m, x.s, x.dt, x.d * 2 AS e FROM {t1} x{where('x')}) q "
            f"WHERE {outer}")


# --- the test ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def lab():
    con = duckdb.connect()
    con.create_function(KEYED_HASH, keyed_hash(b"random-test-key-0123456789abcdef"), ["VARCHAR"], "VARCHAR",
                        type="arrow", side_effects=False)
    columns = ", ".join(f"{c} {kind}" for c, kind in COLUMNS.items())
    con.execute("CREATE SCHEMA hand")
    for table, dataset in DATASETS.items():
        con.execute(f"CREATE TABLE main.{table} ({columns})")
        con.execute(f'CREATE TEMPORARY VIEW "{view_name(dataset)}" AS SELECT * FROM main.{table}')
    yield con
    con.close()


def answer(con: Any, sql: str) -> Counter | str:
    """The rows of `sql` as a multiset (floats to 12 digits), or 'error' when it fails."""
    try:
        found = con.execute(sql).fetchall()
    except duckdb.Error:
        return "error"
    return Counter(tuple(float(f"{v:.12g}") if isinstance(v, float) and math.isfinite(v) else v for v in row)
                   for row in found)


@settings(max_examples=60, derandomize=True, deadline=None)
@given(data=st.fixed_dictionaries({t: rows for t in TABLES}), rules=governance,
       templates=st.lists(queries(), min_size=1, max_size=4))
def test_the_gateway_answers_as_the_hand_written_views(lab, data, rules, templates):
    for table in TABLES:
        lab.execute(f"DELETE FROM main.{table}")
        lab.execute(f"INSERT INTO main.{table} VALUES " + ", ".join(["(?, ?, ?, ?, ?)"] * len(data[table])),
                    [v for row in data[table] for v in row])
        lab.execute(f"CREATE OR REPLACE VIEW hand.{table} AS {hand_view(table, *rules[table])}")
    policies = data_policies(rules)
    for template in templates:
        sql = template.format(a="a", b="b")
        want = answer(lab, template.format(a="hand.a", b="hand.b"))
        try:
            governed = plan(sql, resolve=lambda name, collection, depot: DATASETS.get(name)
                            if (depot, collection) == ("lab", "rnd") else None,
                            can_select=lambda d: True, policies=policies, user_tags=USER_TAGS,
                            default_depot="lab", default_collection="rnd").sql
        except GatewayError as e:
            assert want == "error", f"refused: {e}\n{sql}"
            continue
        assert answer(lab, governed) == want, f"{sql}\n-- governed as --\n{governed}"
