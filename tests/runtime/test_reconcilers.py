"""Workflows and services reconciled into real processes, on an in-process kernel."""
from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime, timedelta

import pytest
from clitools import wait_for

from syscalls.errors import SyscallError


def sh(script: str) -> dict:
    return {"stack": "container", "stackSpec": {"command": ["sh", "-c", script]}}


def workflow(name: str, dag: list[dict], **section) -> dict:
    return {"name": name, "version": "v1", "type": "workflow", "workflow": {"dag": dag, **section}}


def runtime(k, name, type_="workflow"):
    return k.runtime.get(type=type_, name=name)


def finished(k, name):
    rt = runtime(k, name)
    return rt if rt["runtime"] in ("succeeded", "failed", "aborted") else None


def test_a_two_job_dag_with_a_retry_succeeds(k):
    k.resource.apply(manifests=[workflow("two", [
        {"name": "extract", "spec": sh("echo extracted")},
        {"name": "load", "dependencies": ["extract"], "retry": {"count": 2, "strategy": "OnFailure"},
         "spec": sh('case "$DATAOS_POD" in *-1) exit 1;; esac; echo loaded')}])])  # its first attempt fails
    rt = wait_for(lambda: finished(k, "two"))
    assert rt["runtime"] == "succeeded" and rt["progress"] == "2/2"
    jobs = {j["name"]: j for j in rt["run"]["jobs"]}
    assert jobs["extract"]["attempts"] == 1 and jobs["load"]["attempts"] == 2
    pods = k.pod.list(type="workflow", name="two")
    assert sorted(p["job"] for p in pods) == ["extract", "load", "load"]
    extract = next(p for p in pods if p["job"] == "extract")
    first_load = min((p for p in pods if p["job"] == "load"), key=lambda p: p["created"])
    assert extract["finished"] <= first_load["created"]  # the dependency ran first
    assert k.resource.get(type="workflow", name="two")["status"]["runtime"] == "succeeded"


def test_a_failing_job_fails_the_run_with_its_exit_code_and_last_lines(k):
    k.resource.apply(manifests=[workflow("bad", [
        {"name": "a", "spec": sh("echo starting; echo 'disk full' >&2; exit 7")},
        {"name": "b", "dependencies": ["a"], "spec": sh("echo never")}])])
    rt = wait_for(lambda: finished(k, "bad"))
    assert rt["runtime"] == "failed" and rt["progress"] == "0/2"
    pod = rt["pods"][0]["name"]
    assert rt["message"].startswith(f"job a failed (pod {pod}, exit code 7") and "disk" not in rt["message"]
    assert "".join(k.pod.logs(name=pod, tail=1)) == "disk full\n"  # the last lines: through pod.logs only
    assert {j["name"]: j["state"] for j in rt["run"]["jobs"]} == {"a": "failed", "b": "waiting"}
    assert [p["job"] for p in k.pod.list(type="workflow", name="bad")] == ["a"]


def test_a_new_generation_runs_again_an_unchanged_apply_does_not(k):
    wf = workflow("gen", [{"name": "a", "spec": sh("echo one")}])
    k.resource.apply(manifests=[wf])
    wait_for(lambda: finished(k, "gen"))
    k.resource.apply(manifests=[wf])
    time.sleep(0.6)
    assert runtime(k, "gen")["run"]["id"] == 1
    wf["workflow"]["dag"][0]["spec"] = sh("echo two")
    k.resource.apply(manifests=[wf])
    rt = wait_for(lambda: (r := runtime(k, "gen"))["run"]["id"] == 2 and r["runtime"] == "succeeded" and r)
    assert rt["run"]["generation"] == 2
    assert [list(k.pod.logs(name=p["name"])) for p in k.pod.list(type="workflow", name="gen")] == \
        [["one\n"], ["two\n"]]


