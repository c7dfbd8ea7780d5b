"""The local pods' sandbox: bubblewrap (`bwrap`, Debian's `bubblewrap`), unprivileged.

A pod's command runs in its own user, mount, PID, IPC, UTS and network namespaces (no network: it
reaches the kernel through its socket, nothing else on the machine), with no capabilities and no
way to gain any. bwrap itself runs with an empty environment; the command's environment reaches it
through a pipe (`--args`), so no variable of a manifest or a secret acts outside the sandbox and
no secret shows on a command line. Its file system is built from nothing: read-only views of the system (`/usr`,
the few files of `/etc` programs need) and of the Python environment (the interpreter, the
installed packages, the project's packages), a private `/tmp`, its own writable working directory
at `/pod`, its secrets (if any) read-only at `/run/secrets`, and the kernel's socket. The kernel's
state, the user's configuration and credentials, the depots' files and other pods are simply not
there: a Python path inside one of them is not shown, and one of them inside a Python path is
covered by an empty tmpfs. `/proc` shows only the pod's own processes. Data reaches a job only
through syscalls, as its user.
"""
from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger("dataos.cloud")

WORKDIR, SECRETS_DIR = "/pod", "/run/secrets"
_ETC = ("passwd", "group", "hosts", "resolv.conf", "nsswitch.conf", "host.conf", "gai.conf", "localtime",
        "timezone", "ssl", "ca-certificates", "ca-certificates.conf", "ld.so.cache", "ld.so.conf", "ld.so.conf.d",
        "mime.types", "protocols", "services", "alternatives", "os-release")
_PACKAGES = ("syscalls", "userlib", "dataos_shell", "plugins")  # what jobs import: the client, the stacks' programs
_NAMESPACES = ("--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net",
               "--unshare-cgroup-try", "--disable-userns", "--cap-drop", "ALL", "--die-with-parent")


def find_bwrap() -> str | None:
    """The bubblewrap to use ($DATAOS_BWRAP, else `bwrap` on PATH), if it runs a sandbox here."""
    binary = os.environ.get("DATAOS_BWRAP") or shutil.which("bwrap")
    if not binary or not os.access(binary, os.X_OK):
        return None
    try:
        probe = subprocess.run([binary, *_NAMESPACES, "--ro-bind", "/usr", "/usr", *_system_links(), "true"],
                               capture_output=True, timeout=10, env={})
    except (OSError, subprocess.SubprocessError):
        return None
    if probe.returncode != 0:
        log.warning("bubblewrap at %s cannot make a sandbox here: %s", binary,
                    probe.stderr.decode(errors="replace").strip()[:200])
        return None
    return binary


class Sandbox:
    """Command lines that run a command in the sandbox: `hidden` names paths no pod may see,
    `socket` is the kernel's (the one path of the host a pod reaches it by)."""

    def __init__(self, bwrap: str, hidden: Iterable[str] = (), socket: str | None = None) -> None:
        self.bwrap = bwrap
        self.hidden: list[str] = [str(Path(p).resolve()) for p in hidden]
        self.socket = socket

    def argv(self, name: str, command: list[str], workdir: Path, secrets: Path | None,
             hidden: Iterable[str] = ()) -> list[str]:
        """bwrap's command line for pod `name`'s `command` (its host name is the pod's name):
        `workdir` becomes /pod, `secrets` /run/secrets, the kernel's socket stays where it is;
        `hidden` adds paths to hide for this pod. A command that cannot be found exits 127, as in
        a shell. The shim gives the command its environment on a pipe (`--args FD`)."""
        hide = [*self.hidden, *(str(Path(p).resolve()) for p in hidden)]
        roots = [r for r in _python_roots() if not any(_within(r, h) for h in hide)]
        # a private /tmp first: what is shown below it (a Python environment in /tmp) goes on top
        args = [self.bwrap, *_NAMESPACES, "--hostname", name, "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
                "--ro-bind", "/usr", "/usr", *_system_links()]
        for entry in _ETC:
            args += ["--ro-bind-try", f"/etc/{entry}", f"/etc/{entry}"]
        for root in roots:
            args += ["--ro-bind", root, root]
        for path in hide:  # below something shown: covered
            if Path(path).is_dir() and any(_within(path, root) for root in roots):
                args += ["--tmpfs", path]
        args += ["--bind", str(workdir), WORKDIR, "--chdir", WORKDIR]
        if secrets is not None:
            args += ["--ro-bind", str(secrets), SECRETS_DIR]
        if self.socket:
            args += ["--ro-bind", self.socket, self.socket]
        return [*args, "--", "/bin/sh", "-c", 'exec "$@"', "sh", *command]


def _system_links() -> list[str]:
    """/bin, /lib, … as the host has them: links into /usr (merged /usr), or read-only views."""
    out = []
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            out += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            out += ["--ro-bind", str(path), str(path)]
    return out


def _python_roots() -> list[str]:
    """The directories a job's Python needs: the environment, its base installation, the packages
    jobs import (wherever an editable install keeps them) and $PYTHONPATH."""
    import importlib.util
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    for package in _PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec is not None:
            roots.update(spec.submodule_search_locations or [])
    roots.update(p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)
    resolved = sorted({str(Path(r).resolve()) for r in roots if r and Path(r).exists()} | {"/usr"})
    outermost = [r for r in resolved if not any(r != other and _within(r, other) for other in resolved)]
    return [r for r in outermost if r != "/usr"]  # /usr is shown anyway


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")
