"""`dataos catalog …` from the command line: the demo's done-when path (scan, find customers by
"email", tag phone PII.PhoneNumber, the analyst's next query masked), outputs and error lines."""
from __future__ import annotations

import pytest

from clitools import as_json, error_line, ok, wait_for

CUSTOMERS = "dataos://lakehouse:retail/customers"


@pytest.fixture(scope="module")
def demo(run_module):
    ok(run_module("demo", "install", "--orders", "20000", timeout=120))
    return run_module


def test_scan_search_tag_and_the_analysts_next_query_is_masked(demo):
    r = ok(demo("catalog", "scan", "lakehouse"))
    assert r.stdout.startswith("depot lakehouse: ") and "0 failed" in r.stdout
    found = as_json(demo("catalog", "search", "email", "-o", "json"))
    assert CUSTOMERS in [x["urn"] for x in found["results"]]
    shown = ok(demo("catalog", "show", "lakehouse.retail.customers")).stdout
    assert "phone" in shown and "suggested: PII.PhoneNumber on phone" in shown
    before = as_json(demo("--context", "demo-analyst", "query", "select phone from lakehouse.retail.customers "
                          "order by customer_id limit 1", "-o", "json"))["rows"][0][0]
    ok(demo("catalog", "tag", "lakehouse.retail.customers#phone", "PII.PhoneNumber"))
    after = as_json(demo("--context", "demo-analyst", "query", "select phone from lakehouse.retail.customers "
                         "order by customer_id limit 1", "-o", "json"))
    assert after["rows"][0][0] != before and "pii-phonenumber" in after["governance"]["policies"]
    history = as_json(demo("catalog", "history", CUSTOMERS, "-o", "json"))
    assert any("PII.PhoneNumber" in change for h in history for change in h["changes"])


def test_lineage_of_daily_revenue(demo):
    wait_for(lambda: as_json(demo("get", "runtime", "workflow", "daily-revenue", "-o", "json"))["runtime"]
             == "succeeded", timeout=60)
    ok(demo("catalog", "scan", "lakehouse"))
    tree = ok(demo("catalog", "lineage", "lakehouse.retail.daily_revenue#revenue", "--upstream")).stdout
    assert "dataos://lakehouse:retail/orders" in tree and "← amount" in tree
    down = as_json(demo("catalog", "lineage", "lakehouse.retail.orders", "--downstream", "-o", "json"))
    assert "dataos://lakehouse:retail/daily_revenue" in down["nodes"]
    down = as_json(demo("catalog", "lineage", "lakehouse.retail.customers", "--downstream", "-o", "json"))
    assert "dataos://lakehouse:retail/daily_revenue" in down["nodes"]
    tree = ok(demo("catalog", "lineage", "lakehouse.retail.daily_revenue#country", "--upstream")).stdout
    assert "dataos://lakehouse:retail/customers" in tree and "← country" in tree


def test_describe_and_owner(demo):
    ok(demo("catalog", "describe", "lakehouse.retail.orders", "Every order of the demo shop"))
    me = as_json(demo("whoami", "-o", "json"))["id"]
    ok(demo("catalog", "owner", "lakehouse.retail.orders", me))
    entry = as_json(demo("catalog", "show", "lakehouse.retail.orders", "-o", "json"))
    assert entry["aspects"]["ownership"]["owner"] == me
    assert as_json(demo("catalog", "search", "demo shop", "-o", "json"))["results"][0]["urn"] == \
        "dataos://lakehouse:retail/orders"


def test_errors_are_one_line(demo):
    error_line(demo("catalog", "show", "lakehouse.retail.nothing"), "ENOENT", 5)
    line = error_line(demo("catalog", "tag", "lakehouse.retail.customers#nope", "PII.Email"), "EINVAL", 2)
    assert "email" in line and "phone" in line
    error_line(demo("catalog", "scan", "no-such-depot"), "ENOENT", 5)
    error_line(demo("catalog", "show", "not an address"), "EINVAL", 2)


def test_distinct_counts_are_exact_for_a_small_dataset_and_say_so(demo):
    ok(demo("catalog", "scan", "lakehouse"))
    entry = as_json(demo("catalog", "show", "lakehouse.retail.orders", "-o", "json"))
    profile = entry["aspects"]["profile"]
    assert profile["distinct"] == "exact"
    orders = profile["columns"]["order_id"]["distinct"]
    assert orders == entry["aspects"]["properties"]["rows"] == 20000
    shown = ok(demo("catalog", "show", "lakehouse.retail.orders")).stdout
    assert "20,000 distinct" in shown and "~" not in shown


def test_a_lineage_tree_branches_like_tree_does():
    from dataos_shell.cli.catalog import _tree
    edge = lambda a, b: {"from": a, "to": b}  # noqa: E731
    graph = {"urn": "root", "edges": [edge("a", "root"), edge("b", "root"), edge("a1", "a"), edge("a2", "a")]}
    assert _tree(graph, "upstream", None).splitlines()[1:] == [
        "upstream:",
        "  ├─ a",
        "  │  ├─ a1",
        "  │  └─ a2",
        "  └─ b",
    ]
