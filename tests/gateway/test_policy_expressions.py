"""Row filters and masks as SQL policy expressions: parsed and checked in the policy's dialect,
compiled per user into DuckDB over the raw source alias ``gw_source`` (run here on a plain DuckDB
connection to show they mean what they say), and checked against the catalog at apply."""
from __future__ import annotations

import duckdb
import pytest
import sqlglot

from kernel.gateway import Dataset, PolicyError, parse_data_policy
from kernel.gateway.expressions import compile_filter, compile_mask
from kernel.gateway.proof import generate, same
from kernel.gateway.validate import check_filters, check_mask
from syscalls.errors import SyscallError

ANALYSTS = {"match": "any", "tags": ["roles:id:analyst"]}
CUSTOMER = {"c_custkey": "BIGINT", "c_name": "VARCHAR", "c_nationkey": "INTEGER", "c_phone": "VARCHAR",
            "c_acctbal": "DECIMAL(15,2)", "owner": "VARCHAR", "region": "VARCHAR"}
NATION = {"n_nationkey": "INTEGER", "n_name": "VARCHAR", "n_regionkey": "INTEGER"}
REGION = {"r_regionkey": "INTEGER", "r_name": "VARCHAR"}
CATALOG = [(Dataset("lake", "tpch", name, columns), columns)
           for name, columns in (("customer", CUSTOMER), ("nation", NATION), ("region", REGION))]
EUROPE = {  # customers 1 and 3 live in nations of EUROPE (region 3)
    "duckdb": "c_nationkey IN (SELECT n_nationkey FROM lake.tpch.nation JOIN lake.tpch.region "
              "ON n_regionkey = r_regionkey WHERE r_name = 'EUROPE')",
    "trino": "c_nationkey IN (SELECT n.n_nationkey FROM lake.tpch.nation AS n JOIN lake.tpch.region AS r "
             "ON n.n_regionkey = r.r_regionkey WHERE r.r_name = 'EUROPE')",
    "postgres": "EXISTS (SELECT 1 FROM lake.tpch.nation n WHERE n.n_nationkey = c_nationkey AND n.n_regionkey = "
                "(SELECT r_regionkey FROM lake.tpch.region WHERE r_name = 'EUROPE'))",
    "snowflake": "C_NATIONKEY IN (SELECT N_NATIONKEY FROM lake.tpch.nation WHERE N_REGIONKEY IN "
                 "(SELECT R_REGIONKEY FROM lake.tpch.region WHERE R_NAME = 'EUROPE'))",
}


def filter_policy(*filters, dialect: str | None = None, dataset: str = "lake.tpch.customer", name: str = "f"):
    return parse_data_policy(name, {"type": "filter", "priority": 1, "dataset_id": dataset, "selector": {"user": ANALYSTS},
                                    "filters": list(filters), **({"dialect": dialect} if dialect else {})})


def mask_policy(sql: str, column: str = "c_phone", dialect: str | None = None, name: str = "m"):
    return parse_data_policy(name, {"type": "mask", "priority": 1, "dataset_id": "lake.tpch.customer",
                                    "selector": {"user": ANALYSTS, "column": {"names": [column]}},
                                    "mask": {"operator": "expression", "expression": {"sql": sql}},
                                    **({"dialect": dialect} if dialect else {})})


@pytest.fixture(scope="module")
def db():
    """A DuckDB with the customers (as table customer) and lake.tpch.nation/region."""
    con = duckdb.connect()
    con.execute("ATTACH ':memory:' AS lake; CREATE SCHEMA lake.tpch")
    con.execute("CREATE TABLE lake.tpch.region AS SELECT * FROM (VALUES (1, 'AMERICA'), (3, 'EUROPE')) t(r_regionkey, r_name)")
    con.execute("CREATE TABLE lake.tpch.nation AS SELECT * FROM (VALUES (7, 'GERMANY', 3), (6, 'FRANCE', 3), "
                "(24, 'UNITED STATES', 1)) t(n_nationkey, n_name, n_regionkey)")
    con.execute("CREATE TABLE customer AS SELECT * FROM (VALUES "
                "(1::BIGINT, 'Ann', 7, '555-0101', 10.50::DECIMAL(15,2), 'ana', 'EU'), "
                "(2, 'Bo', 24, '555-0202', 20.00, 'o''brien', 'US'), "
                "(3, 'Cy', 6, '555-0303', 30.25, '${user}', 'EU')) "
                "t(c_custkey, c_name, c_nationkey, c_phone, c_acctbal, owner, region)")
    yield con
    con.close()


