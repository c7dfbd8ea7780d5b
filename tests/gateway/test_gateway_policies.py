"""The ``policy.data`` parser and the choice of masks and filters per user and dataset."""
from __future__ import annotations

import pytest

from kernel.gateway import Dataset, PolicyError, parse_data_policy
from kernel.gateway.policies import govern

USER = {"match": "any", "tags": ["roles:id:user"]}
DS = Dataset("icebase", "retail", "customer", {"id": "INTEGER", "Email": "VARCHAR", "phone": "VARCHAR",
                                                "dob": "DATE", "notes": "VARCHAR"},
             {"email": frozenset({"PII.Email"}), "phone": frozenset({"PII.PhoneNumber"}),
              "dob": frozenset({"PII.DateOfBirth"}), "notes": frozenset({"PII.Custom", "team:crm"})})


def mask(name: str, priority: int, operator: str = "redact", user: dict = USER, **extra) -> object:
    selector = {"user": user, "column": extra.pop("column", {"names": ["email"]})}
    return parse_data_policy(name, {"type": "mask", "priority": priority, "selector": selector,
                                    "mask": {"operator": operator}, **extra})


def chosen(policies, tags=frozenset({"roles:id:user"}), dataset=DS) -> dict[str, tuple[str, str]]:
    rule = govern(dataset, policies, frozenset(tags))
    return {column: (name, m["operator"]) for column, (name, m) in rule.masks.items()}


# --- parsing ---------------------------------------------------------------------------------------

def test_parses_a_dataos_mask_policy():
    policy = parse_data_policy("email-hash", {
        "type": "mask", "priority": 40, "depot": "icebase", "collection": "retail", "dataset": "customer",
        "selector": {"user": {"match": "all", "tags": ["roles:id:user", "users:id:*"]},
                     "column": {"tags": ["PII.Email"], "names": ["Email"]}},
        "mask": {"operator": "hash", "hash": {"algo": "sha256"}}})
    assert policy.dataset == "icebase.retail.customer"
    assert policy.user_tags == (frozenset({"roles:id:user", "users:id:*"}),)
    assert policy.columns == frozenset({"email"}) and policy.column_tags == frozenset({"PII.Email"})
    assert policy.mask == {"operator": "hash", "hash": {"algo": "sha256"}}


def test_parses_a_filter_policy_with_a_dataset_id_address():
    policy = parse_data_policy("eu", {"type": "filter", "priority": 80,
                                      "dataset_id": "dataos://icebase:retail/customer", "selector": {"user": USER},
                                      "filters": [{"column": "region", "operator": "in", "value": ["EU", "UK"]}]})
    assert policy.dataset == "icebase.retail.customer"
    assert policy.user_tags == (frozenset({"roles:id:user"}),)
    assert policy.filters == ({"column": "region", "operator": "in", "value": ["EU", "UK"]},)


def test_missing_dataset_parts_match_any():
    policy = parse_data_policy("p", {"type": "mask", "priority": 1, "collection": "retail",
                                     "selector": {"user": USER, "column": {"names": ["x"]}},
                                     "mask": {"operator": "pass_through"}})
    assert policy.dataset == "*.retail.*" and policy.mask == {"operator": "pass_through"}


