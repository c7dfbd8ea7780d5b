"""`describe` ends with the resource's events (kubectl's TYPE REASON AGE FROM MESSAGE, oldest
first), and says near the top why a failed runtime failed: the job, its pod, its exit code and
the last lines of its log."""
from __future__ import annotations

import re
import time

from clitools import as_json, ok, two_jobs, wait_for

from kernel.cloud.sandbox import find_bwrap

FAILING = "echo loading; echo disk on fire; exit 3"  # the last job: its last lines say why


def _failed(run, name: str) -> dict:
    return wait_for(lambda: (rt := as_json(run("get", "runtime", "workflow", name, "-o", "json")))["run"]
                    and rt["run"]["state"] == "failed" and rt, timeout=60)


def _events(text: str) -> list[str]:
    """The rows of the Events section (after its header)."""
    section = text.split("Events:", 1)[1].splitlines()
    assert re.match(r"\s+TYPE\s+REASON\s+AGE\s+FROM\s+MESSAGE$", section[1]), section[:2]
    return [line.strip() for line in section[2:] if line.strip()]


def test_describe_tells_why_a_workflow_failed_and_what_happened(run_module, tmp_path):
    (tmp_path / "wf.yaml").write_text(two_jobs("etl", last=FAILING))
    ok(run_module("apply", "-f", tmp_path / "wf.yaml"))
    rt = _failed(run_module, "etl")
    load_pod = next(j["pod"] for j in rt["run"]["jobs"] if j["name"] == "load")
    extract_pod = next(j["pod"] for j in rt["run"]["jobs"] if j["name"] == "extract")

    out = ok(run_module("describe", "workflow", "etl")).stdout
    head = out.split("Spec:", 1)[0]
    assert re.search(r"^Reason:\s+JobFailed$", head, re.MULTILINE), head
    message = re.search(r"^Message:\s+(.*)$", head, re.MULTILINE).group(1)
    assert "job load" in message and load_pod in message and "exit code 3" in message, message
    assert "disk on fire" in head  # the last lines of its log

    events = _events(out)
    operator = as_json(run_module("whoami", "-o", "json"))["id"]
    assert re.match(rf"Normal\s+Applied\s+\S+\s+poros\s+generation 1 created by {operator}", events[0]), events
    created = [e for e in events if " Created " in f" {e} "]
    assert [extract_pod in created[0], load_pod in created[1]] == [True, True], events
    failed = [e for e in events if e.startswith("Warning") and load_pod in e]
    assert failed and "exit code 3" in failed[0] and "Error" in failed[0], events
    assert any(e.startswith("Warning") and "RunFailed" in e for e in events), events
    assert events.index(created[0]) < events.index(created[1]) < events.index(failed[0])  # oldest first


def test_describe_pod_ends_with_its_events(run_module, tmp_path):
    (tmp_path / "wf.yaml").write_text(two_jobs("podded", last=FAILING))
    ok(run_module("apply", "-f", tmp_path / "wf.yaml"))
    rt = _failed(run_module, "podded")
    load_pod = next(j["pod"] for j in rt["run"]["jobs"] if j["name"] == "load")
    described = lambda: _events(ok(run_module("describe", "pod", load_pod)).stdout)  # noqa: E731
    wait_for(lambda: "Warning" in described()[-1], timeout=20)  # (the pod's event may follow the run's state)
    events = described()
    assert re.match(rf"Normal\s+Created\s+\S+\s+caretaker\s+.*{load_pod}", events[0]), events
    assert re.match(r"Warning\s+Failed\s+\S+\s+caretaker\s+.*exit code 3", events[-1]), events


def test_a_rerun_and_its_pods_are_events(run_module, tmp_path):
    (tmp_path / "wf.yaml").write_text(two_jobs("again", last=FAILING))
    ok(run_module("apply", "-f", tmp_path / "wf.yaml"))
    _failed(run_module, "again")
    ok(run_module("runtime", "rerun", "workflow", "again"))
    wait_for(lambda: as_json(run_module("get", "runtime", "workflow", "again", "-o", "json"))["run"]["id"] == 2
             and _failed(run_module, "again"), timeout=60)
    events = _events(ok(run_module("describe", "workflow", "again")).stdout)
    rerun = [i for i, e in enumerate(events) if re.match(r"Normal\s+Rerun\s+", e)]
    assert rerun and "run 2" in events[rerun[0]], events
    later = events[rerun[0]:]
    assert any("Created" in e and "-2-1" in e for e in later), events  # run 2's pods


