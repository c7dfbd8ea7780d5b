"""A pod the kernel stops on purpose reads `Stopped`, and `top` does not count it as failed."""
from __future__ import annotations

from clitools import as_json, ok, wait_for

WORKFLOW = """\
name: sleeper
version: v1
type: workflow
workflow:
  dag:
    - name: nap
      spec: {stack: container, stackSpec: {command: [sh, -c, "sleep 60"]}}
"""


def test_a_stopped_run_reads_stopped_not_failed(run_dataos, tmp_path):
    (tmp_path / "wf.yaml").write_text(WORKFLOW)
    ok(run_dataos("apply", "-f", tmp_path / "wf.yaml"))
    wait_for(lambda: [p for p in as_json(run_dataos("pods", "-o", "json")) if p["phase"] == "Running"], timeout=60)
    ok(run_dataos("runtime", "stop", "wf", "sleeper"))
    pods = wait_for(lambda: [p for p in as_json(run_dataos("pods", "-o", "json")) if p["phase"] == "Stopped"])
    assert pods[0]["reason"] == "Stopped"
    assert "Stopped" in ok(run_dataos("pods")).stdout
    top = as_json(run_dataos("top", "-o", "json"))
    assert top["phases"] == {"Stopped": 1} and top["resources"][0]["failed"] == 0
