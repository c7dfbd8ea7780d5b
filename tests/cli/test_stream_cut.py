"""A kill -9 of the daemon mid-stream: `catalog scan`, `query --out`, `pods --watch` and `logs -f`
end with exit 7 and one `error: EUNAVAIL: …` line, never exit 0 with a partial answer taken for
a whole one (a scan's or an export's summary)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import duckdb
import pexpect
import pytest

from clitools import DATAOS, ok, wait_for
from syscalls import procs

pytestmark = pytest.mark.slow
CUT = "error: EUNAVAIL: the stream from unix://"


def env(home) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("DATAOS_")}, "DATAOS_HOME": str(home),
            "NO_COLOR": "1", "DATAOS_NO_PAGER": "1", "DATAOS_NO_DEMO": "1"}


def kill_daemon(run) -> None:
    """kill -9 the daemon, frozen first: it cannot finish the stream between our look and the kill."""
    pid = int(run.locations.pidfile.read_text().split()[0])
    os.kill(pid, signal.SIGSTOP)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not procs.alive(pid))


def on_a_terminal(run, *args: str) -> pexpect.spawn:
    """`dataos ARGS` with stdout and stderr on a terminal (so progress shows)."""
    return pexpect.spawn(DATAOS[0], [*DATAOS[1:], *args], env=env(run.home), encoding="utf-8", timeout=60,
                         dimensions=(24, 200))


def ended(child: pexpect.spawn) -> tuple[int, str]:
    """The exit code and last line of a finished terminal command (progress lines erased)."""
    child.expect(pexpect.EOF)
    child.close()
    shown = child.before.replace("\r\n", "\n").split("\n")
    last = [line.rpartition("\r")[2].replace("\x1b[K", "") for line in shown if line.strip()]
    return child.exitstatus, last[-1] if last else ""


@pytest.fixture(scope="module")
def lake(run_module, tmp_path_factory):
    """`many`: a depot of 120 small datasets (a scan takes a while); `big`: one of 1.5M rows."""
    root = tmp_path_factory.mktemp("lake")
    for depot, datasets, rows in (("many", 120, 10), ("big", 1, 1_500_000)):
        (root / depot / "s").mkdir(parents=True)
        for i in range(datasets):
            duckdb.sql(f"COPY (SELECT i AS id, 'c' || i || '@example.com' AS email FROM range({rows}) t(i)) "
                       f"TO '{root}/{depot}/s/t{i}.parquet' (FORMAT parquet)")
        manifest = root / f"{depot}.yaml"
        manifest.write_text(f"name: {depot}\nversion: v1\ntype: depot\ndepot:\n  type: file\n"
                            f"  file: {{path: {root / depot}}}\n")
        ok(run_module("apply", "-f", manifest))
    return root


def test_a_scan_cut_by_a_killed_daemon_is_eunavail_without_a_summary(run_module, lake):
    for i in range(120):  # changed since the apply's scan: this one profiles each (else it ends at once)
        duckdb.sql(f"COPY (SELECT i AS id, 'd' || i || '@example.com' AS email FROM range(20) t(i)) "
                   f"TO '{lake}/many/s/t{i}.parquet' (FORMAT parquet)")
    child = on_a_terminal(run_module, "catalog", "scan", "many")
    child.expect(r"scanning many: .* \d+/120")
    kill_daemon(run_module)
    code, last = ended(child)
    assert code == 7 and last.startswith(CUT), last
    assert "depot many:" not in child.before  # no "N scanned, …" summary of a partial scan


def test_an_export_cut_by_a_killed_daemon_is_eunavail_and_writes_no_file(run_module, lake, tmp_path):
    target = tmp_path / "t.parquet"
    child = on_a_terminal(run_module, "query", "select * from big.s.t0", "--out", str(target))
    child.expect(r"t\.parquet: [\d,]+ rows")
    os.kill(child.pid, signal.SIGSTOP)  # the kernel now holds the rest: it must be cut, not finish
    try:
        kill_daemon(run_module)
    finally:
        os.kill(child.pid, signal.SIGCONT)
    code, last = ended(child)
    assert code == 7 and last.startswith(CUT), last
    assert "rows to" not in child.before and list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def worker(run_module, tmp_path_factory):
    """A running worker pod that printed `ready` (stopped at the end)."""
    manifest = tmp_path_factory.mktemp("w") / "w.yaml"
    manifest.write_text("name: idler\nversion: v1\ntype: worker\nworker:\n  stack: container\n"
                        "  stackSpec: {command: [sh, -c, 'echo ready; exec sleep 120']}\n")
    ok(run_module("apply", "-f", manifest))
    wait_for(lambda: '"phase": "Running"' in run_module("pods", "-r", "worker/idler", "-o", "json").stdout)
    yield run_module("pods", "-r", "worker/idler", "-o", "name").stdout.split()[0]
    ok(run_module("delete", "-f", manifest))


@pytest.mark.parametrize("command", [["pods", "--watch", "-r", "worker/idler"], ["logs", "-f", "{pod}"]],
                         ids=["pods-watch", "logs-follow"])
def test_a_follow_cut_by_a_killed_daemon_is_eunavail(run_module, worker, command):
    proc = subprocess.Popen([*DATAOS, *(arg.format(pod=worker) for arg in command)], env=env(run_module.home),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline()  # the stream is flowing (a pod's row, or its "ready")
        kill_daemon(run_module)
        started = time.monotonic()
        err = proc.communicate(timeout=20)[1]
    finally:
        proc.kill()
    assert proc.returncode == 7 and err.startswith(CUT) and len(err.splitlines()) == 1, err
    assert time.monotonic() - started < 5  # at once, not after a timeout


def test_ctrl_c_of_a_follow_stays_a_clean_interrupt(run_module, worker):
    proc = subprocess.Popen([*DATAOS, "logs", "-f", worker], env=env(run_module.home),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "ready\n"
        proc.send_signal(signal.SIGINT)
        err = proc.communicate(timeout=20)[1]
    finally:
        proc.kill()
    assert proc.returncode == 130 and "error" not in err, err


def test_the_syscall_command_answers_a_stream_whole_or_not_at_all(run_module, worker):
    r = ok(run_module("syscall", "pod.watch", '{"type": "worker", "name": "idler", "timeout": 0.2}'))
    assert [p["name"] for p in json.loads(r.stdout)["result"]] == [worker]
    r = run_module("syscall", "query.stream", '{"sql": "select 1"}')
    assert r.returncode == 2 and json.loads(r.stdout)["error"]["code"] == "EINVAL", r.stdout + r.stderr
