"""A row filter is checked against the catalog when it is applied: a column the dataset lacks or a
value that does not fit the column's type is refused then, naming the policy, the field and the
column — not discovered later as an engine conversion error failing every user's query."""
from __future__ import annotations

import json

import pytest
from clitools import error_line, ok
from govkit import governed_lake


@pytest.fixture(scope="module")
def lake(run_module, tmp_path_factory):
    return governed_lake(run_module, tmp_path_factory.mktemp("lake"))


def apply_filter(lake, tmp_path, name: str, dataset: str, column: str, operator: str, value):
    manifest = {"name": name, "version": "v1", "type": "policy", "policy": {"data": {
        "type": "filter", "priority": 60, "dataset_id": dataset, "selector": {"user": {"match": "any",
                                                                                       "tags": ["roles:id:analyst"]}},
        "filters": [{"column": column, "operator": operator, "value": value}]}}}
    path = tmp_path / f"{name}.yaml"
    path.write_text(json.dumps(manifest))
    return lake.as_("op", "apply", "-f", str(path))


@pytest.mark.parametrize("column, operator, value, problem", [
    ("regoin", "equals", "EU", "filters[0].column: lake.shop.orders has no column 'regoin'"),
    ("id", "equals", "seven", "filters[0].value: 'seven' does not fit column id (BIGINT) of lake.shop.orders"),
    ("region", "in", ["EU", 5], "filters[0].value: 5 does not fit column region (VARCHAR) of lake.shop.orders"),
    ("amount", "greater_than", True, "filters[0].value: True does not fit column amount"),
])
def test_a_filter_that_does_not_fit_its_dataset_is_refused_at_apply(lake, tmp_path, column, operator, value,
                                                                     problem):
    line = error_line(apply_filter(lake, tmp_path, "bad-filter", "lake.shop.orders", column, operator, value),
                      "EINVAL", 2)
    assert "policy bad-filter: policy.data." + problem in line, line
    assert "bad-filter" not in ok(lake.as_("op", "get", "policy", "-o", "name")).stdout  # nothing stored
    assert ok(lake.as_("ana", "query", "select count(*) from lake.shop.orders")).returncode == 0  # queries go on


def test_a_filter_that_fits_is_applied_and_a_pattern_may_miss_a_column(lake, tmp_path):
    ok(apply_filter(lake, tmp_path, "big-ids", "lake.shop.orders", "id", "greater_than", "3"))
    ok(apply_filter(lake, tmp_path, "eu-everywhere", "lake.*.*", "region", "equals", "EU"))  # hr lacks region
    ok(lake.as_("op", "delete", "policy", "big-ids"))
    ok(lake.as_("op", "delete", "policy", "eu-everywhere"))


def apply_data_policy(lake, tmp_path, name: str, data: dict):
    manifest = {"name": name, "version": "v1", "type": "policy", "policy": {"data": {
        "priority": 60, "dataset_id": "lake.shop.orders", **data}}}
    path = tmp_path / f"{name}.yaml"
    path.write_text(json.dumps(manifest))
    return lake.as_("op", "apply", "-f", str(path))


AUDITORS = {"user": {"match": "any", "tags": ["roles:id:auditor"]}}  # no one: nothing else sees these policies


@pytest.mark.parametrize("data, problem", [
    ({"type": "filter", "filters": [{"expression": "regoin = 'EU'"}]},
     "filters[0].expression: lake.shop.orders has no column regoin (did you mean region?)"),
    ({"type": "filter", "filters": [{"expression": "id IN (1, 'seven')"}]},
     "filters[0].expression: 'seven' does not fit column id (BIGINT) of lake.shop.orders"),
    ({"type": "filter", "filters": [{"column": "region", "operator": "equals", "value": "EU"},
                                    {"expression": "id IN (SELECT id FROM lake.hr.salary)"}]},
     "filters[1].expression: lake.hr.salary is not in the catalog (did you mean lake.hr.salaries?)"),
    ({"type": "filter", "dialect": "trino", "filters": [{"expression": "id IN (SELEC id FROM lake.hr.salaries)"}]},
     "filters[0].expression: syntax error at line 1, column 14"),
    ({"type": "filter", "filters": [{"expression": "region = getenv('HOME')"}]},
     "filters[0].expression: function getenv is not allowed"),
    ({"type": "filter", "filters": [{"expression": "region = 'EU'; DROP TABLE x"}]},
     "filters[0].expression: must be one expression: ';' is not allowed"),
    ({"type": "mask", "selector": {**AUDITORS, "column": {"names": ["amount"]}},
      "mask": {"operator": "expression", "expression": {"sql": "'***'"}}},
     "mask.expression.sql: the mask is VARCHAR, which does not convert to column amount"),
    ({"type": "mask", "selector": {**AUDITORS, "column": {"names": ["email"]}},
      "mask": {"operator": "expression", "expression": {"sql": "CASE WHEN regin = 'EU' THEN email END"}}},
     "mask.expression.sql: lake.shop.orders has no column regin (did you mean region?)"),
])
def test_a_bad_expression_is_refused_at_apply(lake, tmp_path, data, problem):
    line = error_line(apply_data_policy(lake, tmp_path, "bad-expression", {"selector": AUDITORS, **data}), "EINVAL", 2)
    assert "bad-expression" in line and "policy.data." + problem in line, line
    assert "bad-expression" not in ok(lake.as_("op", "get", "policy", "-o", "name")).stdout  # nothing stored


def test_expressions_that_fit_are_applied(lake, tmp_path):
    ok(apply_data_policy(lake, tmp_path, "paid-bonus", {
        "type": "filter", "dialect": "postgres", "selector": AUDITORS,
        "filters": [{"expression": "id IN (SELECT id FROM lake.hr.salaries WHERE secret_bonus > 0) "
                                   "AND region = user_tag('region')"}]}))
    ok(apply_data_policy(lake, tmp_path, "email-domain", {
        "type": "mask", "selector": {**AUDITORS, "column": {"names": ["email"]}},
        "mask": {"operator": "expression", "expression": {"sql": "split_part(email, '@', 2)"}}}))
    ok(lake.as_("op", "delete", "policy", "paid-bonus"))
    ok(lake.as_("op", "delete", "policy", "email-domain"))
