"""Kernel-side plugins (entry point group `dataos.kernel`), pip-installed where the kernel daemon
runs: a stack a workflow can name, a depot type a depot can name; a broken one leaves the kernel
running and shows in `plugins doctor`."""
from __future__ import annotations

import json

import duckdb
import pytest

from clitools import error_line, ok, pip_install, plugin_package, wait_for

KERNEL_SIDE = {
    "shout": '''
        import sys

        def register(api):
            s = api.schema
            api.stack("shout", "Print a word in capitals", s.Map({"word": s.Str()}, required=("word",)),
                      lambda spec: [sys.executable, "-c", f"print({spec['word']!r}.upper())"])

            class TsvDepot(api.depot_bases["file"]):
                """Tab-separated files: a file depot with its own type."""
                def __init__(self, name, spec, credentials=None):
                    super().__init__(name, {"path": spec["path"], "format": "csv"})

            api.depot_driver("tsvdir", TsvDepot)
    ''',
    "fragile": '''
        def register(api):
            raise ValueError("fragile breaks")
    ''',
}


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("kplugins")
    pip_install(root / "site", *(plugin_package(root, n, c, group="dataos.kernel", version="2.0", module=f"dataos_k{n}") for n, c in KERNEL_SIDE.items()))
    return {"PYTHONPATH": str(root / "site")}  # the daemon started by the first command inherits it


def test_listed_and_a_broken_one_does_not_stop_the_kernel(run_module, env):
    listed = {p["name"]: p for p in json.loads(ok(run_module("plugins", "list", "-o", "json", env=env)).stdout)}
    assert listed["shout"]["side"] == "kernel" and listed["shout"]["state"] == "loaded"
    assert listed["fragile"]["state"] == "failed"
    r = run_module("plugins", "doctor", env=env)
    assert r.returncode == 1 and "fragile (kernel side)" in r.stdout and "fragile breaks" in r.stdout
    assert "shout (kernel side) stack shout, depot type tsvdir" in r.stdout


def test_a_plugin_stack_runs_as_a_workflow(run_module, env, tmp_path):
    manifest = tmp_path / "wf.yaml"
    manifest.write_text("name: loud\nversion: v1\ntype: workflow\nworkflow:\n  dag:\n"
                        "    - name: say\n      spec: {stack: shout, stackSpec: {word: hello}}\n")
    ok(run_module("apply", "-f", manifest, env=env))
    wait_for(lambda: json.loads(run_module("get", "runtime", "workflow", "loud", "-o", "json", env=env).stdout)
             ["runtime"] == "succeeded", timeout=60)
    pod = json.loads(ok(run_module("pods", "-o", "json", env=env)).stdout)[0]["name"]
    assert ok(run_module("logs", pod, env=env)).stdout.strip() == "HELLO"
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: quiet\nversion: v1\ntype: workflow\nworkflow:\n  dag:\n"
                   "    - name: say\n      spec: {stack: shout, stackSpec: {words: hello}}\n")
    line = error_line(run_module("apply", "-f", bad, env=env), "EINVAL", 2)
    assert "stackSpec" in line


def test_a_plugin_depot_type(run_module, env, tmp_path):
    (tmp_path / "sales").mkdir()
    duckdb.sql(f"COPY (SELECT 1 AS id, 'a' AS name) TO '{tmp_path}/sales/deals.csv' (HEADER)")
    manifest = tmp_path / "depot.yaml"
    manifest.write_text(f"name: tsv\nversion: v1\ntype: depot\ndepot:\n  type: tsvdir\n  tsvdir: {{path: {tmp_path}}}\n")
    ok(run_module("apply", "-f", manifest, env=env))
    r = ok(run_module("query", "select name from tsv.sales.deals", "-o", "json", env=env))
    assert json.loads(r.stdout)["rows"] == [["a"]]
