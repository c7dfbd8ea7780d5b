"""`dataos demo install|status|uninstall` through the console script, and the demo a new local
kernel installs on its first start. The analyst sees hashed emails and EU rows only."""
from __future__ import annotations

import json

import duckdb
import pytest

from clitools import as_json, ok, wait_for

ORDERS = 20_000
MANIFESTS = ["depot/lakehouse", "policy/demo-analyst-read", "policy/demo-mask-email",
             "policy/demo-eu-only-customers", "policy/demo-eu-only-orders", "policy/demo-eu-only-daily-revenue",
             "workflow/daily-revenue"]


def customers(home):
    """The raw customers, read from the generated file: {customer_id: (email, region)}."""
    path = home / "demo" / "retail" / "customers.parquet"
    return {i: (email, region) for i, email, region in
            duckdb.sql(f"SELECT customer_id, email, region FROM '{path}'").fetchall()}


def token_of(run, context="demo-analyst") -> str:
    return json.loads((run.locations.config / "credentials.json").read_text())[context]


def query(run, sql, *args, env=None):
    return as_json(run("query", sql, "-o", "json", "--limit", "-1", *args, env=env))


@pytest.fixture(scope="module")
def demo(run_module):
    """A kernel with the demo installed once, and that install's output."""
    return run_module, ok(run_module("demo", "install", "--orders", ORDERS, timeout=120))


def test_install_reports_each_part_and_never_prints_the_token(demo):
    run, r = demo
    lines = r.stdout.splitlines()
    assert lines[0] == (f"data {run.home / 'demo' / 'retail'} generated: "
                        f"50,000 customers, 1,000 products, {ORDERS:,} orders")
    assert "depot/lakehouse created" in lines and "user/analyst created" in lines
    assert "context/demo-analyst created" in lines
    assert token_of(run) not in r.stdout + r.stderr
    assert 'dataos --context demo-analyst query' in r.stderr


def test_the_operator_sees_raw_emails(demo):
    run, _ = demo
    raw = customers(run.home)
    result = query(run, "select customer_id, email, region from lakehouse.retail.customers")
    assert {row[0]: (row[1], row[2]) for row in result["rows"]} == raw
    assert result["governance"]["policies"] == []


def test_the_workflow_builds_daily_revenue_with_the_sql_stack(demo):
    run, _ = demo
    wait_for(lambda: as_json(run("get", "runtime", "workflow", "daily-revenue", "-o", "json"))["runtime"]
             == "succeeded", timeout=60)
    result = query(run, "select sum(orders), count(distinct region) from lakehouse.retail.daily_revenue")
    assert result["rows"] == [[ORDERS, 3]]


def test_the_analyst_sees_only_eu_figures_in_what_is_derived_from_eu_only_data(demo):
    run, _ = demo
    wait_for(lambda: as_json(run("get", "runtime", "workflow", "daily-revenue", "-o", "json"))["runtime"]
             == "succeeded", timeout=60)
    analyst = {"DATAOS_TOKEN": token_of(run)}
    derived = query(run, "select region, sum(orders) from lakehouse.retail.daily_revenue group by 1", env=analyst)
    source = query(run, "select region, count(*) from lakehouse.retail.orders group by 1", env=analyst)
    assert derived["rows"] == source["rows"] and [r[0] for r in derived["rows"]] == ["EU"]
    assert derived["governance"]["policies"] == ["demo-eu-only-daily-revenue"]


@pytest.mark.parametrize("how", ["context", "token"])
def test_the_analyst_sees_hashed_emails_and_eu_rows_only(demo, how):
    run, _ = demo
    raw = customers(run.home)
    as_analyst = ("--context", "demo-analyst") if how == "context" else ()
    env = {"DATAOS_TOKEN": token_of(run)} if how == "token" else None
    result = as_json(run(*as_analyst, "query", "select customer_id, email, region from lakehouse.retail.customers",
                         "-o", "json", "--limit", "-1", env=env))
    eu = {i for i, (_, region) in raw.items() if region == "EU"}
    assert {row[0] for row in result["rows"]} == eu and {row[2] for row in result["rows"]} == {"EU"}
    emails = {email for email, _ in raw.values()}
    assert not {row[1] for row in result["rows"]} & emails
    assert {c["name"]: c["masked"] for c in result["columns"]}["email"] == "hash"
    assert result["governance"]["policies"] == ["demo-eu-only-customers", "demo-mask-email"]
    orders = as_json(run(*as_analyst, "query", "select region, count(*) from lakehouse.retail.orders group by 1",
                         "-o", "json", env=env))
    assert [row[0] for row in orders["rows"]] == ["EU"] and 0 < orders["rows"][0][1] < ORDERS


