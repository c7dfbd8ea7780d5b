"""The Runtime tab of Operations, from what a real kernel answers about a workflow's run."""
from __future__ import annotations

from tui.operations.details import runtime_text
from clitools import wait_for


def test_the_runtime_tab_shows_each_jobs_exit_code(tmp_path):
    import syscalls
    k = syscalls.connect(f"embedded://{tmp_path}/state")
    try:
        k.resource.apply(manifests=[{"name": "exits", "version": "v1", "type": "workflow", "workflow": {"dag": [
            {"name": "ok", "spec": {"stack": "container", "stackSpec": {"command": ["true"]}}},
            {"name": "bad", "dependencies": ["ok"],
             "spec": {"stack": "container", "stackSpec": {"command": ["sh", "-c", "exit 3"]}}}]}}])
        rt = wait_for(lambda: (r := k.runtime.get(type="workflow", name="exits"))["runtime"] == "failed" and r,
                      timeout=60)
        jobs = {line.split()[0]: line for line in runtime_text(rt).splitlines()[3:5]}
        assert jobs["ok"].split()[1:] == ["succeeded", "attempts=1", "exit=0"]
        assert jobs["bad"].split()[1:] == ["failed", "attempts=1", "exit=3"]
    finally:
        k.close()
