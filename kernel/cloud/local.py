"""The `local` cloud driver: a pod is a real OS process group, led by a shim (see `shim.py`),
its command in a bubblewrap sandbox (see `sandbox.py`).

    pods/NAME/spec.json     what to run: the sandboxed command line, its environment
    pods/NAME/status.json   phase, pids, times, exit code — written by the driver, then the shim
    pods/NAME/pod.log       stdout and stderr of the command
    $TMPDIR/dataos-pod-NAME-*/  the pod's scratch, outside the state: `work` (its /pod) and
                            `secrets` (its /run/secrets); removed when the command ends

Pods outlive the daemon. A restarted daemon reads `status.json`: a pod whose shim still runs is
adopted; one whose shim died without recording an exit is Unknown.

Without a usable bubblewrap the driver says so once and runs commands unsandboxed: the kernel
then runs only the workloads of its own operator (see `Kernel.unsandboxed`).
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Iterator

from syscalls.errors import SyscallError
from syscalls.procs import alive, runs

from ..faults import writing
from ..store import now
from ..streams import cancelled
from . import FAILED, PENDING, RUNNING, STOPPED, TERMINAL, UNKNOWN, PodSpec, PodStatus
from .sandbox import SECRETS_DIR, WORKDIR, Sandbox, find_bwrap
from .shim import write_status

log = logging.getLogger("dataos.cloud")
_PASSED_ENV = ("LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "PYTHONPATH")  # the kernel's, that a job gets

SHIM = str(Path(__file__).with_name("shim.py"))  # run with -S: the standard library is all it needs
START_GRACE = 10.0  # seconds a Pending pod may take to start its shim before it is Unknown


class LocalDriver:
    name = "local"

    def __init__(self, state_dir: Path, hidden: Callable[[], list[str]] = lambda: [],
                 socket: str | None = None) -> None:
        """`hidden()`: paths no pod may see beyond the state directory (the depots', the user's);
        `socket`: the kernel's, which pods reach it by."""
        self.root = state_dir / "pods"
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._children: dict[str, subprocess.Popen] = {}
        self._final: dict[str, PodStatus] = {}  # terminal pods never change: read them once
        self.hidden = hidden
        bwrap = find_bwrap()
        self.sandbox = Sandbox(bwrap, [str(state_dir)], socket) if bwrap else None
        if self.sandbox is None:
            log.warning("no usable bubblewrap (Debian package `bubblewrap`): pods run unsandboxed, so only the "
                        "operator's own workloads run on this kernel")

    @property
    def sandboxed(self) -> bool:
        return self.sandbox is not None

    def _dir(self, name: str) -> Path:
        return self.root / name

    def run(self, spec: PodSpec) -> PodStatus:
        """Start a pod. A full disk before its shim starts is ENOSPC, and leaves nothing behind."""
        pod_dir = self._dir(spec.name)
        try:
            with writing(self.root):
                pod_dir.mkdir(mode=0o700)
        except FileExistsError:
            raise SyscallError("EEXIST", f"pod {spec.name!r} already exists") from None
        scratch = None
        try:
            with writing(pod_dir):
                scratch = Path(tempfile.mkdtemp(prefix=f"dataos-pod-{spec.name}-"))  # 0700, outside the state
                return self._start(spec, pod_dir, scratch)
        except BaseException:
            if spec.name not in self._children:  # its shim never started: no trace of it
                shutil.rmtree(pod_dir, ignore_errors=True)
                if scratch is not None:
                    shutil.rmtree(scratch, ignore_errors=True)
            raise

    def _start(self, spec: PodSpec, pod_dir: Path, scratch: Path) -> PodStatus:
        work = scratch / "work"
        work.mkdir()
        secrets = scratch / "secrets" if spec.secret_files else None
        if self.sandbox is not None:
            argv = self.sandbox.argv(spec.name, spec.command, work, secrets, self.hidden())
            seen = {"home": WORKDIR, "secrets": SECRETS_DIR, "path": f"{sys.prefix}/bin:/usr/local/bin:/usr/bin:/bin"}
        else:
            argv = list(spec.command)
            seen = {"home": str(work), "secrets": str(secrets), "path": os.environ.get("PATH", "/usr/bin:/bin")}
        env = {**{k: os.environ[k] for k in _PASSED_ENV if k in os.environ}, "PATH": seen["path"],
               "HOME": seen["home"], "DATAOS_POD": spec.name, **spec.env}
        (pod_dir / "spec.json").write_text(json.dumps({
            **spec.to_dict(), "argv": argv, "env": env, "cwd": None if self.sandbox else str(work),
            "scratch": str(scratch), "secrets": str(secrets) if secrets else None, "secrets_seen_as": seen["secrets"],
            "sandboxed": self.sandbox is not None}))
        write_status(pod_dir, phase=PENDING, created=now(), labels=spec.labels, workspace=spec.workspace)
        shim = subprocess.Popen(
            [sys.executable, "-S", SHIM, str(pod_dir)], stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL, stderr=open(pod_dir / "shim.log", "ab"), start_new_session=True,
            close_fds=True, env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, cwd=pod_dir)
        self._children[spec.name] = shim
        # Secrets travel on the shim's stdin, never through a file the kernel keeps.
        with shim.stdin:
            shim.stdin.write(json.dumps({"env": spec.secret_env, "files": spec.secret_files}).encode())
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
        elif phase == FAILED and reason == "Error" and _sandbox_failed(pod_dir):
            reason = "SandboxError"
        status = PodStatus(name=name, workspace=raw.get("workspace", ""), phase=phase, labels=raw.get("labels", {}),
                           created=raw["created"], started=raw.get("started"), finished=raw.get("finished"),
                           exit_code=raw.get("exit_code"), reason=reason)
        if phase in TERMINAL or reason == "ShimLost":
            self._final[name] = status
            _remove_scratch(pod_dir)  # in case its shim died before it could
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
        """SIGTERM to the pod's group, SIGKILL after `grace`: the pod ends `Stopped`. A pod killed
        before its shim could record an end (e.g. still starting) is recorded so here."""
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
            write_status(self._dir(name), phase=STOPPED, exit_code=code, reason="Stopped", finished=now())
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
        _remove_scratch(self._dir(name))
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


def _remove_scratch(pod_dir: Path) -> None:
    try:
        scratch = json.loads((pod_dir / "spec.json").read_text()).get("scratch")
    except (OSError, ValueError):
        return
    if scratch and Path(scratch).name.startswith("dataos-pod-"):
        shutil.rmtree(scratch, ignore_errors=True)


def _sandbox_failed(pod_dir: Path) -> bool:
    """Did bubblewrap fail to make the pod's sandbox (it says so first, before any command runs)?"""
    try:
        with open(pod_dir / "pod.log", "rb") as f:
            return f.read(6) == b"bwrap:"
    except OSError:
        return False


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