@pytest.mark.parametrize("data, field", [
    ({"priority": 1, "selector": {"user": USER}, "filters": []}, "policy.data.type"),
    ({"type": "deny", "priority": 1, "selector": {"user": USER}}, "policy.data.type"),
    ({"type": "mask", "priority": "1", "selector": {"user": USER}}, "policy.data.priority"),
    ({"type": "mask", "priority": True, "selector": {"user": USER}}, "policy.data.priority"),
    ({"type": "mask", "priority": 1, "selector": {"user": USER}, "mask": {"operator": "hash"}},
     "policy.data.selector.column"),
    ({"type": "mask", "priority": 1, "selector": {"user": USER, "column": {"names": ["a"]}}}, "policy.data.mask"),
    ({"type": "mask", "priority": 1, "selector": {"user": USER, "column": {}}, "mask": {"operator": "hash"}},
     "policy.data.selector.column"),
    ({"type": "mask", "priority": 1, "selector": {"user": USER, "column": {"names": ["a"]}},
      "mask": {"operator": "shuffle"}}, "policy.data.mask.operator"),
    ({"type": "mask", "priority": 1, "selector": {"user": USER, "column": {"names": ["a"]}},
      "mask": {"operator": "hash", "hash": {"algo": "md5"}}}, "policy.data.mask.hash.algo"),
    ({"type": "mask", "priority": 1, "selector": {"user": USER, "column": {"names": ["a"]}},
      "mask": {"operator": "hash", "redact": {}}}, "policy.data.mask.redact"),
    ({"type": "mask", "priority": 1, "selector": {"user": USER, "column": {"names": ["a"]}},
      "mask": {"operator": "bucket_number", "bucket_number": {"buckets": [5, 5]}}},
     "policy.data.mask.bucket_number.buckets"),
    ({"type": "mask", "priority": 1, "selector": {"user": USER, "column": {"names": ["a"]}},
      "mask": {"operator": "bucket_number", "bucket_number": {"buckets": [1, "x"]}}},
     "policy.data.mask.bucket_number.buckets[1]"),
    ({"type": "mask", "priority": 1, "selector": {"user": USER, "column": {"names": ["a"]}},
      "mask": {"operator": "bucket_date", "bucket_date": {"precision": "hour"}}},
     "policy.data.mask.bucket_date.precision"),
    ({"type": "mask", "priority": 1, "selector": {"user": USER, "column": {"names": ["a"]}},
      "mask": {"operator": "regex_replace", "regex_replace": {"pattern": "x"}}},
     "policy.data.mask.regex_replace.replacement"),
    ({"type": "mask", "priority": 1, "selector": {"user": USER, "column": {"names": ["a"]}},
      "mask": {"operator": "pass_through", "pass_through": {"x": 1}}}, "policy.data.mask.pass_through"),
    ({"type": "filter", "priority": 1, "selector": {"user": USER}, "filters": []}, "policy.data.filters"),
    ({"type": "filter", "priority": 1, "selector": {"user": USER},
      "filters": [{"column": "a", "operator": "like", "value": "x"}]}, "policy.data.filters[0].operator"),
    ({"type": "filter", "priority": 1, "selector": {"user": USER},
      "filters": [{"column": "a", "operator": "equals", "value": None}]}, "policy.data.filters[0].value"),
    ({"type": "filter", "priority": 1, "selector": {"user": USER}, "mask": {"operator": "hash"},
      "filters": [{"column": "a", "operator": "equals", "value": 1}]}, "policy.data.mask"),
    ({"type": "filter", "priority": 1, "selector": {"user": {"match": "some", "tags": ["a"]}},
      "filters": [{"column": "a", "operator": "equals", "value": 1}]}, "policy.data.selector.user.match"),
    ({"type": "filter", "priority": 1, "selector": {}, "filters": []}, "policy.data.selector.user"),
    ({"type": "filter", "priority": 1, "dataset_id": "a.*", "selector": {"user": USER},
      "filters": [{"column": "a", "operator": "equals", "value": 1}]}, "policy.data.dataset_id"),
    ({"type": "filter", "priority": 1, "dataset_id": "a.b.c", "depot": "a", "selector": {"user": USER},
      "filters": [{"column": "a", "operator": "equals", "value": 1}]}, "policy.data.depot"),
    ({"type": "filter", "priority": 1, "selector": {"user": USER}, "colour": 1,
      "filters": [{"column": "a", "operator": "equals", "value": 1}]}, "policy.data.colour"),
])
def test_bad_policies_name_the_field(data, field):
    with pytest.raises(PolicyError) as info:
        parse_data_policy("p", data)
    assert info.value.field == field
    assert isinstance(info.value, ValueError)


# --- choosing --------------------------------------------------------------------------------------

def test_lowest_priority_number_wins_and_ties_go_to_the_smallest_name():
    assert chosen([mask("b", 10, "hash"), mask("a", 20)])["Email"] == ("b", "hash")
    assert chosen([mask("b", 10, "hash"), mask("a", 10)])["Email"] == ("a", "redact")
    assert chosen([mask("a", 10), mask("b", 10, "hash")]) == chosen([mask("b", 10, "hash"), mask("a", 10)])


def test_pii_tags_imply_default_masks_at_priority_99():
    assert chosen([]) == {"Email": ("pii-email", "hash"), "phone": ("pii-phonenumber", "redact"),
                          "dob": ("pii-dateofbirth", "bucket_date"), "notes": ("pii-default", "redact")}
    assert chosen([mask("x", 99, "pass_through")])["Email"] == ("pii-email", "hash")
    assert chosen([mask("a", 99, "pass_through")])["Email"] == ("a", "pass_through")
    assert chosen([mask("z", 98, "pass_through")])["Email"] == ("z", "pass_through")
    assert chosen([mask("z", 100, "pass_through")])["Email"] == ("pii-email", "hash")


