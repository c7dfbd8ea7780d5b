"""The quality plugin installed (entry points `dataos.plugins` and `dataos.kernel`): `dataos quality
check` from the command line, its run in `dataos catalog show` and history, `dataos query -o markdown`,
and the `quality` stack: a workflow that checks a dataset as its owner and records the run (a failing
rule fails the job; a bad rule fails at apply)."""
from __future__ import annotations

import json
from importlib.metadata import entry_points

import duckdb
import pytest

from clitools import apply_file_depot, as_json, error_line, ok, wait_for

GROUPS = {"dataos.plugins": "plugins.quality", "dataos.kernel": "plugins.quality.kernel"}


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    """PYTHONPATH with the plugin's entry points, unless this environment has them installed already."""
    site = tmp_path_factory.mktemp("quality-site")
    missing = {g: v for g, v in GROUPS.items() if not any(ep.name == "quality" for ep in entry_points(group=g))}
    if missing:
        info = site / "dataos_quality_test-0.0.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: dataos-quality-test\nVersion: 0.0.0\n")
        (info / "entry_points.txt").write_text("".join(f"[{g}]\nquality = {v}\n\n" for g, v in missing.items()))
    return {"PYTHONPATH": str(site)}


@pytest.fixture(scope="module")
def lake(run_module, env, tmp_path_factory):
    root = tmp_path_factory.mktemp("qlake")
    (root / "crm").mkdir()
    duckdb.sql(f"COPY (SELECT CASE WHEN i = 9 THEN 1 ELSE i END AS id, CASE WHEN i < 3 THEN NULL ELSE 'e' || i END "
               f"AS email FROM range(20) t(i)) TO '{root}/crm/people.parquet'")
    apply_file_depot(run_module, "qlake", root, env=env)
    wait_for(lambda: run_module("catalog", "show", "qlake.crm.people", env=env).returncode == 0, timeout=30)
    return root


def test_check_from_the_command_line_is_recorded_and_shown(run_module, env, lake):
    r = run_module("quality", "check", "qlake.crm.people", "--rule", "not_null(email)", "--rule", "unique(id)",
                   "--rule", "row_count(20)", env=env)
    assert r.returncode == 1, r.stdout + r.stderr  # rules failed
    assert "Traceback" not in r.stderr
    rows = [line.split() for line in r.stdout.splitlines()]
    assert rows[0] == ["RULE", "STATUS", "FAILED", "ROWS"]
    assert rows[1:] == [["not_null(email)", "FAIL", "3", "20"], ["unique(id)", "FAIL", "1", "20"],
                        ["row_count(20)", "pass", "0", "20"]]
    shown = ok(run_module("catalog", "show", "qlake.crm.people", env=env)).stdout
    assert "quality: 1 passed, 2 failed" in shown and "FAIL not_null(email): 3 of 20 rows" in shown
    history = as_json(run_module("catalog", "history", "dataos://qlake:crm/people", "-o", "json", env=env))
    assert history[-1]["changes"] == ["quality check: 1 passed, 2 failed (not_null(email), unique(id))"]
    ok(run_module("quality", "check", "qlake.crm.people", "--rule", "row_count(1)", env=env))  # exit 0: all pass
    assert "row_count(1)" in ok(run_module("quality", "show", "qlake.crm.people", env=env)).stdout
    line = error_line(run_module("quality", "check", "qlake.crm.people", "--rule", "unique(id)", "--rule",
                                 "not_null(nope)", env=env), "EINVAL", 2)
    assert "rule 2" in line and "nope" in line


def test_query_markdown_output_format(run_module, env, lake):
    out = ok(run_module("query", "select id, email from qlake.crm.people order by id limit 4", "-o", "markdown",
                        env=env)).stdout.splitlines()
    assert out[:3] == ["| id | email |", "| --- | --- |", "| 0 |  |"]


def _workflow(name: str, rules: list[str]) -> str:
    return json.dumps({"name": name, "version": "v1", "type": "workflow", "workflow": {"dag": [
        {"name": "check", "spec": {"stack": "quality", "stackSpec": {
            "dataset": "dataos://qlake:crm/people", "rules": rules}}}]}})


def test_the_quality_stack_runs_checks_as_a_workflow(run_module, env, lake, tmp_path):
    me = as_json(run_module("whoami", "-o", "json", env=env))["id"]
    for name, rules, outcome in (("quality-pass", ["unique(email)", "row_count(1, 100)"], "succeeded"),
                                 ("quality-fail", ["not_null(email)"], "failed")):
        manifest = tmp_path / f"{name}.json"
        manifest.write_text(_workflow(name, rules))
        ok(run_module("apply", "-f", manifest, env=env))
        wait_for(lambda: as_json(run_module("get", "runtime", "workflow", name, "-o", "json", env=env))["runtime"]
                 in ("succeeded", "failed"), timeout=90, every=0.3)
        runtime = as_json(run_module("get", "runtime", "workflow", name, "-o", "json", env=env))["runtime"]
        assert runtime == outcome, run_module("logs", "workflow", name, env=env).stdout
        run = as_json(run_module("catalog", "show", "qlake.crm.people", "-o", "json", env=env))["aspects"]["quality"]
        assert [r["rule"] for r in run["results"]] == rules and run["by"] == me
    bad = tmp_path / "bad.json"
    bad.write_text(_workflow("quality-bad", ["not_nul(email)"]))
    line = error_line(run_module("apply", "-f", bad, env=env), "EINVAL", 2)
    assert "stackSpec.rules[0]" in line and "not_nul" in line
