"""Quality rules, parsed and compiled (pure, no kernel): every kind, bad rules named by their
number, and injection attempts in names, values and expressions that cannot change the query."""
from __future__ import annotations

import pytest
import sqlglot
from sqlglot import exp

from plugins.quality import rules as R
from syscalls import SyscallError

COLUMNS = ["id", "email", "Region", 'we"ird name', "amount"]


def bad(texts, *contains: str) -> str:
    with pytest.raises(SyscallError) as caught:
        R.resolve(R.parse_all(texts if isinstance(texts, list) else [texts]), COLUMNS)
    assert caught.value.code == "EINVAL"
    for part in contains:
        assert part in caught.value.message, caught.value.message
    return caught.value.message


def compiled(*texts: str) -> exp.Select:
    sql = R.query('"d"."c"."t"', R.resolve(R.parse_all(list(texts)), COLUMNS))
    trees = sqlglot.parse(sql, read="duckdb")
    assert len(trees) == 1 and isinstance(trees[0], exp.Select)
    return trees[0]


def test_every_kind_parses():
    parsed = R.resolve(R.parse_all([
        "not_null(email)", "unique(id, region)", " accepted_values( region , 'EU', 'US', 3 ) ", "between(amount, -1, 2.5)",
        "matches(email, '^[a-z]+@x\\.com$')", "row_count(10)", "row_count(0, 100)",
        "expression('amount >= 0 and email like ''%@%''')", 'NOT_NULL("we""ird name")']), COLUMNS)
    assert [r.kind for r in parsed] == ["not_null", "unique", "accepted_values", "between", "matches", "row_count",
                                        "row_count", "expression", "not_null"]
    assert parsed[1].columns == ("id", "Region")  # names match without case, spelled as the dataset does
    assert [v.value for v in parsed[2].values] == ["EU", "US", 3]
    assert [v.value for v in parsed[3].values] == [-1, 2.5]
    assert parsed[4].values[0].value == "^[a-z]+@x\\.com$"
    assert parsed[7].columns == ("amount", "email")
    assert parsed[8].columns == ('we"ird name',)
    assert parsed[2].text == "accepted_values( region , 'EU', 'US', 3 )"


def test_one_select_computes_every_count():
    tree = compiled("not_null(email)", "unique(id)", "row_count(1)", "accepted_values(region, 'EU')")
    names = [e.alias for e in tree.expressions]
    assert names == ["__rows", "r1", "r2", "r4"]  # row_count needs only the row count
    assert [t.name for t in tree.find_all(exp.Table)] == ["t"]


@pytest.mark.parametrize("text, contains", [
    ("", "empty rule"),
    ("not_nul(email)", "unknown rule 'not_nul'"),
    ("not_null email", "not a rule"),
    ("not_null()", "usage: not_null(column)"),
    ("not_null(email, id)", "usage: not_null(column)"),
    ("not_null('email')", "must be a column name"),
    ("not_null(nope)", "no column 'nope' (columns: id, email, Region"),
    ("unique()", "usage: unique"),
    ("accepted_values(region)", "usage: accepted_values"),
    ("accepted_values(region, EU)", "must be a 'quoted' string or a number, got column 'EU'"),
    ("between(amount, 10, 1)", "low 10 is above high 1"),
    ("between(amount, 1, 'z')", "both be numbers or both be strings"),
    ("between(amount, 1)", "usage: between"),
    ("matches(email, 3)", "must be a 'quoted' string"),
    ("row_count(-1)", "whole numbers"),
    ("row_count(1.5)", "whole numbers"),
    ("row_count(5, 1)", "min 5 is above max 1"),
    ("row_count()", "usage: row_count"),
    ("expression(amount > 0)", "cannot read the arguments"),
    ("expression(amount)", "must be a 'quoted' string"),
    ("expression('amount >')", "not SQL"),
    ("expression('count(*) > 1')", "no queries, tables, aggregates"),
    ("expression('')", "one SQL expression"),
    ("expression('nope > 1')", "no column 'nope'"),
    ("not_null(email) extra", "not a rule"),
    ("not_null(email,)", "argument 2 is empty"),
    ("accepted_values(region, 'a' 'b')", "argument 2 must be one column name or one value"),
])
def test_bad_rules_are_named(text, contains):
    message = bad(["not_null(id)", text], contains)
    assert message.startswith("rule 2: ")


def test_no_rules_and_too_many():
    bad([], "give at least one --rule")
    bad(["not_null(id)"] * (R.MAX_RULES + 1), "at most")


@pytest.mark.parametrize("text", [
    "not_null(email) or 1=1 --)",
    "not_null(email); drop table t; --)",
    "not_null(email)); select * from secret --",
    "accepted_values(region, 'EU') or (1=1)",
    "expression('1=1) from secret; --')",
    "expression('id in (select id from d.c.secret)')",
    "expression('exists (select 1 from d.c.secret)')",
    "expression('true; drop table t')",
    "expression('row_number() over () > 1')",
    "expression('amount > $1')",
])
def test_injection_attempts_are_refused(text):
    bad(text)


def test_hostile_names_and_values_stay_one_identifier_or_literal():
    tree = compiled('not_null("we""ird name")', "accepted_values(region, 'EU'') OR 1=1 --', 'x\"y')",
                    "matches(email, ''' || (select 1) || ''')", "expression('email = ''a''''; drop''')")
    filters = [f.args["expression"].this for f in tree.find_all(exp.Filter)]
    columns = {c.name for f in filters for c in f.find_all(exp.Column)}
    assert columns == {'we"ird name', "Region", "email"}
    literals = {lit.this for f in filters for lit in f.find_all(exp.Literal) if lit.is_string}
    assert {"EU') OR 1=1 --", 'x"y', "' || (select 1) || '", "a'; drop"} <= literals
    assert not list(tree.find_all(exp.Subquery)) and len(list(tree.find_all(exp.Select))) == 1
    assert [t.name for t in tree.find_all(exp.Table)] == ["t"]


def test_table_names():
    assert R.table_name("lake.crm.people") == ("dataos://lake:crm/people", '"lake"."crm"."people"')
    assert R.table_name("dataos://lake:crm/people") == ("dataos://lake:crm/people", '"lake"."crm"."people"')
    assert R.table_name('dataos://lake:crm/pe"ople')[1] == '"lake"."crm"."pe""ople"'
    for text in ("people", "lake.crm", "dataos://lake/crm/people", "lake.crm.people#email", "a.b.c.d"):
        with pytest.raises(SyscallError) as caught:
            R.table_name(text)
        assert caught.value.code == "EINVAL" and caught.value.details.get("field") == "dataset"


def test_results_from_the_row():
    parsed = R.resolve(R.parse_all(["not_null(email)", "row_count(10, 20)", "row_count(200)", "unique(id)"]), COLUMNS)
    out = R.results(parsed, ["__rows", "r1", "r4"], [100, 3, 0])
    assert [(r["rule"], r["passed"], r["failed_rows"], r["total_rows"]) for r in out] == [
        ("not_null(email)", False, 3, 100), ("row_count(10, 20)", False, 80, 100), ("row_count(200)", False, 100, 100),
        ("unique(id)", True, 0, 100)]
    assert out[0]["columns"] == ["email"] and out[1]["columns"] == [] and out[1]["detail"] == "expected 10 to 20 rows"
