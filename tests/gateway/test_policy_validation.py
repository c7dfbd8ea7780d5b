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