def test_rerun_stop_pause_and_resume(k):
    k.resource.apply(manifests=[workflow("ctl", [{"name": "a", "spec": sh("sleep 30")}])])
    wait_for(lambda: runtime(k, "ctl")["runtime"] == "running")
    with pytest.raises(SyscallError) as e:
        k.runtime.control(type="workflow", name="ctl", action="rerun")
    assert e.value.code == "EINVAL"
    rt = k.runtime.control(type="workflow", name="ctl", action="stop")
    assert rt["run"]["state"] == "aborted"
    wait_for(lambda: all(p["phase"] == "Stopped" for p in k.pod.list(type="workflow", name="ctl")))
    rt = k.runtime.control(type="workflow", name="ctl", action="pause")
    assert rt["paused"] is True and rt["runtime"] == "paused"
    assert k.runtime.control(type="workflow", name="ctl", action="resume")["runtime"] == "aborted"
    rt = k.runtime.control(type="workflow", name="ctl", action="rerun")
    assert rt["run"]["id"] == 2 and rt["run"]["trigger"] == "rerun"


def test_deleting_a_workflow_removes_its_pods_and_a_new_one_of_its_name_inherits_nothing(k):
    """kubectl's garbage collection: an owner's pods (their logs and events too) go with it."""
    k.resource.apply(manifests=[workflow("gone", [{"name": "a", "spec": sh("echo old; sleep 30")}])])
    pod = wait_for(lambda: [p for p in k.pod.list(type="workflow", name="gone") if p["phase"] == "Running"])[0]
    k.resource.delete(type="workflow", name="gone")
    with pytest.raises(SyscallError) as e:
        k.pod.get(name=pod["name"])
    assert e.value.code == "ENOENT"
    with pytest.raises(SyscallError):
        "".join(k.pod.logs(name=pod["name"]))
    k.resource.apply(manifests=[workflow("gone", [{"name": "a", "spec": sh("true")}])])
    wait_for(lambda: runtime(k, "gone")["runtime"] == "succeeded")
    pods = [p["name"] for p in k.pod.list(type="workflow", name="gone")]
    assert pods and pod["name"] not in pods and pod["name"] not in str(runtime(k, "gone")["pods"])
    assert pod["name"] not in str(k.event.list(type="workflow", name="gone", limit=1000))


def test_unknown_stacks_and_bad_stack_specs_are_refused_at_apply(k):
    with pytest.raises(SyscallError) as e:
        k.resource.apply(manifests=[workflow("x", [{"name": "a", "spec": {"stack": "spark"}}])])
    assert e.value.code == "EINVAL" and e.value.details["field"] == "workflow.dag[0].spec.stack"
    with pytest.raises(SyscallError) as e:
        k.resource.apply(manifests=[workflow("x", [{"name": "a", "spec": {"stack": "python", "stackSpec": {}}}])])
    assert e.value.details["field"] == "workflow.dag[0].spec.stackSpec"


def service(name, script, replicas=1, **extra):
    return {"name": name, "version": "v1", "type": "service",
            "service": {"replicas": replicas, "stack": "container", "stackSpec": {"command": ["sh", "-c", script]},
                        **extra}}


def running_pods(k, name):
    return [p for p in k.pod.list(type="service", name=name) if p["phase"] == "Running"]