def kept(db, spec: dict, tags=()) -> list[int]:
    """The customers a compiled filter keeps, for a user with `tags`."""
    condition = generate(compile_filter(spec, CUSTOMER, tags).tree)
    return [row[0] for row in db.execute(f"SELECT c_custkey FROM customer AS gw_source WHERE {condition} "
                                         "ORDER BY 1").fetchall()]


# --- parsing and compiling -------------------------------------------------------------------------

@pytest.mark.parametrize("dialect", sorted(EUROPE))
def test_customers_of_europe_is_one_expression_in_every_dialect(db, dialect):
    policy = filter_policy({"expression": EUROPE[dialect]}, dialect=dialect)
    assert policy.reads == ("lake.tpch.nation", "lake.tpch.region")
    compiled = compile_filter(policy.filters[0], CUSTOMER, ())
    assert sorted(".".join(p.name for p in t.parts) for t in compiled.tables) == ["lake.tpch.nation", "lake.tpch.region"]
    outer = '"gw_source"."c_nationkey"' if dialect != "postgres" else '= "c_nationkey"'  # (correlated: as written)
    assert outer in generate(compiled.tree)
    assert kept(db, policy.filters[0]) == [1, 3]


def test_literal_filters_are_sugar_with_todays_sql(db):
    cases = [({"column": "REGION", "operator": "equals", "value": "EU"}, """"gw_source"."region" = 'EU'"""),
             ({"column": "c_custkey", "operator": "not_in", "value": [-5, 2]},
              '"gw_source"."c_custkey" NOT IN (-5, 2)'),
             ({"column": "c_acctbal", "operator": "greater_than_equals", "value": 20.0},
              '"gw_source"."c_acctbal" >= 20.0'),
             ({"column": "c_name", "operator": "in", "value": ["Bo", "it's"]},
              """"gw_source"."c_name" IN ('Bo', 'it''s')""")]
    for spec, today in cases:
        policy = filter_policy(spec)
        assert policy.filters == (spec,)
        assert same(compile_filter(spec, CUSTOMER, ()).tree, sqlglot.parse_one(today, read="duckdb")), spec
    assert kept(db, cases[0][0]) == [1, 3] and kept(db, cases[1][0]) == [1, 3] and kept(db, cases[2][0]) == [2, 3]
    assert kept(db, {"column": "missing", "operator": "equals", "value": 1}) == []  # a missing column hides all


def test_user_attributes_are_literals_of_the_querying_user(db):
    mine = filter_policy({"expression": "owner = ${user}"}).filters[0]
    assert kept(db, mine, {"users:id:ana", "roles:id:analyst"}) == [1]
    assert kept(db, mine, {"users:id:o'brien"}) == [2]  # a quote in a user id is escaped, not SQL
    assert kept(db, mine, {"users:id:x' OR '1'='1"}) == []
    assert kept(db, mine, {"roles:id:analyst"}) == []  # no id: NULL, no row
    literal = filter_policy({"expression": "owner = '${user}'"}).filters[0]  # inside a string: just text
    assert kept(db, literal, {"users:id:ana"}) == [3]
    region = filter_policy({"expression": "region = user_tag('region')"}, dialect="trino").filters[0]
    assert kept(db, region, {"region:US"}) == [2]
    assert kept(db, region, {"region:US", "region:EU"}) == [1, 3]  # the first tag in sorted order
    assert kept(db, region, {"regional:EU", "users:id:ana"}) == []  # 'region:' only; none: NULL
    nested = filter_policy({"expression": "c_nationkey IN (SELECT n_nationkey FROM lake.tpch.nation "
                                          "WHERE n_name = user_tag('roles:nation'))"}).filters[0]
    assert kept(db, nested, {"roles:nation:FRANCE"}) == [3]


def test_columns_resolve_case_insensitively_and_a_missing_one_keeps_no_row(db):
    spec = filter_policy({"expression": "C_NationKey = 24 OR \"C_CUSTKEY\" = 1"}, dialect="snowflake").filters[0]
    assert generate(compile_filter(spec, CUSTOMER, ()).tree) == \
        '"gw_source"."c_nationkey" = 24 OR "gw_source"."c_custkey" = 1'
    assert kept(db, spec) == [1, 2]
    assert generate(compile_filter(spec, {"c_custkey": "BIGINT"}, ()).tree) == "FALSE"


