"""The local cloud driver: pods are real process groups that outlive the driver."""
from __future__ import annotations

import json
import os
import signal
import time

import pytest

from kernel.cloud import PodSpec
from kernel.cloud.local import LocalDriver
from syscalls.errors import SyscallError
from syscalls.procs import alive


def wait_phase(driver, name, phases, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = driver.status(name)
        if status.phase in phases:
            return status
        time.sleep(0.02)
    raise AssertionError(f"{name} stayed {driver.status(name).phase}")


@pytest.fixture(params=["sandboxed", "unsandboxed"])
def driver(request, tmp_path, monkeypatch):
    """The driver with bubblewrap, and without it (a bwrap that is not there)."""
    if request.param == "unsandboxed":
        monkeypatch.setenv("DATAOS_BWRAP", str(tmp_path / "no-bwrap"))
    d = LocalDriver(tmp_path)
    assert d.sandboxed == (request.param == "sandboxed")
    yield d
    for pod in d.poll():
        d.kill(pod.name, grace=1)


def test_a_pod_runs_records_its_exit_code_and_output(driver):
    driver.run(PodSpec("p", "public", ["sh", "-c", "echo out; echo err >&2; exit 3"], {"a": "b"}, {"X": "y"}))
    status = wait_phase(driver, "p", {"Failed"})
    assert (status.exit_code, status.reason, status.labels) == (3, "Error", {"a": "b"})
    assert status.started and status.finished
    assert list(driver.logs("p")) == ["out\n", "err\n"]
    assert list(driver.logs("p", tail=1)) == ["err\n"]


def test_environment_reaches_the_command_and_dataos_variables_do_not_leak(driver, monkeypatch):
    monkeypatch.setenv("DATAOS_TOKEN", "dos_secret")
    driver.run(PodSpec("env", "public", ["sh", "-c", 'echo "$X-${DATAOS_TOKEN:-none}"'], env={"X": "y"}))
    wait_phase(driver, "env", {"Succeeded"})
    assert list(driver.logs("env")) == ["y-none\n"]


def test_a_missing_command_fails_with_127(driver):
    driver.run(PodSpec("nope", "public", ["no-such-command-here"]))
    status = wait_phase(driver, "nope", {"Failed"})
    assert status.exit_code == 127
    assert "no-such-command-here" in "".join(driver.logs("nope"))  # "cannot start …" or the shell's "not found"


def test_names_are_unique(driver):
    driver.run(PodSpec("once", "public", ["true"]))
    with pytest.raises(SyscallError) as e:
        driver.run(PodSpec("once", "public", ["true"]))
    assert e.value.code == "EEXIST"


def test_kill_stops_the_whole_group(driver):
    driver.run(PodSpec("long", "public", ["sh", "-c", "sleep 60 & sleep 60"]))
    wait_phase(driver, "long", {"Running"})
    driver.kill("long", grace=2)
    status = driver.status("long")
    assert status.phase == "Stopped" and status.reason == "Stopped" and status.exit_code == 143


def test_pods_outlive_the_driver_and_are_adopted(tmp_path, driver):
    driver.run(PodSpec("adopt", "public", ["sh", "-c", "sleep 0.5; exit 4"]))
    wait_phase(driver, "adopt", {"Running"})
    again = LocalDriver(tmp_path)  # a restarted daemon
    assert again.status("adopt").phase == "Running"
    assert wait_phase(again, "adopt", {"Failed"}).exit_code == 4


def test_a_lost_shim_makes_the_pod_unknown_and_takes_its_processes_down(driver, tmp_path):
    import json
    driver.run(PodSpec("lost", "public", ["sleep", "60"]))
    wait_phase(driver, "lost", {"Running"})
    raw = json.loads((tmp_path / "pods" / "lost" / "status.json").read_text())
    os.kill(raw["shim_pid"], signal.SIGKILL)
    time.sleep(0.2)
    status = wait_phase(driver, "lost", {"Unknown"})
    assert status.reason == "ShimLost"
    deadline = time.monotonic() + 5
    while alive(raw["pid"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(raw["pid"])


def test_logs_follow_until_the_pod_ends(driver):
    driver.run(PodSpec("chatty", "public", ["sh", "-c", "for i in 1 2 3; do echo line $i; sleep 0.1; done"]))
    assert list(driver.logs("chatty", follow=True)) == ["line 1\n", "line 2\n", "line 3\n"]


def test_caretaker_archives_old_history_to_parquet_and_still_answers_it(tmp_path):
    from kernel.caretaker import Caretaker
    from kernel.store import Place
    from kernel.cloud import PodStatus
    c = Caretaker(Place(tmp_path))
    base = dict(workspace="public", labels={}, created="2026-01-01T00:00:00.000Z")
    c.observe([PodStatus(name="old", phase="Running", **base)])
    c.observe([PodStatus(name="old", phase="Succeeded", exit_code=0, **base)])
    assert c.archive("9999-01-01T00:00:00Z") == 2
    assert list((tmp_path / "archive").glob("events-*.parquet"))
    assert c.db.query("SELECT COUNT(*) FROM events")[0][0] == 0
    c.observe([PodStatus(name="old", phase="Failed", exit_code=1, **base)])
    assert [e["phase"] for e in c.history("old")] == ["Running", "Succeeded", "Failed"]
    assert c.archive("1999-01-01T00:00:00Z") == 0
    c.close()


def test_a_pod_killed_while_starting_ends_killed_not_unknown(driver):
    driver.run(PodSpec("early", "public", ["sleep", "60"]))
    driver.kill("early", grace=2)  # at once: the shim may not have started the command yet
    status = driver.status("early")
    assert status.phase == "Stopped" and status.reason == "Stopped"


def test_a_python_environment_under_tmp_is_shown_over_the_private_tmp(tmp_path, monkeypatch):
    """A clone in /tmp (as CI makes) keeps its .venv there: bound after the pod's own /tmp."""
    from kernel.cloud import sandbox
    monkeypatch.setattr(sandbox, "_python_roots", lambda: [str(tmp_path / "venv")])
    argv = sandbox.Sandbox("bwrap").argv("p", ["true"], tmp_path / "work", None)
    assert argv.index("/tmp") < argv.index(str(tmp_path / "venv"))


def test_only_the_kernels_own_socket_is_bound_into_a_pod(tmp_path):
    """A DATAOS_URL a pod's spec carries (a secret's key, say) mounted any host path into it."""
    driver = LocalDriver(tmp_path, socket=str(tmp_path / "kernel.sock"))
    if not driver.sandboxed:
        pytest.skip("no usable bubblewrap here")
    victim = tmp_path / "elsewhere"
    victim.mkdir()
    (tmp_path / "kernel.sock").touch()  # (the daemon's socket, here a stand-in)
    driver.run(PodSpec("url", "public", ["true"], env={"DATAOS_URL": f"unix://{victim}"},
                       secret_env={"DATAOS_URL": f"unix://{victim}"}))
    argv = json.loads((tmp_path / "pods" / "url" / "spec.json").read_text())["argv"]
    assert str(victim) not in argv and str(tmp_path / "kernel.sock") in argv
    wait_phase(driver, "url", {"Succeeded"})