def test_a_killed_service_process_is_restarted(k, tmp_path):
    k.resource.apply(manifests=[service("api", "echo up; exec sleep 60", replicas=2)])
    wait_for(lambda: runtime(k, "api", "service")["runtime"] == "running:2")
    import json
    victim = running_pods(k, "api")[0]["name"]
    pid = json.loads((tmp_path / "state" / "pods" / victim / "status.json").read_text())["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: k.pod.get(name=victim)["phase"] == "Failed")
    rt = wait_for(lambda: (r := runtime(k, "api", "service"))["runtime"] == "running:2" and
                  victim not in [p["pod"] for p in r["replicas"]] and r)
    assert sum(r["restarts"] for r in rt["replicas"]) == 1
    assert k.pod.get(name=victim)["exit_code"] == 137


def test_a_crash_looping_service_backs_off_and_says_so(k):
    k.resource.apply(manifests=[service("crashy", "exit 1")])
    rt = wait_for(lambda: (r := runtime(k, "crashy", "service"))["message"] and
                  r["replicas"][0]["restarts"] >= 2 and r, timeout=15)
    assert "crash loop" in rt["message"] and rt["runtime"] == "running:0"
    launched = len(k.pod.list(type="service", name="crashy"))
    time.sleep(1.0)
    assert len(k.pod.list(type="service", name="crashy")) <= launched + 1  # backing off, not spinning


def test_a_new_generation_rolls_replicas_one_at_a_time(k):
    k.resource.apply(manifests=[service("roll", "exec sleep 60", replicas=2)])
    wait_for(lambda: runtime(k, "roll", "service")["runtime"] == "running:2")
    old = {p["name"] for p in running_pods(k, "roll")}
    k.resource.apply(manifests=[service("roll", "exec sleep 61", replicas=2)])
    rt = wait_for(lambda: (r := runtime(k, "roll", "service"))["runtime"] == "running:2" and
                  all(x["generation"] == 2 for x in r["replicas"]) and r)
    assert not old & {x["pod"] for x in rt["replicas"]}
    assert {p["labels"]["dataos.io/generation"] for p in running_pods(k, "roll")} == {"2"}


def test_scaling_down_stops_the_extra_replicas(k):
    k.resource.apply(manifests=[service("scale", "exec sleep 60", replicas=3)])
    wait_for(lambda: runtime(k, "scale", "service")["runtime"] == "running:3")
    k.resource.apply(manifests=[service("scale", "exec sleep 60", replicas=1)])
    wait_for(lambda: len(running_pods(k, "scale")) == 1)
    assert runtime(k, "scale", "service")["runtime"] == "running:1"
    phases = [p["phase"] for p in k.pod.list(type="service", name="scale")]
    assert phases.count("Running") == 1 and set(phases) == {"Running", "Stopped"}  # stopped, replaced: none failed


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def test_a_scheduled_workflow_runs_on_its_cron(k):
    kernel = k.transport.kernel
    clock = Clock(datetime.now(UTC))
    kernel.clock = clock
    k.resource.apply(manifests=[workflow("cron", [{"name": "a", "spec": sh("echo tick")}],
                                         schedule={"cron": "*/10 * * * *", "concurrencyPolicy": "Forbid"})])
    time.sleep(0.6)
    rt = runtime(k, "cron")
    assert rt["run"] is None and rt["runtime"].startswith("next:")
    due = datetime.fromisoformat(rt["runtime"][5:].replace("Z", "+00:00"))
    assert timedelta(0) < due - clock.now <= timedelta(minutes=10)
    clock.now = due + timedelta(seconds=1)
    rt = wait_for(lambda: (r := runtime(k, "cron"))["run"] and r["run"]["state"] == "succeeded" and r)
    assert rt["run"]["trigger"] == "schedule" and rt["runtime"].startswith("next:")
    clock.now += timedelta(hours=5)  # a daemon asleep for many fire times runs once, not 30 times
    wait_for(lambda: runtime(k, "cron")["run"]["id"] == 2)
    time.sleep(0.6)
    assert len(k.pod.list(type="workflow", name="cron")) == 2


def test_forbid_skips_a_fire_time_while_a_run_is_active(k):
    kernel = k.transport.kernel
    clock = Clock(datetime.now(UTC))
    kernel.clock = clock
    k.resource.apply(manifests=[workflow("slow", [{"name": "a", "spec": sh("sleep 30")}],
                                         schedule={"cron": "* * * * *", "concurrencyPolicy": "Forbid"})])
    clock.now += timedelta(minutes=1)
    wait_for(lambda: runtime(k, "slow")["runtime"] == "running")
    clock.now += timedelta(minutes=1)
    time.sleep(0.8)
    assert runtime(k, "slow")["run"]["id"] == 1
    assert len(k.pod.list(type="workflow", name="slow")) == 1


def test_bad_schedules_are_refused(k):
    for schedule, field in (({"cron": "every day"}, "workflow.schedule.cron"),
                            ({"cron": "0 * * * *", "timezone": "Mars/Olympus"}, "workflow.schedule.timezone")):
        with pytest.raises(SyscallError) as e:
            k.resource.apply(manifests=[workflow("x", [{"name": "a", "spec": sh("true")}], schedule=schedule)])
        assert e.value.details["field"] == field
