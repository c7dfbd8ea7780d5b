"""The local kernel daemon, seen from the client: find it, start it on demand, stop it."""
from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Any

from . import __version__
from .errors import ERRNO, SyscallError
from .locations import TOKEN_HANDOFF, Locations, set_aside, squatter
from .procs import alive, runs
from .transports import UnixSocket

START_TIMEOUT = 20.0


class LocalKernel:
    def __init__(self, locations: Locations | None = None) -> None:
        self.locations = locations or Locations.current()
        self.transport = UnixSocket(self.locations.socket, own=True)

    def health(self) -> dict[str, Any] | None:
        """The daemon's `/healthz` ({version, pid, started}), or None when nothing answers."""
        try:
            status, body = self.transport.request("GET", "/healthz")
        except SyscallError:
            return None
        return json.loads(body) if status == 200 else None

    def pid(self) -> int | None:
        """The daemon's pid, from the pid file if that process is really our kernel (a stale pid
        file may name an unrelated process by now)."""
        try:
            pid = int(self.locations.pidfile.read_text().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None
        return pid if runs(pid, str(self.locations.state)) else None

    def ensure(self, notices: list[str] | None = None) -> UnixSocket:
        """The transport to a running daemon of our version, starting or restarting it as needed."""
        health = self.health()
        if health is not None and health.get("version") != __version__:
            if notices is not None:
                notices.append(f"notice: restarting the local kernel ({health.get('version')} -> {__version__})")
            self.stop()
            health = None
        if health is None:
            self.start(notices=notices)
        return self.transport

    def start(self, options: list[str] = (), notices: list[str] | None = None,
              env: dict[str, str] | None = None) -> dict[str, Any]:
        """Start the daemon (with `python -m kernel serve` options such as `--cloud kubernetes`, and
        `env` added to its environment: what must not show in a process list, like a database URL)."""
        import subprocess
        health = self.health()
        if health is not None:
            return health
        loc = self.locations
        loc.ensure()
        moved = self._clear_socket_path()
        log = open(loc.kernel_log, "ab")
        if moved:
            log.write(f"{moved}\n".encode())
            if notices is not None:
                notices.append(moved)
        cmd = [sys.executable, "-m", "kernel", "serve", "--state", str(loc.state),
               "--socket", str(loc.socket), "--pidfile", str(loc.pidfile), *options]
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True, close_fds=True, env={**os.environ, **(env or {})})
        log.close()
        # Reap it when it exits, however long we live (a shell, the TUI): no zombie daemons.
        threading.Thread(target=proc.wait, name="reap-kernel", daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            health = self.health()
            if health is not None:
                return health
            code = proc.poll()
            if code is not None:
                health = self.health()  # another client's daemon won the race
                if health is not None:
                    return health
                code, why = self._why_not_started()
                raise SyscallError(code, f"the local kernel did not start: {why} (see {loc.kernel_log})")
            time.sleep(0.02)
        raise SyscallError("ETIMEDOUT", f"the local kernel did not answer within {START_TIMEOUT:.0f}s "
                           f"(see {loc.kernel_log})")

    def _clear_socket_path(self) -> str | None:
        """Move whatever is at the socket path that is not a socket out of the way (it is in our
        private run directory, and no daemon serves there): a notice saying where, or None."""
        sock = self.locations.socket
        kind = squatter(sock)
        if kind is None:
            return None
        try:
            aside = set_aside(sock)
        except FileNotFoundError:  # another client moved it
            return None
        except OSError as e:
            raise SyscallError("EUNAVAIL", f"{sock} is {kind}, not the kernel's socket, and cannot be moved "
                               f"aside ({e.strerror}): remove it, then retry") from None
        return f"notice: {sock} was {kind}, not the kernel's socket: moved it to {aside}"

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stop the daemon (SIGTERM, then SIGKILL); returns the pid it had, or None if none ran."""
        import signal
        pid = self.pid()
        if pid is None:
            return None
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and alive(pid):
            time.sleep(0.02)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
        self.transport.close()
        return pid

    def take_handoff_token(self) -> str | None:
        """The first operator's token, written by a new kernel for the client that started it."""
        path = self.locations.state / TOKEN_HANDOFF
        try:
            token = path.read_text().strip()
        except FileNotFoundError:
            return None
        path.unlink(missing_ok=True)
        return token or None

    def _why_not_started(self) -> tuple[str, str]:
        """The errno and reason of a daemon that exited: its last log line, `dataos kernel: CODE: …`
        when it refused to start, else EUNAVAIL."""
        try:
            lines = self.locations.kernel_log.read_text(errors="replace").strip().splitlines()
        except FileNotFoundError:
            lines = []
        last = lines[-1] if lines else "no log"
        code, _, why = last.removeprefix("dataos kernel: ").partition(": ")
        return (code, why) if last.startswith("dataos kernel: ") and code in ERRNO else ("EUNAVAIL", last)