def test_mask_expressions_see_the_row_and_keep_the_column_type(db):
    policy = mask_policy("CASE WHEN c_nationkey = 7 THEN c_phone ELSE '***-' || right(c_phone, 4) END",
                         dialect="postgres")
    value = generate(compile_mask(policy.mask, "c_phone", CUSTOMER, ()).tree)
    assert db.execute(f"SELECT {value} FROM customer AS gw_source ORDER BY c_custkey").fetchall() == \
        [("555-0101",), ("***-0202",), ("***-0303",)]
    money = mask_policy("round(c_acctbal / 10) * 10", column="c_acctbal")
    value = generate(compile_mask(money.mask, "c_acctbal", CUSTOMER, ()).tree)
    assert db.execute(f"SELECT typeof({value}), {value} FROM customer AS gw_source ORDER BY c_custkey").fetchall() \
        == [("DECIMAL(15,2)", 10), ("DECIMAL(15,2)", 20), ("DECIMAL(15,2)", 30)]
    who = mask_policy("CASE WHEN owner = ${user} THEN c_phone END")
    value = generate(compile_mask(who.mask, "c_phone", CUSTOMER, {"users:id:ana"}).tree)
    assert db.execute(f"SELECT {value} FROM customer AS gw_source ORDER BY c_custkey").fetchall() == \
        [("555-0101",), (None,), (None,)]
    lacking = {"c_phone": "VARCHAR"}  # the expression's c_nationkey is missing: fail closed
    assert db.execute(f"SELECT {generate(compile_mask(policy.mask, 'c_phone', lacking, ()).tree)}").fetchall() == \
        [(None,)]


def test_a_compiled_expression_is_a_fresh_tree():
    spec = filter_policy({"expression": EUROPE["duckdb"]}).filters[0]
    first = compile_filter(spec, CUSTOMER, ())
    first.tables[0].replace(sqlglot.exp.Table(this=sqlglot.exp.to_identifier("other")))
    assert [".".join(p.name for p in t.parts) for t in compile_filter(spec, CUSTOMER, ()).tables] == \
        ["lake.tpch.nation", "lake.tpch.region"]


@pytest.mark.parametrize("field, text, problem", [
    ("filter", "c_nationkey = 1; DROP TABLE lake.tpch.customer", "must be one expression: ';' is not allowed"),
    ("filter", "c_nationkey = 1 -- ; DROP TABLE x", "comments are not allowed"),
    ("filter", "/* hidden */ c_nationkey = 1", "comments are not allowed"),
    ("filter", "c_nationkey IN (SELEC n_nationkey FROM lake.tpch.nation)", "syntax error at line 1, column 23"),
    ("filter", "c_name = 'x", "syntax error (unterminated string, identifier or comment?) at line 1"),
    ("filter", "DROP TABLE lake.tpch.customer", "syntax error at line 1, column 1"),
    ("filter", "SELECT c_custkey FROM lake.tpch.customer", "syntax error at line 1, column 1"),
    ("filter", "c_nationkey = 1 AS keep", "must be one SQL expression (a condition), without an alias"),
    ("filter", "read_csv('/etc/passwd') IS NOT NULL", "function read_csv is not allowed"),
    ("filter", "c_name IN (SELECT * FROM read_csv('/etc/passwd'))", "table function read_csv is not allowed"),
    ("filter", "c_name = current_setting('home_directory')", "function current_setting is not allowed"),
    ("filter", "c_nationkey = $1", "a query parameter is not allowed"),
    ("filter", "c_nationkey IN (SELECT n_nationkey FROM nation)", "table nation: name datasets in full"),
    ("filter", "gw_source.c_nationkey = 1", "column gw_source.c_nationkey: outside a subquery, refer to the "
                                            "dataset's columns by name alone"),
    ("filter", "owner = ${USER}", "the only variable is ${user}"),
    ("filter", "region = user_tag('region:')", "user_tag takes one string literal"),
    ("filter", "region = user_tag(owner)", "user_tag takes one string literal"),
    ("filter", "random() < 0.5", "a row filter must answer the same for a row each time: rand"),
    ("filter", "c_nationkey IN (SELECT n_nationkey FROM lake.tpch.nation WHERE uuid() IS NOT NULL)",
     "a row filter must answer the same for a row each time"),
    ("mask", "(SELECT max(n_name) FROM lake.tpch.nation)", "a mask may not read tables"),
    ("mask", "c_phone AS phone", "must be one SQL expression (a value), without an alias"),
])
def test_bad_expressions_are_refused_naming_the_field(field, text, problem):
    with pytest.raises(PolicyError) as info:
        if field == "filter":
            filter_policy({"column": "region", "operator": "equals", "value": "EU"}, {"expression": text})
        else:
            mask_policy(text)
    expected = "policy.data.filters[1].expression" if field == "filter" else "policy.data.mask.expression.sql"
    assert info.value.field == expected
    assert problem in info.value.message, info.value.message


