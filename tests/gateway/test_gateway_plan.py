"""The planning pipeline: what a `Plan` reports, name resolution, errors, the allowlist, and speed."""
from __future__ import annotations

import statistics
import time

import pytest
from sqlglot import exp

from kernel.gateway import Dataset, GatewayError, parse_data_policy, plan
from kernel.gateway.functions import ALLOWED_CLASSES


def test_the_leak_detector_sees_raw_rows(world):
    raw = [world.con.execute(f"SELECT * FROM {table}").fetchall() for table in ("employees", "departments", "orders")]
    assert len(world.leaks(raw)) == len(world.PROTECTED)
    reader = world.run("SELECT email FROM employees", policies=[], user_tags=frozenset({"roles:id:pii-reader"}))
    assert world.leaks(reader)


def test_a_plan_lists_datasets_policies_and_masked_outputs(world):
    p = world.plan("SELECT e.email AS contact, phone, e.id, o.* FROM employees e "
                   "JOIN shop.sales.orders o ON o.employee_id = e.id JOIN employees x ON x.id = e.id")
    assert p.datasets == ("dataos://hr:people/employees", "dataos://shop:sales/orders")
    assert p.policies == ("age-buckets", "card-pattern", "eu-only", "pii-dateofbirth", "pii-email", "pii-name",
                          "pii-phonenumber", "salary-redact", "ssn-digits")
    assert p.masked == {"contact": "hash", "card": "rand_pattern"}  # phone is ambiguous (two employees)


@pytest.mark.parametrize("sql, masked", [
    ("SELECT * EXCLUDE (email) FROM employees", {"name", "phone", "ssn", "dob", "age", "salary"}),
    ("SELECT t.* FROM departments t", {"manager_email"}),
    ("SELECT a, b, c FROM employees AS t(a, b, c)", set()),
    ("SELECT email FROM employees UNION SELECT name FROM departments", set()),
    ("SELECT upper(email) AS e FROM employees", set()),
])
def test_masked_outputs_are_best_effort(world, sql, masked):
    assert set(world.plan(sql).masked) == masked


def test_the_hash_key_is_never_part_of_the_query(world):
    """The keyed hash is an engine function that holds the key; the SQL only calls it."""
    p = world.plan("SELECT email FROM employees")
    assert p.hashed and "gw_keyed_hash(" in p.sql.lower()
    assert world.HASH_KEY.hex() not in p.sql.lower() and world.HASH_KEY.decode("latin-1") not in p.sql
    reader = frozenset({"roles:id:pii-reader"})
    assert not world.plan("SELECT id FROM employees", user_tags=reader, policies=[]).hashed
    assert world.refusal("SELECT gw_keyed_hash('alice.smith@example.com')").code == "EACCES"


def test_table_aliases_with_columns_rename_masked_columns(world):
    rows = world.run("SELECT c FROM employees AS t(a, b, c) ORDER BY a LIMIT 1")
    assert rows == [(world.hmac_hex("alice.smith@example.com"),)]


def test_qualified_column_references_keep_working(world):
    rows = world.run("SELECT employees.email, hr.people.employees.id FROM hr.people.employees ORDER BY 2 LIMIT 1")
    assert rows == [(world.hmac_hex("alice.smith@example.com"), 1)]


def test_order_by_sees_masked_values(world):
    rows = world.run("SELECT email FROM employees ORDER BY email")
    assert [r[0] for r in rows] == sorted(world.hmac_hex(e[2]) for e in world.EMPLOYEES if e[7] == "EU")


def test_names_resolve_with_the_callers_defaults(world):
    seen = []

    def resolve(name, collection, depot):
        seen.append((depot, collection, name))
        return world.resolve(name, collection, depot)

    world.plan("SELECT 1 FROM employees, people.departments, shop.sales.orders", resolve=resolve)
    assert seen == [("hr", "people", "employees"), ("hr", "people", "departments"), ("shop", "sales", "orders")]
    with pytest.raises(GatewayError, match="unknown relation employees"):
        world.plan("SELECT * FROM employees", default_depot=None, default_collection=None)


def test_select_access_is_checked_once_per_dataset(world):
    asked = []
    world.plan("SELECT * FROM employees a, employees b, departments",
               can_select=lambda d: asked.append(d.address) or True)
    assert asked == ["dataos://hr:people/employees", "dataos://hr:people/departments"]


def test_syntax_errors_carry_a_position_and_no_text():
    error = _refuse("SELECT id\n  FROM employees WHERE (email = 'secret'")
    assert (error.code, error.position[0]) == ("EINVAL", 2)
    assert error.message == "syntax error at line 2, column {}".format(error.position[1])
    assert _refuse("SELECT 'abc\n\n").position is not None