def test_a_job_that_cannot_start_is_a_warning_event(run_module, tmp_path):
    (tmp_path / "s.yaml").write_text("name: gone\nversion: v1\ntype: secret\n"
                                     "secret:\n  type: key-value\n  data: {K: v}\n")
    ok(run_module("apply", "-f", tmp_path / "s.yaml"))
    (tmp_path / "wf.yaml").write_text(
        "name: orphan\nversion: v1\ntype: workflow\nworkflow:\n  schedule: {cron: '0 0 1 1 *'}\n  dag:\n"
        "    - name: use\n      spec: {stack: container, dataosSecrets: [{name: gone}],"
        " stackSpec: {command: [sh, -c, 'true']}}\n")
    ok(run_module("apply", "-f", tmp_path / "wf.yaml"))
    ok(run_module("delete", "secret", "gone"))
    ok(run_module("runtime", "run", "workflow", "orphan"))
    rt = _failed(run_module, "orphan")
    out = ok(run_module("describe", "workflow", "orphan")).stdout
    events = _events(out)
    assert any(re.match(r"Warning\s+FailedCreate\s+\S+\s+workflow-controller\s+.*job use", e) for e in events), events
    assert "could not start" in out.split("Spec:", 1)[0], out
    assert rt["run"]["jobs"][0]["state"] == "unstartable"


FAILING_BWRAP = """\
#!/bin/sh
for last; do :; done
[ "$last" = true ] && exec {bwrap} "$@"  # the kernel's probe passes; every pod's sandbox fails
echo "bwrap: Creating new namespace failed: Operation not permitted" >&2
exit 1
"""


def test_a_sandbox_that_fails_is_said_so(run_dataos, tmp_path):
    bwrap = find_bwrap()
    assert bwrap, "bubblewrap is installed by the project's set-up (scripts/setup.sh: ensure_sandbox)"
    fake = tmp_path / "bwrap"
    fake.write_text(FAILING_BWRAP.format(bwrap=bwrap))
    fake.chmod(0o755)
    ok(run_dataos("kernel", "start", env={"DATAOS_BWRAP": str(fake)}))
    (tmp_path / "wf.yaml").write_text(two_jobs("boxed", last=FAILING))
    ok(run_dataos("apply", "-f", tmp_path / "wf.yaml"))
    _failed(run_dataos, "boxed")
    out = ok(run_dataos("describe", "workflow", "boxed")).stdout
    head = out.split("Spec:", 1)[0]
    assert "exit code 1 (SandboxError)" in head and "bwrap: Creating new namespace failed" in head, head
    assert any(re.match(r"Warning\s+SandboxError\s+", e) for e in _events(out)), out


def test_a_resource_that_cannot_be_reconciled_says_why_once(run_module, tmp_path):
    (tmp_path / "s.yaml").write_text("name: vanishing\nversion: v1\ntype: secret\n"
                                     "secret:\n  type: key-value\n  data: {K: v}\n")
    ok(run_module("apply", "-f", tmp_path / "s.yaml"))
    (tmp_path / "svc.yaml").write_text(
        "name: flaky\nversion: v1\ntype: service\nservice:\n  stack: container\n"
        "  dataosSecrets: [{name: vanishing}]\n  stackSpec: {command: [sh, -c, 'sleep 0.3; exit 1']}\n")
    ok(run_module("apply", "-f", tmp_path / "svc.yaml"))
    ok(run_module("delete", "secret", "vanishing"))  # the next restart cannot start its pod

    def errors() -> list[str]:
        return [e for e in _events(ok(run_module("describe", "service", "flaky")).stdout) if "ReconcileError" in e]
    found = wait_for(errors, timeout=30)
    assert re.match(r"Warning\s+ReconcileError\s+\S+\s+reconciler\s+.*vanishing", found[0]), found
    time.sleep(1.5)  # it keeps failing, every tick: still one event
    assert len(errors()) == 1


def test_what_controllers_note_is_bounded_per_resource(tmp_path):
    from kernel.caretaker import NOTES_KEPT, Caretaker
    from kernel.store import Place
    caretaker = Caretaker(Place(tmp_path))
    for i in range(NOTES_KEPT + 50):
        caretaker.record("public/service/s", "Warning", "BackOff", "service-controller", f"restart {i}")
    caretaker.record("public/service/t", "Normal", "Rolling", "service-controller", "kept")
    kept = caretaker.events(resource="public/service/s", limit=1000)
    assert [e["message"] for e in kept] == [f"restart {i}" for i in range(50, NOTES_KEPT + 50)]
    assert [e["message"] for e in caretaker.events(resource="public/service/t")] == ["kept"]
    caretaker.close()
