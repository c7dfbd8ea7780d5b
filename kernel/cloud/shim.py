"""The pod shim: `python -m kernel.cloud.shim POD_DIR` runs one pod's command and records how
it ended, so pods outlive the kernel daemon and a restarted daemon still learns exit codes.

The shim leads the pod's process group; SIGTERM to the group reaches the command, and the shim
writes `status.json` (atomically) when it starts the command and when the command exits. It
writes the secret files it gets on stdin into the pod's secrets folder before the command
starts, and removes the pod's scratch folder (working directory and secrets) when it ends.
The command gets exactly the environment in `spec.json` plus the secret variables: nothing of
the kernel's own.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def write_status(pod_dir: Path, **status: object) -> None:
    path = pod_dir / "status.json"
    try:
        current = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        current = {}
    tmp = pod_dir / "status.json.tmp"
    tmp.write_text(json.dumps({**current, **status}))
    tmp.replace(path)


def record(pod_dir: Path, **status: object) -> None:
    """`write_status`, waiting out a full disk: how the pod ran is never lost."""
    delay = 0.1
    while True:
        try:
            return write_status(pod_dir, **status)
        except OSError as e:
            if e.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
        time.sleep(delay)
        delay = min(5.0, delay * 2)


def main(pod_dir: Path) -> int:
    spec = json.loads((pod_dir / "spec.json").read_text())
    secrets = json.loads(sys.stdin.read() or "{}")
    env = {**spec.get("env", {}), **secrets.get("env", {})}
    scratch = spec.get("scratch")
    if secrets.get("files"):
        folder = Path(spec["secrets"])
        folder.mkdir(mode=0o700, exist_ok=True)
        for name, content in secrets["files"].items():
            fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(content)
        env["DATAOS_SECRETS_DIR"] = spec["secrets_seen_as"]
    log = open(pod_dir / "pod.log", "ab", buffering=0)
    argv, fds, arguments = spec["argv"], (), b""
    if spec.get("sandboxed"):  # bwrap runs with nothing of the pod's: the environment goes in on a pipe
        read, write = os.pipe()
        argv, fds, arguments = [argv[0], "--args", str(read), *argv[1:]], (read,), _environment_args(env)
        env = {}
    try:
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                 env=env, cwd=spec.get("cwd") or scratch or pod_dir, pass_fds=fds)
    except OSError as e:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
        try:
            log.write(f"dataos: cannot start {spec['argv'][0]!r}: {e.strerror}\n".encode())
        except OSError:  # a full disk: the status below still records the failure
            pass
        record(pod_dir, phase="Failed", exit_code=127, reason="StartError", started=now(), finished=now(),
               shim_pid=os.getpid())
        return 127
    if fds:
        os.close(read)
        try:
            with os.fdopen(write, "wb") as pipe:  # bwrap reads it all before it starts the command
                pipe.write(arguments)
        except BrokenPipeError:  # bwrap ended first (it failed): its exit code tells
            pass
    record(pod_dir, phase="Running", pid=child.pid, shim_pid=os.getpid(), started=now())
    stopping = []

    def forward(signum: int, _frame: object) -> None:
        stopping.append(signum)
        child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    code = child.wait()
    if scratch:  # the working directory and secret files live as long as the command
        shutil.rmtree(scratch, ignore_errors=True)
    if code < 0:
        code = 128 - code  # killed by a signal: the shell's convention (SIGKILL -> 137)
    phase, reason = ("Stopped", "Stopped") if stopping else ("Succeeded", "Completed") if code == 0 \
        else ("Failed", "Error")
    record(pod_dir, phase=phase, exit_code=code, reason=reason, finished=now())
    return 0


def _environment_args(env: dict[str, str]) -> bytes:
    """bwrap arguments (NUL-separated, for `--args FD`) that give the command exactly `env`."""
    parts = ["--clearenv"]
    for key, value in env.items():
        parts += ["--setenv", key, value]
    return b"".join(part.encode() + b"\0" for part in parts)


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
