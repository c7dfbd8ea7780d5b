"""`logs` of a workflow shows every job's pods of its latest run, each line prefixed
`[job/pod]` (kubectl logs --prefix); `-f` follows them all until the run ends; right after a
rerun it shows the new run, never the previous one's pods."""
from __future__ import annotations

import os
import re
import subprocess
import threading
import time

from clitools import DATAOS, as_json, ok, two_jobs, wait_for


def _runtime(run, name: str) -> dict:
    return as_json(run("get", "runtime", "workflow", name, "-o", "json"))


def _finished(run, name: str, run_id: int = 1) -> dict:
    return wait_for(lambda: (rt := _runtime(run, name))["run"] and rt["run"]["id"] == run_id
                    and rt["run"]["finished"] and rt, timeout=60)


def _pods(rt: dict) -> dict[str, str]:
    return {j["name"]: j["pod"] for j in rt["run"]["jobs"]}


def test_logs_of_a_workflow_show_every_job_prefixed(run_module, tmp_path):
    (tmp_path / "wf.yaml").write_text(two_jobs("etl", "echo extracted"))
    ok(run_module("apply", "-f", tmp_path / "wf.yaml"))
    pods = _pods(_finished(run_module, "etl"))
    for args in (("-t", "workflow", "-n", "etl"), ("workflow/etl",)):
        out = ok(run_module("logs", *args)).stdout.splitlines()
        assert out == [f"[extract/{pods['extract']}] extracted", f"[load/{pods['load']}] loading",
                       f"[load/{pods['load']}] broken"], out
    assert ok(run_module("logs", "workflow/etl", "-c", "load", "--tail", "1")).stdout == "broken\n"  # one pod
    assert ok(run_module("logs", pods["load"])).stdout == "loading\nbroken\n"
    assert ok(run_module("logs", pods["load"], "--prefix")).stdout == f"[load/{pods['load']}] loading\n" \
        f"[load/{pods['load']}] broken\n"


def test_right_after_a_rerun_logs_show_the_new_run(run_module, tmp_path):
    (tmp_path / "wf.yaml").write_text(two_jobs("again", "echo extracted; sleep 2"))
    ok(run_module("apply", "-f", tmp_path / "wf.yaml"))
    old = _pods(_finished(run_module, "again"))
    ok(run_module("runtime", "rerun", "workflow", "again"))
    out = ok(run_module("logs", "workflow/again")).stdout
    assert not any(pod in out for pod in old.values()), out
    new = _pods(_finished(run_module, "again", run_id=2))
    out = ok(run_module("logs", "workflow/again")).stdout
    assert f"[extract/{new['extract']}] extracted" in out and f"[load/{new['load']}] broken" in out, out
    assert not any(pod in out for pod in old.values()), out


def test_logs_follow_every_job_until_the_run_ends(run_module, tmp_path):
    (tmp_path / "wf.yaml").write_text(two_jobs("live", "echo one; sleep 2; echo two"))
    ok(run_module("apply", "-f", tmp_path / "wf.yaml"))
    started = time.monotonic()
    follow = ok(run_module("logs", "-f", "workflow/live", timeout=60))  # from before its first pod
    pods = _pods(_finished(run_module, "live"))
    assert follow.stdout.splitlines() == [
        f"[extract/{pods['extract']}] one", f"[extract/{pods['extract']}] two",
        f"[load/{pods['load']}] loading", f"[load/{pods['load']}] broken"], follow.stdout
    assert time.monotonic() - started < 30


def test_pods_watch_rows_line_up_with_the_header(run_module, tmp_path):
    (tmp_path / "wf.yaml").write_text(two_jobs("wat", "sleep 1"))
    watch = subprocess.Popen([*DATAOS, "pods", "--watch"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=_env(run_module))
    try:
        time.sleep(1.5)
        ok(run_module("apply", "-f", tmp_path / "wf.yaml"))
        _finished(run_module, "wat")
        time.sleep(1)
    finally:
        watch.terminate()
    out, _ = watch.communicate(timeout=10)
    lines = out.splitlines()
    header, rows = lines[0], lines[1:]
    assert header.split()[:3] == ["NAME", "PHASE", "EXIT"] and len(rows) >= 4, out
    starts = [m.start() for m in re.finditer(r"\S+", header)]
    for row in rows:  # every cell begins where its column's header does
        assert all(row[at - 1] == " " and row[at] != " " for at in starts[1:]), f"\n{header}\n{row}"
    assert not [line for line in lines if line.startswith("NAME")][1:]  # the header once


def _env(run) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("DATAOS_")}, "DATAOS_HOME": str(run.home),
            "NO_COLOR": "1", "DATAOS_NO_PAGER": "1", "DATAOS_NO_DEMO": "1"}


def test_logs_follow_a_service_into_its_restarted_pods(run_module, tmp_path):
    (tmp_path / "svc.yaml").write_text("name: crashy\nversion: v1\ntype: service\nservice:\n  stack: container\n"
                                       "  stackSpec: {command: [sh, -c, 'echo up; sleep 0.2; exit 1']}\n")
    ok(run_module("apply", "-f", tmp_path / "svc.yaml"))
    wait_for(lambda: run_module("logs", "svc/crashy").returncode == 0)
    follow = subprocess.Popen([*DATAOS, "logs", "-f", "svc/crashy"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=_env(run_module))
    guard = threading.Timer(30, follow.kill)  # a follow that hangs fails the test, not the suite
    guard.start()
    try:
        lines = [follow.stdout.readline() for _ in range(2)]
    finally:
        guard.cancel()
        follow.terminate()
        follow.communicate(timeout=10)
        ok(run_module("delete", "svc", "crashy"))
    pods = [re.match(r"\[0/(crashy-0-\S+)\] up$", line).group(1) for line in lines]
    assert len(set(pods)) == 2, lines
