"""The local kernel daemon's lifecycle through `dataos kernel start|stop|status|logs`, and its
recovery from crashes. Each test has its own DATAOS_HOME (so its own daemon)."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid

import pytest

from clitools import no_traceback, ok
from pgkit import ON_SQLITE_ONLY, pg_database
from proctools import ROOT, alive, cli_env, daemon_pid, pids_serving, wait_gone


def status(run) -> tuple[int, dict]:
    r = run("kernel", "status", "-o", "json")
    no_traceback(r)
    return r.returncode, json.loads(r.stdout)


def test_status_when_stopped(run_dataos, dataos_home):
    r = run_dataos("kernel", "status")
    assert r.returncode == 7
    no_traceback(r)
    assert r.stdout.splitlines()[1].split()[0] == "stopped"
    _, info = status(run_dataos)
    assert info["running"] is False and info["pid"] is None
    assert info["state"] == str(dataos_home / "data" / "kernel")
    assert not (dataos_home / "run" / "kernel.pid").exists()  # status never starts the kernel
    assert "not running" in ok(run_dataos("kernel", "stop")).stdout


@pytest.mark.slow
@ON_SQLITE_ONLY  # the start line names the default database
def test_start_status_stop(run_dataos, dataos_home):
    r = ok(run_dataos("kernel", "start"))
    m = re.match(r"kernel started \(pid (\d+), version (\S+), socket (\S+)\)", r.stdout)
    assert m, r.stdout
    pid = int(m.group(1))
    assert alive(pid) and daemon_pid(dataos_home) == pid

    r = ok(run_dataos("kernel", "status"))
    row = r.stdout.splitlines()[1].split()
    assert row[:2] == ["running", str(pid)]
    code, info = status(run_dataos)
    assert code == 0 and info["running"] is True and info["pid"] == pid and info["socket"] == m.group(3)

    again = ok(run_dataos("kernel", "start"))
    assert f"already running (pid {pid}" in again.stdout
    assert ok(run_dataos("whoami")).returncode == 0 and daemon_pid(dataos_home) == pid  # the same daemon

    r = ok(run_dataos("kernel", "stop"))
    assert r.stdout.strip() == f"kernel stopped (pid {pid})"
    assert not alive(pid)
    r = run_dataos("kernel", "status")
    assert r.returncode == 7 and "stopped" in r.stdout
    assert "not running" in ok(run_dataos("kernel", "stop")).stdout


def test_stop_cleans_up_socket_and_pid_file(run_dataos, dataos_home):
    ok(run_dataos("kernel", "start"))
    sock, pidfile = dataos_home / "run" / "kernel.sock", dataos_home / "run" / "kernel.pid"
    assert sock.exists() and pidfile.exists()
    ok(run_dataos("kernel", "stop"))
    assert not sock.exists() and not pidfile.exists()
    assert "kernel stopped" in (dataos_home / "logs" / "kernel.log").read_text()


def test_a_second_daemon_on_the_same_state_is_refused(run_dataos, dataos_home, tmp_path):
    ok(run_dataos("kernel", "start"))
    pid = daemon_pid(dataos_home)
    other = tmp_path / f"o-{uuid.uuid4().hex[:6]}.sock"
    proc = subprocess.Popen([sys.executable, "-m", "kernel", "serve", "--state", str(dataos_home / "data" / "kernel"),
                             "--socket", str(other)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0
    assert "in use" in err and str(dataos_home / "data" / "kernel") in err
    assert "Traceback" not in err
    assert not other.exists()
    assert alive(pid) and ok(run_dataos("whoami")).returncode == 0  # the first one is unharmed


def test_stale_socket_and_pid_file_are_recovered(run_dataos, dataos_home):
    ok(run_dataos("kernel", "start"))
    pid = daemon_pid(dataos_home)
    os.kill(pid, signal.SIGKILL)
    assert wait_gone(pid, 10)
    assert (dataos_home / "run" / "kernel.sock").exists() and (dataos_home / "run" / "kernel.pid").exists()
    r = run_dataos("kernel", "status")
    assert r.returncode == 7 and "stopped" in r.stdout
    me = json.loads(ok(run_dataos("whoami", "-o", "json")).stdout)  # starts a new daemon, same credential
    assert "roles:id:operator" in me["tags"]
    new = daemon_pid(dataos_home)
    assert new is not None and new != pid and alive(new)
    assert pids_serving(dataos_home / "data" / "kernel") == [new]


@pytest.mark.slow
def test_state_survives_a_restart(run_dataos, dataos_home, tmp_path):
    name = f"u-{uuid.uuid4().hex[:8]}"
    ok(run_dataos("user", "create", name, "--tag", "roles:id:restarted"))
    token = ok(run_dataos("user", "apikey", "create", name)).stdout.strip()
    operator = json.loads(ok(run_dataos("whoami", "-o", "json")).stdout)["id"]
    f = tmp_path / "p.yaml"
    f.write_text("name: restart-readers\nversion: v1\ntype: policy\npolicy:\n  access:\n"
                 "    subjects: {tags: [[roles:id:restarted]]}\n    predicates: [read]\n"
                 "    objects: {paths: [/heimdall/users/**]}\n")
    ok(run_dataos("apply", "-f", f))
    ok(run_dataos("kernel", "stop"))
    ok(run_dataos("kernel", "start"))
    env = {"DATAOS_TOKEN": token}
    assert json.loads(ok(run_dataos("user", "get", operator, "-o", "json", env=env)).stdout)["id"] == operator
    assert "restart-readers" in ok(run_dataos("get", "policy", "-o", "name")).stdout
    # the audit written before the restart is still there
    records = json.loads(ok(run_dataos("audit", "--syscall", "user.create", "-o", "json")).stdout)
    assert [r["object"] for r in records] == [f"/heimdall/users/{name}"]


def test_audit_is_not_lost_on_stop(run_dataos, dataos_home):
    """Records buffered when SIGTERM arrives are flushed before the daemon exits."""
    from syscalls import SyscallError
    from syscalls.client import Client
    from syscalls.transports import UnixSocket
    ok(run_dataos("kernel", "start"))
    token = json.loads((dataos_home / "config" / "credentials.json").read_text())["local"]
    client = Client(UnixSocket(dataos_home / "run" / "kernel.sock"), token)
    marker = f"marker-{uuid.uuid4().hex[:8]}"
    pid = daemon_pid(dataos_home)
    try:
        with pytest.raises(SyscallError, match="no user"):
            client.user.get(name=marker)  # ENOENT, audited (buffered for up to 200 ms)
        os.kill(pid, signal.SIGTERM)
    finally:
        client.close()
    assert wait_gone(pid, 15)
    records = json.loads(ok(run_dataos("audit", "--syscall", "user.get", "-o", "json")).stdout)
    assert f"/heimdall/users/{marker}" in [r["object"] for r in records]


@pytest.mark.slow
def test_logs(run_dataos, dataos_home):
    assert "no kernel log yet" in ok(run_dataos("kernel", "logs")).stdout
    ok(run_dataos("kernel", "start"))
    pid = daemon_pid(dataos_home)
    r = ok(run_dataos("kernel", "logs", "--tail", "5"))
    lines = r.stdout.splitlines()
    assert 1 <= len(lines) <= 5
    assert any(f"pid {pid}" in line and "serving" in line for line in lines)
    ok(run_dataos("kernel", "stop"))
    ok(run_dataos("kernel", "start"))
    lines = ok(run_dataos("kernel", "logs", "--tail", "1")).stdout.splitlines()
    assert len(lines) == 1 and f"pid {daemon_pid(dataos_home)}" in lines[0]
    assert len(ok(run_dataos("kernel", "logs", "--tail", "-1")).stdout.splitlines()) >= 3


def test_stop_of_a_daemon_this_process_started_is_prompt(dataos_home):
    """A shell (or script) that started the daemon itself can stop it without waiting for the
    SIGKILL timeout: the exited daemon is reaped, not mistaken for a live (zombie) process."""
    import syscalls
    from syscalls.daemon import LocalKernel
    from syscalls.locations import Locations
    with syscalls.connect("local://") as c:
        assert c.auth.whoami()["id"]
    local = LocalKernel(Locations.current())
    pid = local.pid()
    started = time.monotonic()
    assert local.stop(timeout=3.0) == pid
    assert time.monotonic() - started < 2.5
    assert not alive(pid)
    assert local.pid() is None


SHELL = """
import sys, time, syscalls
client = syscalls.connect("local://")  # starts the daemon as this process's child
client.auth.whoami()
print("ready", flush=True)
time.sleep(120)
"""


@pytest.mark.slow
def test_kernel_stop_is_prompt_while_the_shell_that_started_it_runs(run_dataos, dataos_home):
    shell = subprocess.Popen([sys.executable, "-c", SHELL], env=cli_env(dataos_home), cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert shell.stdout.readline().strip() == "ready", shell.stderr.read()
        pid = daemon_pid(dataos_home)
        started = time.monotonic()
        r = run_dataos("kernel", "stop", timeout=6)  # TimeoutExpired when it waits for the SIGKILL timeout
        assert r.stdout.strip() == f"kernel stopped (pid {pid})"
        assert time.monotonic() - started < 5
    finally:
        shell.kill()
        shell.wait()



@pytest.mark.slow
@ON_SQLITE_ONLY  # it chooses the database
def test_start_on_postgresql_is_remembered_and_keeps_the_url_out_of_the_process_list(run_dataos, dataos_home):
    with pg_database() as url:
        r = ok(run_dataos("kernel", "start", "--database", url))
        assert f", database {url})" in r.stdout
        pid = daemon_pid(dataos_home)
        assert url not in open(f"/proc/{pid}/cmdline").read()  # given in its environment, not its arguments
        ok(run_dataos("user", "create", "bob"))
        r = run_dataos("kernel", "start", "--database", "local")
        assert r.returncode == 2 and "stop` first to change its database" in r.stderr
        ok(run_dataos("kernel", "stop"))
        assert f", database {url})" in ok(run_dataos("kernel", "start")).stdout  # remembered
        assert "bob" in ok(run_dataos("user", "list")).stdout
        assert not (dataos_home / "data" / "kernel" / "heimdall.db").exists()
        assert (os.stat(dataos_home / "data" / "kernel" / "database.json").st_mode & 0o777) == 0o600
        ok(run_dataos("kernel", "stop"))
        ok(run_dataos("kernel", "start", "--database", "local"))  # back to SQLite files: bob is not there
        assert "bob" not in ok(run_dataos("user", "list")).stdout
        ok(run_dataos("kernel", "stop"))


@pytest.mark.parametrize("url, code, says", [("mysql://x", 2, "database: a postgresql:// URL"),
                                              ("postgresql://postgres@127.0.0.1:1/x", 7,
                                               "the heimdall database cannot be reached")])
def test_a_database_the_kernel_cannot_use_is_one_line_with_its_errno(run_dataos, url, code, says):
    r = run_dataos("kernel", "start", "--database", url)
    no_traceback(r)
    assert r.returncode == code and says in r.stderr and len(r.stderr.strip().splitlines()) == 1
