"""The kernel's services as targets (`python -m kernel serve --target`, `--list-targets`): every
syscall the kernel serves has exactly one owner, the one the API gateway will route it to."""
from __future__ import annotations

import subprocess
import sys

from kernel.targets import SERVICES, TARGETS, owner

from proctools import ROOT


def test_every_syscall_the_kernel_serves_has_exactly_one_owner(tmp_path):
    import syscalls
    with syscalls.connect(f"embedded://{tmp_path / 'state'}") as op:
        served = sorted(op.transport.kernel.handlers)
    owners = {name: [t.name for t in SERVICES if t.owns(name)] for name in served}
    assert {name: found for name, found in owners.items() if len(found) != 1} == {}
    assert owner("query.execute").name == "gateway" and owner("catalog.search").name == "metis"
    assert owner("pod.logs").name == "caretaker" and owner("runtime.get").name == "poros"
    assert owner("no.such.call") is None
    assert all(any(t.owns(name) for name in served) for t in SERVICES)  # no target owns nothing


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kernel", "serve", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


def test_list_targets_and_a_target_not_built_yet():
    listed = run("--list-targets")
    assert listed.returncode == 0 and listed.stderr == ""
    assert [line.split()[0] for line in listed.stdout.splitlines() if not line.startswith(" ")] == list(TARGETS)
    assert "syscalls: query.*, dataset.*" in listed.stdout and "state: metis" in listed.stdout
    alone = run("--target", "gateway", "--state", "/nonexistent", "--socket", "/nonexistent/k.sock")
    assert alone.returncode == 2 and "Traceback" not in alone.stderr
    assert alone.stderr.splitlines()[-1].endswith("--target gateway: one service alone (microservices mode) is "
                                                  "not built yet; --target all runs every service in this process")
    unknown = run("--target", "nope")
    assert unknown.returncode == 2 and "--target nope: not a target" in unknown.stderr
