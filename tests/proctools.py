"""Kernel daemons a test started, found and stopped by pid, and the environment the `dataos`
console script runs in: for the fixtures (conftest.py) and for the tests that watch processes
themselves. (A module of its own: `from conftest import` finds whichever conftest came first.)"""
from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import pytest

from syscalls import procs

ROOT = Path(__file__).resolve().parents[1]
CLEAN_ENV = ("DATAOS_TOKEN", "DATAOS_CONTEXT", "DATAOS_DEBUG", "DATAOS_PROG", "PAGER")


# --- processes ---------------------------------------------------------------------------------

def alive(pid: int) -> bool:
    """True while `pid` runs; our own exited children are reaped first (a zombie counts as gone)."""
    with contextlib.suppress(ChildProcessError, OSError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    return procs.alive(pid)


def wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.02)
    return not alive(pid)


def terminate(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM `pid`, then SIGKILL if it is still there after `timeout`."""
    if not alive(pid):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if not wait_gone(pid, timeout):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        wait_gone(pid, 5)


def pids_serving(state_dir: Path) -> list[int]:
    """Kernel daemons whose command line names `state_dir` (a unique temporary path we created)."""
    needle = str(state_dir).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        args = cmdline.split(b"\0")
        if b"kernel" in args and b"serve" in args and needle in args and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


# --- DATAOS_HOME and the console script ----------------------------------------------------------

def locations_for(home: Path):
    """The real `Locations` of a DATAOS_HOME (computed by the code under test)."""
    from syscalls.locations import Locations
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATAOS_HOME", str(home))
        return Locations.current()


def daemon_pid(home: Path) -> int | None:
    try:
        return int(locations_for(home).pidfile.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None


def stop_home(home: Path) -> None:
    """Stop every kernel daemon started for this DATAOS_HOME; nothing outlives the test."""
    loc = locations_for(home)
    pid = daemon_pid(home)
    if pid is not None:
        terminate(pid)
    for pid in pids_serving(loc.state):
        terminate(pid)


def cli_env(home: Path, extra: dict[str, str | None] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV}
    env.update(DATAOS_HOME=str(home), NO_COLOR="1", DATAOS_NO_PAGER="1")
    for key, value in (extra or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env