def test_bad_dialects_are_refused():
    assert _refuse("SELECT 1", dialect="nosuchsql").code == "EINVAL"
    assert _refuse("SELECT 1", dialect="duckdb, normalization_strategy = case_sensitive").code == "EINVAL"


def test_datasets_without_known_columns_are_refused(world):
    bare = Dataset("lab", "x", "bare", {})
    assert world.refusal("SELECT * FROM bare", resolve=lambda *_: bare).code == "EINVAL"


def test_deep_nesting_is_refused_not_crashed():
    error = _refuse("SELECT " + "(" * 3000 + "1" + ")" * 3000)
    assert error.code == "EINVAL"


def test_policy_values_cannot_inject_sql(world):
    sneaky = parse_data_policy("sneaky", {
        "type": "filter", "priority": 1, "selector": {"user": {"tags": ["roles:id:user"]}},
        "filters": [{"column": "region", "operator": "equals", "value": "EU' OR '1'='1"}]})
    assert world.run("SELECT * FROM employees", policies=[sneaky]) == []


def test_quoted_column_names_with_quotes_are_safe(world):
    world.con.execute('CREATE OR REPLACE TABLE odd ("we""ird" VARCHAR, "x y" INTEGER)')
    world.con.execute("INSERT INTO odd VALUES ('alice.smith@example.com', 1)")
    dataset = Dataset("lab", "odd", "odd", {'we"ird': "VARCHAR", "x y": "INTEGER"},
                      {'we"ird': frozenset({"PII.Email"})})
    world.expose(dataset, '"memory"."main"."odd"')
    rows = world.run('SELECT "we""ird", "x y" FROM odd', resolve=lambda *_: dataset)
    assert rows == [(world.hmac_hex("alice.smith@example.com"), 1)]


def test_transpiles_other_dialects_to_duckdb(world):
    rows = world.run("SELECT date_format(dob, '%Y') AS y, count(*) FROM employees GROUP BY 1 ORDER BY 1 LIMIT 1",
                     dialect="trino")
    assert rows == [("1973", 1)]


# --- the function allowlist ------------------------------------------------------------------------

def _func_keys() -> set[str]:
    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)
    return {cls.key for cls in subclasses(exp.Func)}


def test_every_allowlisted_class_is_a_sqlglot_function():
    assert ALLOWED_CLASSES <= _func_keys()


COMMON = [
    "upper(name)", "lower(email)", "length(ssn)", "concat(name, email)", "concat_ws('-', name, ssn)", "trim(name)",
    "lpad(ssn, 20, '*')", "split_part(email, '@', 2)", "starts_with(email, 'a')", "contains(email, '@')",
    "strpos(email, '@')", "regexp_matches(email, 'x')", "regexp_extract(email, '[0-9]+')", "md5(email)",
    "abs(age)", "round(salary, 1)", "ceil(age / 7)", "floor(age / 7)", "sqrt(age)", "ln(age + 1)", "power(age, 2)",
    "greatest(age, 1)", "least(age, 1)", "coalesce(email, 'n/a')", "nullif(age, 0)",
    "CASE WHEN age > 20 THEN 'old' ELSE 'young' END", "if(age > 20, 1, 0)", "try_cast(ssn AS INTEGER)",
    "year(dob)", "month(dob)", "date_trunc('month', dob)", "date_diff('day', dob, DATE '2020-01-01')",
    "date_part('year', dob)", "strftime(dob, '%Y')", "dob + INTERVAL 1 DAY", "current_date", "now() IS NOT NULL",
    "extract(year FROM dob)", "make_date(2020, 1, 1)", "epoch_ms(0)", "typeof(age)", "[age, 1][1]",
    "list_transform([age], x -> x + 1)", "struct_pack(a := age)", "uuid() IS NOT NULL", "random() < 2",
    "printf('%s', name)", "string_split(email, '@')", "array_length([1, 2])", "hash(email)",
]
AGGREGATES = [
    "count(*)", "count(DISTINCT email)", "sum(age)", "avg(age)", "min(name)", "max(email)", "median(age)",
    "stddev(age)", "string_agg(name, ',')", "list(email)", "array_agg(ssn)", "bool_and(age > 0)",
    "approx_count_distinct(email)", "arg_max(email, age)", "quantile_cont(age, 0.5)", "mode(region)",
    "first(email)", "count(*) FILTER (WHERE age > 20)",
]
WINDOWS = ["row_number() OVER (ORDER BY email)", "rank() OVER (ORDER BY age)", "lag(email) OVER (ORDER BY id)",
           "sum(age) OVER (PARTITION BY region)", "ntile(2) OVER (ORDER BY id)",
           "first_value(email) OVER (ORDER BY id)", "dense_rank() OVER (ORDER BY dob)"]


@pytest.mark.parametrize("expression", COMMON + AGGREGATES + WINDOWS)
def test_ordinary_functions_are_allowed_and_run(world, expression):
    rows = world.run(f"SELECT {expression} FROM employees")
    assert rows and world.leaks(rows) == []