@pytest.mark.parametrize("data, field", [
    ({"dialect": "klingon"}, "policy.data.dialect"),
    ({"dialect": "duckdb, x=1"}, "policy.data.dialect"),
    ({"filters": [{"expression": "  "}]}, "policy.data.filters[0].expression"),
    ({"filters": [{"expression": "a = 1", "column": "a"}]}, "policy.data.filters[0].column"),
    ({"filters": [{"expression": 5}]}, "policy.data.filters[0].expression"),
])
def test_bad_expression_fields_are_named(data, field):
    with pytest.raises(PolicyError) as info:
        parse_data_policy("p", {"type": "filter", "priority": 1, "selector": {"user": ANALYSTS},
                                "filters": [{"column": "a", "operator": "equals", "value": 1}], **data})
    assert info.value.field == field


# --- validation against the catalog ----------------------------------------------------------------

def refusal(check, policy) -> str:
    with pytest.raises(SyscallError) as info:
        check(policy, CATALOG)
    assert info.value.code == "EINVAL"
    return info.value.message


@pytest.mark.parametrize("text, problem", [
    ("c_natonkey = 7", "filters[0].expression: lake.tpch.customer has no column c_natonkey (did you mean "
                       "c_nationkey?)"),
    ("c_nationkey = 'seven'", "filters[0].expression: 'seven' does not fit column c_nationkey (INTEGER) of "
                              "lake.tpch.customer"),
    ("c_acctbal BETWEEN 0 AND TRUE", "filters[0].expression: True does not fit column c_acctbal"),
    ("c_name IN ('Ann', 5)", "filters[0].expression: 5 does not fit column c_name (VARCHAR)"),
    ("c_nationkey = ${user}", "column c_nationkey (INTEGER) of lake.tpch.customer is compared with a user "
                              "attribute, which is text"),
    ("c_nationkey IN (SELECT n_nationkey FROM lake.tpch.nations)", "lake.tpch.nations is not in the catalog (did "
                                                                   "you mean lake.tpch.nation?)"),
    ("c_nationkey IN (SELECT n_natonkey FROM lake.tpch.nation)", 'Referenced column "n_natonkey" not found'),
    ("c_nationkey + 1", "the expression is INTEGER, not a condition (BOOLEAN)"),
])
def test_a_filter_expression_that_does_not_fit_the_catalog_is_refused(text, problem):
    message = refusal(check_filters, filter_policy({"expression": text}, name="customers-of-europe"))
    assert message.startswith("policy customers-of-europe: policy.data."), message
    assert problem in message, message


@pytest.mark.parametrize("dialect", sorted(EUROPE))
def test_filter_expressions_that_fit_pass_and_patterns_may_miss_columns(dialect):
    check_filters(filter_policy({"expression": EUROPE[dialect]}, {"expression": "region = user_tag('region')"},
                                dialect=dialect), CATALOG)
    check_filters(filter_policy({"expression": "c_nationkey = 7"}, dataset="lake.tpch.*"), CATALOG)  # nation lacks it
    check_filters(filter_policy({"expression": "c_nationkey = 7"}, dataset="lake.other.customer"), CATALOG)


@pytest.mark.parametrize("sql, column, problem", [
    ("CASE WHEN c_natonkey = 7 THEN c_phone END", "c_phone", "lake.tpch.customer has no column c_natonkey (did you "
                                                              "mean c_nationkey?)"),
    ("CASE WHEN c_nationkey = 'x' THEN c_phone END", "c_phone", "'x' does not fit column c_nationkey"),
    ("'***'", "c_acctbal", "the mask is VARCHAR, which does not convert to column c_acctbal (DECIMAL(15,2)) of "
                           "lake.tpch.customer implicitly: CAST it"),
    ("c_phone + 1", "c_phone", "Binder Error"),
])
def test_a_mask_expression_that_does_not_fit_the_catalog_is_refused(sql, column, problem):
    message = refusal(check_mask, mask_policy(sql, column=column, name="phone-mask"))
    assert message.startswith("policy phone-mask: policy.data.mask.expression.sql: "), message
    assert problem in message, message


def test_mask_expressions_that_fit_pass():
    check_mask(mask_policy("CASE WHEN c_nationkey = 7 THEN c_phone ELSE '***-' || right(c_phone, 4) END"), CATALOG)
    check_mask(mask_policy("c_custkey % 100", column="c_custkey"), CATALOG)
    check_mask(mask_policy("CAST(round(c_acctbal) AS BIGINT)", column="c_custkey"), CATALOG)
    check_mask(mask_policy("c_phone", column="not_a_column"), CATALOG)  # masks nothing here
