"""The TUI's line to the kernel: syscalls run off the UI thread, and the kernel's health.

Screens call `await link.call("pod.list", workspace=None)` (a worker thread does the I/O) or
`link.stream(...)` for streaming syscalls inside their own thread workers. Every answer or
failure updates `healthy`; when the kernel stops answering the app shows a banner with the last
good data and keeps retrying — screens keep what they had and refresh when it comes back.
"""
from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Callable, Iterator

from syscalls.errors import SyscallError

UNREACHABLE = ("EUNAVAIL", "ETIMEDOUT")


class Link:
    def __init__(self, connect: Callable[[], Any], on_health: Callable[[bool, str], None] = lambda ok, why: None,
                 readonly: bool = False) -> None:
        """`connect()` makes a syscalls client (one per Link; its transports are thread-safe)."""
        self._connect = connect
        self._client: Any = None
        self._lock = threading.Lock()
        self.on_health = on_health
        self.readonly = readonly
        self.healthy = True
        self.last_error = ""
        self.last_ok = time.monotonic()

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def call_sync(self, name: str, /, **request: Any) -> Any:
        """One syscall on this thread (workers use it); health is tracked either way."""
        try:
            result = self.client.call(name, request)
        except SyscallError as e:
            if e.code in UNREACHABLE:
                self._health(False, e.message)
            raise
        self._health(True, "")
        return result

    async def call(self, name: str, /, **request: Any) -> Any:
        """One syscall from the UI's event loop, run in a thread."""
        return await asyncio.to_thread(self.call_sync, name, **request)

    def stream(self, name: str, /, **request: Any) -> Iterator[Any]:
        """A streaming syscall's items (call from a thread worker)."""
        try:
            yield from self.client.call(name, request)
        except SyscallError as e:
            if e.code in UNREACHABLE:
                self._health(False, e.message)
            raise
        self._health(True, "")

    def _health(self, ok: bool, why: str) -> None:
        if ok:
            self.last_ok = time.monotonic()
        if ok != self.healthy or (not ok and why != self.last_error):
            self.healthy, self.last_error = ok, why
            self.on_health(ok, why)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


def error_text(e: Exception) -> str:
    """One line: `ERRNO: message`."""
    code = getattr(e, "code", None)
    message = " ".join(str(getattr(e, "message", None) or e).split())
    return f"{code}: {message}" if code and not message.startswith(code) else message