# --- speed -----------------------------------------------------------------------------------------

def test_planning_a_three_table_join_is_fast(world, capsys):
    sql = ("SELECT e.email, d.name, sum(o.amount) FROM employees e JOIN departments d ON e.dept_id = d.id "
           "JOIN shop.sales.orders o ON o.employee_id = e.id WHERE e.age > 20 GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 5")
    world.plan(sql)
    times = []
    for _ in range(200):
        start = time.perf_counter()
        world.plan(sql)
        times.append(time.perf_counter() - start)
    p50 = statistics.median(times) * 1000
    with capsys.disabled():
        print(f"\ngateway plan() p50 for a 3-table join, 2+ masks and a filter: {p50:.2f} ms")
    assert p50 < 25  # a smoke check only: the goal (2 ms) is measured by bench/bench_gateway.py


def _refuse(sql: str, **kwargs) -> GatewayError:
    with pytest.raises(GatewayError) as info:
        plan(sql, resolve=lambda *_: None, can_select=lambda _: True, policies=[], user_tags=frozenset(), **kwargs)
    return info.value


def test_text_that_is_not_unicode_is_refused_not_crashed():
    for sql in ('SELECT * FROM "\ud800"', 'WITH "\ud800" AS (SELECT 1) SELECT 1', "SELECT '\udc80'"):
        assert _refuse(sql).code == "EINVAL"


def test_inputs_the_parser_would_choke_on_are_refused_before_parsing():
    """sqlglot parses chained subscripts in quadratic time (36 KB took over 5 minutes)."""
    for sql in ("SELECT [1]" + "[1]" * 12000, "SELECT [1, 2][1:2]" + "[1:2]" * 12000,
                "SELECT 1 WHERE 1 IN (" + ", ".join(["1"] * 60000) + ")"):
        started = time.perf_counter()
        assert _refuse(sql).code == "EINVAL"
        assert time.perf_counter() - started < 5


def test_a_kept_plan_is_used_again_only_while_it_still_holds(world):
    sql = "SELECT count(*) FROM employees WHERE age > 30 -- kept plan"
    asked: list[str] = []

    def can_select(dataset):
        asked.append(dataset.address)
        return allowed

    allowed = True
    first = world.plan(sql, can_select=can_select)
    assert world.plan(sql, can_select=can_select) is first  # the same plan, not planned again
    assert asked.count("dataos://hr:people/employees") >= 2  # select is asked again each time
    changed = world.datasets[("hr", "people", "employees")]
    renamed = Dataset(changed.depot, changed.collection, changed.name, {**changed.columns, "extra": "INTEGER"},
                      changed.column_tags)
    assert world.plan(sql, resolve=lambda *a: renamed if a[0] == "employees" else None) is not first  # new columns
    assert world.plan(sql, user_tags=frozenset({"users:id:bob"})).sql != first.sql  # other tags: other policies
    assert world.plan(sql, policies=[]) is not first  # other policies
    allowed = False
    with pytest.raises(GatewayError) as refused:
        world.plan(sql, can_select=can_select)
    assert refused.value.code == "ENOENT"  # revoked: not served from the cache


def test_duckdb_sql_planned_as_parsed_answers_as_when_translated():
    """DuckDB SQL is first planned untranslated: for every allowed function, with arguments of each
    kind, that plan (or refusal: its errno) is the one the translated tree gets."""
    import sys

    from kernel.gateway.functions import ALLOWED_DUCKDB_NAMES
    planner = sys.modules["kernel.gateway.plan"]
    people = Dataset("lake", "hr", "people", {"age": "INTEGER", "name": "VARCHAR", "dob": "DATE",
                                              "amount": "DECIMAL(10,2)"})
    find = planner.Finder(lambda name, *_: people if name == "people" else None, lambda d: True, tuple,
                          "lake", "hr", "duckdb")
    names = set(ALLOWED_DUCKDB_NAMES) | {cls.sql_names()[0].lower() for cls in exp.Func.__subclasses__()
                                         if cls.key in ALLOWED_CLASSES and cls.sql_names()}

    def outcome(sql: str, fast: bool) -> str:
        try:
            if fast:
                return plan(sql, resolve=find.resolve, can_select=lambda d: True, policies=[],
                            user_tags=frozenset(), default_depot="lake", default_collection="hr").sql
            return planner._planned(sql, "duckdb", find, [], frozenset(), translate=True)[0].sql
        except GatewayError as e:
            return e.code

    for name in sorted(names):
        for args in ("", "age", "name", "dob, dob", "amount, age"):
            sql = f"SELECT {name}({args}) FROM people"
            assert outcome(sql, fast=True) == outcome(sql, fast=False), sql