def test_install_again_changes_nothing(demo):
    run, _ = demo
    orders = run.home / "demo" / "retail" / "orders.parquet"
    before = orders.stat().st_mtime_ns
    r = ok(run("demo", "install"))
    assert all(line.split()[-1] == "unchanged" for line in r.stdout.splitlines()[1:]), r.stdout
    assert " unchanged: " in r.stdout.splitlines()[0] and orders.stat().st_mtime_ns == before
    assert ok(run("--context", "demo-analyst", "whoami")).returncode == 0


def test_status(demo):
    run, _ = demo
    info = as_json(run("demo", "status", "-o", "json"))
    assert info["path"] == str(run.home / "demo") and info["data"]["rows"]["orders"] == ORDERS
    assert list(info["resources"]) == MANIFESTS
    assert all(info["resources"][name] == "active" for name in MANIFESTS[:-1])
    assert info["analyst"] == {"user": True, "demo": True, "context": "local://", "token": True}
    table = ok(run("demo", "status")).stdout
    assert "context/demo-analyst" in table and "local:// (token works)" in table


def test_uninstall_removes_everything(run_dataos, dataos_home):
    ok(run_dataos("demo", "install", "--orders", 1_000))
    r = ok(run_dataos("demo", "uninstall"))
    assert [line for line in r.stdout.splitlines() if line.startswith("policy/")] == [
        f"{name} deleted" for name in reversed(MANIFESTS[1:-1])]
    assert not (dataos_home / "demo").exists()
    info = as_json(run_dataos("demo", "status", "-o", "json"))
    assert info["data"] is None and not any(info["resources"].values())
    assert info["analyst"] == {"user": False, "demo": False, "context": None, "token": False}
    assert "demo-analyst" not in ok(run_dataos("context", "list")).stdout
    assert "demo-analyst" not in (run_dataos.locations.config / "credentials.json").read_text()
    assert ok(run_dataos("demo", "uninstall")).stdout.strip() == "the demo is not installed"


FIRST_START = {"DATAOS_NO_DEMO": None, "DATAOS_DEMO_ORDERS": "2000"}


@pytest.mark.parametrize("command", [("kernel", "start"), ("whoami",)])
def test_a_new_kernel_installs_the_demo_on_its_first_start(run_dataos, command):
    r = ok(run_dataos(*command, env=FIRST_START))
    assert "installing the demo lakehouse (2,000 orders); `dataos demo uninstall` removes it" in r.stderr
    info = as_json(run_dataos("demo", "status", "-o", "json"))
    assert info["data"]["rows"]["orders"] == 2_000 and info["resources"]["depot/lakehouse"] == "active"
    assert info["analyst"]["token"] is True
    ok(run_dataos("kernel", "stop"))
    r = ok(run_dataos(*command, env=FIRST_START))  # not a first start any more
    assert "demo" not in r.stderr


@pytest.mark.parametrize("command, env", [(("kernel", "start", "--no-demo"), FIRST_START),
                                          (("whoami",), {**FIRST_START, "DATAOS_NO_DEMO": "1"})])
def test_no_demo(run_dataos, dataos_home, command, env):
    r = ok(run_dataos(*command, env=env))
    assert "demo" not in r.stderr and not (dataos_home / "demo").exists()
    assert as_json(run_dataos("demo", "status", "-o", "json"))["resources"]["depot/lakehouse"] is None


def test_a_failed_first_start_install_is_a_notice_and_the_command_goes_on(run_dataos):
    r = ok(run_dataos("whoami", "-o", "json", env={**FIRST_START, "DATAOS_DEMO_ORDERS": "many"}))
    assert json.loads(r.stdout)["id"]
    assert r.stderr.strip() == ("notice: the demo lakehouse was not installed (EINVAL: DATAOS_DEMO_ORDERS: expected "
                                "a positive number of orders, not 'many'); `dataos demo install` retries")
