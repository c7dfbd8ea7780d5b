"""The runtime through the real daemon and CLI: a kill -9 of the daemon mid-workflow loses
nothing and runs nothing twice; logs follow a running pod. (A job's identity and rights:
test_run_identity.py.)"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from clitools import DATAOS, wait_for

pytestmark = pytest.mark.slow


def runtime(run_dataos, kind, name):
    r = run_dataos("get", "runtime", kind, name, "-o", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


WORKFLOW = """\
name: steady
version: v1
type: workflow
workflow:
  dag:
    - name: first
      spec: {stack: container, stackSpec: {command: [sh, -c, "echo first; sleep 2"]}}
    - name: second
      dependencies: [first]
      spec: {stack: container, stackSpec: {command: [sh, -c, "echo second"]}}
"""


def test_kill_9_of_the_daemon_mid_workflow_loses_nothing_and_runs_nothing_twice(run_dataos, dataos_home, tmp_path):
    manifest = tmp_path / "wf.yaml"
    manifest.write_text(WORKFLOW)
    assert run_dataos("apply", "-f", manifest).returncode == 0
    wait_for(lambda: runtime(run_dataos, "workflow", "steady")["runtime"] == "running")
    pid = int((Path(dataos_home) / "run" / "kernel.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.3)
    rt = wait_for(lambda: (r := runtime(run_dataos, "workflow", "steady"))["runtime"] == "succeeded" and r)
    assert [j["attempts"] for j in rt["run"]["jobs"]] == [1, 1]
    pods = json.loads(run_dataos("pods", "-o", "json").stdout)
    assert sorted(p["job"] for p in pods) == ["first", "second"]
    assert {p["job"]: run_dataos("logs", p["name"]).stdout for p in pods} == {"first": "first\n", "second": "second\n"}


def test_logs_follow_streams_while_the_pod_runs(run_dataos, dataos_home, tmp_path):
    manifest = tmp_path / "w.yaml"
    manifest.write_text("name: ticker\nversion: v1\ntype: worker\nworker:\n  stack: container\n"
                        "  stackSpec: {command: [sh, -c, 'for i in 1 2 3; do echo tick $$i; sleep 0.3; done; "
                        "exec sleep 60']}\n")
    assert run_dataos("apply", "-f", manifest).returncode == 0
    wait_for(lambda: runtime(run_dataos, "worker", "ticker")["runtime"] == "running:1")
    pod = json.loads(run_dataos("pods", "-r", "worker/ticker", "-o", "json").stdout)[0]["name"]
    proc = subprocess.Popen([*DATAOS, "logs", pod, "-f"], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "DATAOS_HOME": str(dataos_home)})
    try:
        lines = [proc.stdout.readline() for _ in range(3)]
        assert lines == ["tick 1\n", "tick 2\n", "tick 3\n"]
    finally:
        proc.kill()
    assert run_dataos("runtime", "stop", "worker", "ticker").returncode == 0
    wait_for(lambda: json.loads(run_dataos("pods", "-r", "worker/ticker", "-o", "json").stdout)[0]["phase"] == "Stopped")
