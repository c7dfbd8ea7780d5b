"""Policy expressions end to end, through `dataos apply` and `dataos query`: a row filter whose
subquery reads a dataset the querying user may not select (it reads as the policy's author), a
filter on the user's own tags, a mask expression; and an author who may write policies but not
select what the subquery reads is refused at apply."""
from __future__ import annotations

import json

import duckdb
import pytest
from clitools import as_json, error_line, ok
from govkit import governed_lake


@pytest.fixture(scope="module")
def lake(run_module, tmp_path_factory):
    root = tmp_path_factory.mktemp("lake")
    lake = governed_lake(run_module, root)
    (root / "ref").mkdir()
    duckdb.sql(f"COPY (SELECT * FROM (VALUES ('EU', 'EUROPE'), ('US', 'AMERICA')) t(region, continent)) "
               f"TO '{root}/ref/regions.parquet' (FORMAT parquet)")
    ok(lake.as_("op", "catalog", "scan", "lake"))
    ok(lake.as_("op", "user", "create", "eve", "--tag", "roles:id:steward", "--tag", "region:US"))
    lake.tokens["eve"] = ok(lake.as_("op", "user", "apikey", "create", "eve")).stdout.strip()
    apply(lake, root, {"name": "stewards-write-policies", "version": "v1", "type": "policy", "policy": {"access": {
        "subjects": {"tags": [["roles:id:steward"]]}, "predicates": ["create", "update", "delete", "get", "list"],
        "objects": {"paths": ["/poros/instance/policy/*"]}}}})
    return lake, root


def apply(lake, root, manifest: dict, user: str = "op"):
    path = root / f"{manifest['name']}.json"
    path.write_text(json.dumps(manifest))
    return lake.as_(user, "apply", "-f", str(path))


def data_policy(name: str, data: dict, tags: str = "roles:id:analyst") -> dict:
    return {"name": name, "version": "v1", "type": "policy", "policy": {"data": {
        "priority": 5, "dataset_id": "lake.shop.orders", "selector": {"user": {"match": "any", "tags": [tags]}},
        **data}}}


def rows(lake, user: str, sql: str) -> list:
    return as_json(ok(lake.as_(user, "query", sql, "-o", "json")))["rows"]


def test_a_filter_subquery_reads_a_dataset_the_user_may_not_select(lake):
    lake, root = lake
    ok(apply(lake, root, data_policy("orders-of-europe", {"type": "filter", "dialect": "trino", "filters": [
        {"expression": "region IN (SELECT region FROM lake.ref.regions WHERE continent = 'EUROPE')"}]})))
    try:
        got = rows(lake, "ana", "SELECT DISTINCT region FROM lake.shop.orders")
        assert got == [["EU"]]
        line = error_line(lake.as_("ana", "query", "SELECT * FROM lake.ref.regions"), "ENOENT", 5)
        assert "lake.ref.regions" in line  # read for the policy, not for her
    finally:
        ok(lake.as_("op", "delete", "policy", "orders-of-europe"))


def test_a_filter_on_the_users_own_tag(lake):
    lake, root = lake
    ok(lake.as_("op", "user", "create", "uma", "--tag", "roles:id:analyst", "--tag", "region:US"))
    lake.tokens["uma"] = ok(lake.as_("op", "user", "apikey", "create", "uma")).stdout.strip()
    ok(apply(lake, root, data_policy("own-region", {"type": "filter", "filters": [
        {"expression": "region = user_tag('region') OR user_tag('region') IS NULL"}]})))
    try:
        assert rows(lake, "uma", "SELECT DISTINCT region FROM lake.shop.orders") == []  # eu-only AND her US
        assert rows(lake, "ana", "SELECT DISTINCT region FROM lake.shop.orders") == [["EU"]]  # no tag
    finally:
        ok(lake.as_("op", "delete", "policy", "own-region"))


def test_a_mask_expression_shows_what_it_computes(lake):
    lake, root = lake
    ok(apply(lake, root, {"name": "amount-rounded", "version": "v1", "type": "policy",
        "policy": {"data": {"priority": 5, "dataset_id": "lake.shop.orders", "type": "mask",
                            "selector": {"user": {"match": "any", "tags": ["roles:id:analyst"]},
                                         "column": {"names": ["amount"]}},
                            "mask": {"operator": "expression", "expression": {"sql": "round(amount, -1)"}}}}}))
    try:
        got = rows(lake, "ana", "SELECT id, amount FROM lake.shop.orders WHERE id IN (2, 8) ORDER BY id")
        assert [(i, float(amount)) for i, amount in got] == [(2, 0.0), (8, 10.0)]  # 3.0 and 12.0, rounded
    finally:
        ok(lake.as_("op", "delete", "policy", "amount-rounded"))


def test_an_author_may_not_read_through_a_policy_what_they_may_not_select(lake):
    lake, root = lake
    line = error_line(apply(lake, root, data_policy("peek", {"type": "filter", "filters": [
        {"expression": "EXISTS (SELECT 1 FROM lake.hr.salaries WHERE secret_bonus > 3000)"}]}, "roles:id:steward"),
        user="eve"), "EACCES", 4)
    assert "lake.hr.salaries" in line and "may not select" in line
    assert "peek" not in ok(lake.as_("op", "get", "policy", "-o", "name")).stdout


def test_a_depot_and_a_policy_reading_it_are_applied_together(lake):
    """In one file, before any scan: the policy is checked against the depot's datasets as it is
    applied with them (and a mistake in it refuses the whole file)."""
    lake, root = lake
    (root / "codes" / "sets").mkdir(parents=True)
    duckdb.sql(f"COPY (SELECT 'EU' AS region) TO '{root}/codes/sets/allowed.parquet' (FORMAT parquet)")
    depot = {"name": "codes", "version": "v1", "type": "depot",
             "depot": {"type": "file", "file": {"path": str(root / "codes"), "format": "parquet"}}}

    def both(expression: str):
        path = root / "together.yaml"
        policy = data_policy("allowed-regions", {"type": "filter", "filters": [{"expression": expression}]})
        path.write_text(f"{json.dumps(depot)}\n---\n{json.dumps(policy)}\n")
        return lake.as_("op", "apply", "-f", str(path))

    line = error_line(both("region IN (SELECT regoin FROM codes.sets.allowed)"), "EINVAL", 2)
    assert "allowed-regions" in line and "regoin" in line
    assert "codes" not in ok(lake.as_("op", "get", "depot", "-o", "name")).stdout  # all or nothing
    ok(both("region IN (SELECT region FROM codes.sets.allowed)"))
    try:
        assert rows(lake, "ana", "SELECT DISTINCT region FROM lake.shop.orders") == [["EU"]]
    finally:
        ok(lake.as_("op", "delete", "policy", "allowed-regions"))
        ok(lake.as_("op", "delete", "depot", "codes"))