def test_pii_readers_skip_default_masks_but_not_explicit_policies():
    reader = {"roles:id:pii-reader", "roles:id:user"}
    assert chosen([], reader) == {}
    assert chosen([mask("m", 50)], reader) == {"Email": ("m", "redact")}


def test_column_selectors_match_names_case_insensitively_and_tags_by_glob():
    assert "Email" in chosen([mask("m", 1, column={"names": ["EMAIL"]})], {"roles:id:pii-reader", "roles:id:user"})
    picked = chosen([mask("m", 1, column={"tags": ["PII.*"]})])
    assert {c for c, (name, _) in picked.items() if name == "m"} == {"Email", "phone", "dob", "notes"}
    picked = chosen([mask("m", 1, column={"tags": ["team:*"]})])
    assert picked["notes"] == ("m", "redact")


def test_user_selectors_any_and_all():
    any_of = {"match": "any", "tags": ["roles:id:a", "roles:id:b"]}
    all_of = {"match": "all", "tags": ["roles:id:a", "users:id:*"]}
    assert chosen([mask("m", 1, user=any_of)], {"roles:id:b"})["Email"][0] == "m"
    assert chosen([mask("m", 1, user=all_of)], {"roles:id:a"})["Email"][0] == "pii-email"
    assert chosen([mask("m", 1, user=all_of)], {"roles:id:a", "users:id:ann"})["Email"][0] == "m"


@pytest.mark.parametrize("target, applies", [
    ({"dataset_id": "icebase.retail.customer"}, True),
    ({"dataset_id": "ICEBASE.retail.*"}, True),
    ({"dataset_id": "icebase.*.cust*"}, True),
    ({"dataset_id": "icebase.**"}, True),
    ({"dataset_id": "icebase.retail.orders"}, False),
    ({"depot": "icebase"}, True),
    ({"collection": "finance"}, False),
    ({}, True),
])
def test_dataset_targets(target, applies):
    assert (chosen([mask("m", 1, **target)])["Email"][0] == "m") is applies


def test_filters_apply_by_user_and_dataset_and_are_listed_by_name():
    def flt(name, **extra):
        return parse_data_policy(name, {"type": "filter", "priority": 5, "selector": {"user": USER},
                                        "filters": [{"column": "id", "operator": "greater_than", "value": 0}],
                                        **extra})
    rule = govern(DS, [flt("b"), flt("a"), flt("c", dataset_id="x.y.z")], frozenset({"roles:id:user"}))
    assert [name for name, _ in rule.filters] == ["a", "b"]
    assert rule.policies >= {"a", "b", "pii-email"}
    assert govern(DS, [flt("b")], frozenset({"roles:id:other"})).filters == ()


def test_expressions_parse_to_checked_duckdb_text_and_name_what_they_read():
    policy = parse_data_policy("eu", {
        "type": "filter", "priority": 5, "dialect": "trino", "dataset_id": "lake.tpch.customer",
        "selector": {"user": USER},
        "filters": [{"expression": "c_nationkey IN (SELECT n_nationkey FROM lake.tpch.nation WHERE n_name = 'FRANCE')"},
                    {"expression": "owner = ${user} OR region = user_tag('region')"},
                    {"column": "c_mktsegment", "operator": "in", "value": ["BUILDING"]}]})
    assert policy.filters == (
        {"expression": '"c_nationkey" IN (SELECT "n_nationkey" FROM "lake"."tpch"."nation" WHERE "n_name" = \'FRANCE\')'},
        {"expression": '"owner" = USER_TAG(\'users:id\') OR "region" = USER_TAG(\'region\')'},
        {"column": "c_mktsegment", "operator": "in", "value": ["BUILDING"]})
    assert policy.reads == ("lake.tpch.nation",)
    mask_ = parse_data_policy("m", {"type": "mask", "priority": 1, "dialect": "postgres",
                                    "selector": {"user": USER, "column": {"names": ["phone"]}},
                                    "mask": {"operator": "expression", "expression": {"sql": "'***-' || right(phone, 4)"}}})
    assert mask_.mask == {"operator": "expression", "expression": {"sql": '\'***-\' || RIGHT("phone", 4)'}}
    assert mask_.reads == ()
