"""A second attack pass on the security barrier (`kernel.gateway.leakproof`), after the fixes of
`test_barrier_leaks`: each test fails while the leak it names is open.

Same vault, policies, worst case (the planned query with the policy's WHERE taken out of the governed
table) and oracle checks (a query naming the hidden SECRET-7731 answers as one naming NOPE).
"""
from __future__ import annotations

import pytest
import test_barrier_attacks as attacks
from test_barrier_leaks import _mask, assert_no_leak, assert_no_oracle

from kernel.gateway import parse_data_policy

vault = attacks.vault  # the attack tests' fixture: the vault table, its hidden row, the engine's views
POLICY = pytest.mark.parametrize("policy", sorted(attacks.POLICIES))


@POLICY
@pytest.mark.parametrize("sql", [
    "SELECT (SELECT sum(v.h) FILTER (WHERE a.id > 0) FROM allowed a) FROM vault v",
    "SELECT (SELECT sum(v.h ORDER BY a.id) FROM allowed a) FROM vault v",
], ids=["filter", "order by"])
def test_an_outer_column_summed_by_a_correlated_subquery(vault, sql, policy):
    # AggFunc is _HARMLESS ("reads only kept rows"), but an aggregate that also reads an inner column (in its
    # FILTER or ORDER BY) is the subquery's: it sums the outer (hidden) row's ungated h once per inner row,
    # "Overflow in HUGEINT addition: 1701...727 + 1701...727"
    assert_no_leak(vault, sql, policy)


@POLICY
@pytest.mark.parametrize("sql", [
    "SELECT id FROM vault v WHERE (SELECT max(x) OVER () FROM allowed t(x) WHERE v.s = 'SECRET-7731') IS NULL",
    "SELECT id FROM vault v WHERE (SELECT (SELECT max(1)) FROM allowed WHERE v.s = 'SECRET-7731') IS NULL",
], ids=["window", "nested subquery"])
def test_an_aggregate_under_a_window_or_a_subquery_is_not_a_single_row(vault, sql, policy):
    # _single_row: "every output has an aggregate" (e.find) finds max under OVER () or in a nested subquery;
    # both return a row per input row: "more than one row returned" exactly when the hidden s is SECRET-7731
    assert_no_oracle(vault, sql, policy)


@POLICY
@pytest.mark.parametrize("sql", [
    "SELECT v.id FROM (SELECT {'s': 12} AS t) t, vault v WHERE v.s = t.s",
    "SELECT v.id FROM vault v, (SELECT x.s FROM (SELECT {'s': 12} AS x)) t WHERE v.s = t.s",
], ids=["relation named like its struct", "unaliased field"])
def test_a_struct_field_typed_as_the_dataset_column_of_its_name(vault, sql, policy):
    # _Types.of(t.s) types a column qualified by a relation by its name alone (VARCHAR, the dataset's s); but
    # t.s is the INTEGER field s of t's struct column t, or a derived column an unaliased x.s names:
    # VARCHAR = INTEGER casts the hidden s
    assert_no_leak(vault, sql, policy)


@POLICY
def test_a_name_typed_before_another_alias_untypes_it(vault, policy):
    # _types adds aliases in tree order: y takes k's type (VARCHAR, from v.s AS k) before 12 AS k makes k
    # untyped; t.y is INTEGER, and v.s = t.y (text = text to the barrier) casts the hidden s
    assert_no_leak(vault, "SELECT v.s AS k FROM vault v, (SELECT k AS y FROM (SELECT 12 AS k)) t "
                          "WHERE v.s = t.y", policy)


@POLICY
def test_an_alias_elsewhere_hides_the_engines_name_for_an_unnamed_column(vault, policy):
    # _reads: a name outside the lineage "stands for everything" unless types.by_name knows it, and any alias
    # anywhere puts it there: 'x' AS "(s || '')" makes the unnamed column "(s || '')" (the hidden s) read nothing
    assert_no_leak(vault, """SELECT k, 'x' AS "(s || '')" FROM (SELECT CAST("(s || '')" AS INTEGER) AS k """
                          """FROM (SELECT s || '' FROM vault))""", policy)


@POLICY
def test_an_expression_mask_that_can_fail_is_not_gated(vault, policy):
    # barrier() gates a masked column only for bucket_date ("date_trunc can overflow"); an expression mask that
    # can fail (here s's, reading n) runs on the hidden row once a leakproof filter on s moves below the
    # policy's WHERE: "Overflow in multiplication of INT32 (2147483647 * 2)"
    assert_no_leak(vault, "SELECT id FROM vault WHERE s IS NOT NULL", policy, (_mask("s", "CAST(n * 2 AS VARCHAR)"),))


@pytest.mark.parametrize("expression,outer", [
    ("region = 'EU' OR EXISTS (SELECT 1 FROM lab.vault.allowed WHERE override)", "TRUE AS override"),
    ("EXISTS (SELECT 1 FROM lab.vault.allowed a WHERE a.id = vault.id)", "1 AS id"),
], ids=["unbound name", "dataset-qualified name"])
def test_a_policy_subquerys_name_unbound_inside_binds_to_the_users_query(vault, expression, outer):
    # a name in the policy's subquery that binds neither to its tables nor to gw_source (an error at top level)
    # binds, from inside a user's scalar subquery, to the user's outer relation: the user writes the filter
    policy = parse_data_policy("capture", {
        "type": "filter", "priority": 1, "dataset_id": "lab.vault.vault",
        "selector": {"user": {"tags": ["roles:id:user"]}}, "filters": [{"expression": expression}]})
    datasets = {"vault": attacks.VAULT, "allowed": attacks.ALLOWED}
    try:
        answer = str(vault.run(f"SELECT (SELECT list(x.s) FROM vault x) FROM (SELECT {outer}) vault",
                               resolve=lambda name, *_: datasets.get(name.lower()), policies=[policy],
                               default_depot="lab", default_collection="vault"))
    except Exception as e:  # refusing the policy, or the query, is fine
        answer = str(e)
    assert "SECRET-7731" not in answer, answer
