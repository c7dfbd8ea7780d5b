"""The `local` cloud driver: a pod is a real OS process group, led by a shim (see `shim.py`).

    pods/NAME/spec.json     what to run (PodSpec)
    pods/NAME/status.json   phase, pids, times, exit code — written by the driver, then the shim
    pods/NAME/pod.log       stdout and stderr of the command

Pods outlive the daemon. A restarted daemon reads `status.json`: a pod whose shim still runs is
adopted; one whose shim died without recording an exit is Unknown.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

from syscalls.errors import SyscallError
from syscalls.procs import alive, runs

from ..store import now
from ..streams import cancelled
from . import FAILED, PENDING, RUNNING, TERMINAL, UNKNOWN, PodSpec, PodStatus
from .shim import write_status

SHIM = str(Path(__file__).with_name("shim.py"))  # run with -S: the standard library is all it needs
START_GRACE = 10.0  # seconds a Pending pod may take to start its shim before it is Unknown


class LocalDriver:
    name = "local"

    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir / "pods"
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._children: dict[str, subprocess.Popen] = {}
        self._final: dict[str, PodStatus] = {}  # terminal pods never change: read them once

    def _dir(self, name: str) -> Path:
        return self.root / name

    def run(self, spec: PodSpec) -> PodStatus:
        pod_dir = self._dir(spec.name)
        try:
            pod_dir.mkdir(mode=0o700)
        except FileExistsError:
            raise SyscallError("EEXIST", f"pod {spec.name!r} already exists") from None
        (pod_dir / "spec.json").write_text(json.dumps(spec.to_dict()))
        write_status(pod_dir, phase=PENDING, created=now(), labels=spec.labels, workspace=spec.workspace)
        env = {k: v for k, v in os.environ.items() if not k.startswith("DATAOS_")}
        shim = subprocess.Popen(
            [sys.executable, "-S", SHIM, str(pod_dir)], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=open(pod_dir / "shim.log", "ab"), start_new_session=True,
            close_fds=True, env=env, cwd=pod_dir)
        # Secrets travel on the shim's stdin, never through a file the kernel keeps.
        with shim.stdin:
            shim.stdin.write(json.dumps({"env": spec.secret_env, "files": spec.secret_files}).encode())
        self._children[spec.name] = shim
        return self.status(spec.name)

    def status(self, name: str) -> PodStatus:
        if name in self._final:
            return self._final[name]
        pod_dir = self._dir(name)
        try:
            raw = json.loads((pod_dir / "status.json").read_text())
        except FileNotFoundError:
            raise SyscallError("ENOENT", f"no pod {name!r}") from None
        child = self._children.get(name)
        if child is not None and child.poll() is not None:
            del self._children[name]
        phase = raw["phase"]
        reason = raw.get("reason")
        if phase == RUNNING and not runs(raw["shim_pid"], str(pod_dir)):
            raw = json.loads((pod_dir / "status.json").read_text())  # it may have just finished
            phase, reason = raw["phase"], raw.get("reason")
            if phase == RUNNING:  # the shim died without recording an end: take its group down too
                phase, reason = UNKNOWN, "ShimLost"
                _signal_group(raw["shim_pid"], signal.SIGKILL)
        elif phase == PENDING and name not in self._children and _age(raw["created"]) > START_GRACE:
            phase, reason = UNKNOWN, "NeverStarted"
        status = PodStatus(name=name, workspace=raw.get("workspace", ""), phase=phase, labels=raw.get("labels", {}),
                           created=raw["created"], started=raw.get("started"), finished=raw.get("finished"),
                           exit_code=raw.get("exit_code"), reason=reason)
        if phase in TERMINAL or reason == "ShimLost":
            self._final[name] = status
        return status

    def poll(self) -> list[PodStatus]:
        out = []
        for pod_dir in self.root.iterdir():
            try:
                out.append(self.status(pod_dir.name))
            except (SyscallError, ValueError, KeyError):
                continue  # being created or deleted right now
        return out

    def kill(self, name: str, grace: float = 5.0) -> None:
        """SIGTERM to the pod's group, SIGKILL after `grace`. A pod killed before its shim could
        record an end (e.g. still starting) is recorded as killed here."""
        status = self.status(name)
        if status.phase in TERMINAL:
            return
        raw = json.loads((self._dir(name) / "status.json").read_text())
        shim = raw.get("shim_pid")
        if shim is None or not alive(shim):
            child = self._children.get(name)
            shim = child.pid if child else None
        code = 143
        if shim is not None:
            _signal_group(shim, signal.SIGTERM)
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and alive(shim):
                self._reap(name)
                time.sleep(0.02)
            if alive(shim):
                _signal_group(shim, signal.SIGKILL)
                code = 137
            self._reap(name)
        self._final.pop(name, None)
        if self.status(name).phase not in TERMINAL:
            write_status(self._dir(name), phase=FAILED, exit_code=code, reason="Killed", finished=now())
            self._final.pop(name, None)

    def _reap(self, name: str) -> None:
        child = self._children.get(name)
        if child is not None and child.poll() is not None:
            del self._children[name]

    def delete(self, name: str) -> None:
        if not self._dir(name).exists():
            raise SyscallError("ENOENT", f"no pod {name!r}")
        self.kill(name, grace=2.0)
        self._final.pop(name, None)
        shutil.rmtree(self._dir(name), ignore_errors=True)

    def logs(self, name: str, tail: int | None = None, follow: bool = False) -> Iterator[str]:
        """The pod's output, line by line; with `follow`, until the pod has ended and all is read."""
        path = self._dir(name) / "pod.log"
        self.status(name)
        while not path.exists():
            if not follow or cancelled() or self.status(name).phase in TERMINAL | {UNKNOWN}:
                return
            time.sleep(0.05)
        with open(path, "r", errors="replace") as f:
            if tail is not None:
                yield from _last_lines(f, tail)
            else:
                yield from f
            partial = ""
            while follow:
                chunk = f.readline()
                if chunk:
                    partial += chunk
                    if partial.endswith("\n"):
                        yield partial
                        partial = ""
                    continue
                if self.status(name).phase in TERMINAL | {UNKNOWN}:
                    rest = partial + f.read()
                    if rest:
                        yield rest
                    return
                if cancelled():
                    return
                time.sleep(0.02)


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _age(when: str) -> float:
    from datetime import datetime, timezone
    return (datetime.now(timezone.utc) - datetime.fromisoformat(when.replace("Z", "+00:00"))).total_seconds()


def _last_lines(f, n: int) -> list[str]:
    from collections import deque
    return list(deque(f, maxlen=n)) if n > 0 else []
