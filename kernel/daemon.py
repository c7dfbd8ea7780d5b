"""The kernel daemon: one process per state directory, serving the REST API on a Unix socket
(and optionally on TCP, with TLS) until SIGTERM."""
from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import socket
import stat
import sys
from pathlib import Path

from syscalls.errors import SyscallError
from syscalls.locations import squatter

log = logging.getLogger("dataos.kernel")
YOUNG_COLLECTION = 50_000  # allocations between the collector's young-generation passes (Python's: 700)


def tune_gc() -> None:
    """The collector as a long-running kernel wants it: a young-generation pass every
    `YOUNG_COLLECTION` allocations, not 700 (a query answering 18,000 rows made ~50 passes and a
    few full ones over every object the kernel holds: a third of its time)."""
    gc.set_threshold(YOUNG_COLLECTION, *gc.get_threshold()[1:])


def serve(state: Path, sock_path: Path | None, pidfile: Path | None, listen: str | None = None,
          tls_cert: str | None = None, tls_key: str | None = None, cloud: dict | None = None,
          database: str | None = None, log_format: str = "text") -> int:
    from .logs import configure
    configure(log_format)
    from .faults import fault
    from .kernel import Kernel
    try:
        kernel = Kernel(state, url=f"unix://{sock_path}" if sock_path else None, cloud=cloud, database=database)
    except Exception as e:  # what stops a start: one line the client that started us shows
        error = e if isinstance(e, SyscallError) else fault(e, state)
        if error is None:
            raise
        print(f"dataos kernel: {error}", file=sys.stderr)
        return error.exit_code
    tune_gc()
    sockets = []
    refused = None
    try:
        if sock_path is not None:
            sockets.append(_unix_socket(sock_path))
        if listen:
            sockets.append(_tcp_socket(listen))
        if pidfile is not None:
            pidfile.write_text(f"{os.getpid()}\n")
        _run(kernel, sockets, tls_cert, tls_key)
    except SyscallError as e:
        refused = e
    finally:
        kernel.close()
        if sock_path is not None:
            _unlink_if_socket(sock_path)
        if pidfile is not None and pidfile.exists() and pidfile.read_text().strip() == str(os.getpid()):
            pidfile.unlink()
        log.info("kernel stopped")
    if refused is not None:  # the last line, which the client that started us shows
        print(f"dataos kernel: {refused}", file=sys.stderr)
        return refused.exit_code
    return 0


def _run(kernel, sockets: list[socket.socket], tls_cert: str | None, tls_key: str | None) -> None:
    import uvicorn

    from .api import create_app

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):
            """Stop on SIGTERM/SIGINT and return, so the kernel closes cleanly (uvicorn's own
            handler re-raises the signal after shutdown, killing us before the audit is flushed)."""
            stop = lambda *_: setattr(self, "should_exit", True)  # noqa: E731
            previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    config = uvicorn.Config(create_app(kernel), log_level="warning", access_log=False, lifespan="off",
                            ssl_certfile=tls_cert, ssl_keyfile=tls_key, timeout_keep_alive=60,
                            timeout_graceful_shutdown=5)
    server = Server(config)
    log.info("kernel %s serving %s (pid %d)", kernel.state_dir,
             ", ".join(str(s.getsockname()) for s in sockets), os.getpid())
    server.run(sockets=sockets)


def _unix_socket(path: Path) -> socket.socket:
    """Bind the socket; a stale one left by a crash is removed (we hold the state lock). Anything
    else there is not ours to remove: refused (the client that starts us moves it aside first)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    _unlink_if_socket(path)
    kind = squatter(path)
    if kind is not None:
        raise SyscallError("EUNAVAIL", f"{path} is {kind}, not a socket: move it away, then start the kernel again")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        _listen(s, str(path))
    finally:
        os.umask(old)
    return s


def _tcp_socket(listen: str) -> socket.socket:
    host, _, port = listen.rpartition(":")
    # IPPROTO_TCP, not 0: asyncio turns Nagle's algorithm off only on connections it knows are TCP,
    # and a response's headers and body are two writes (40 ms a call, the client's delayed ACK)
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    _listen(s, (host.strip("[]") or "127.0.0.1", int(port)))
    return s


def _listen(s: socket.socket, address: str | tuple[str, int]) -> None:
    try:
        s.bind(address)
        s.listen(128)
    except OSError as e:
        s.close()
        shown = address if isinstance(address, str) else f"{address[0]}:{address[1]}"
        raise SyscallError("EUNAVAIL", f"cannot listen on {shown}: {e.strerror or e}") from None


def _unlink_if_socket(path: Path) -> None:
    try:
        if stat.S_ISSOCK(path.lstat().st_mode):
            path.unlink()
    except FileNotFoundError:
        pass
