"""How a syscall reaches the kernel: in-process, HTTP over the daemon's Unix socket, or HTTP(S).

Every transport speaks the same envelope, `{"ok": true, "result": …}` or
`{"ok": false, "error": {"code", "message", …}}`, and raises the same `SyscallError`s.
"""
from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Protocol

from . import __version__, frames
from .errors import SyscallError

API = "/api/v1/syscalls/"
IDLE = 20.0  # seconds a kept-alive connection may idle before we open a new one (the server allows 60)
READ_ONLY = frozenset({"get", "list", "history", "types", "whoami", "info", "check"})
STREAM_IDLE = 60.0  # seconds a stream may be silent before it counts as cut (the kernel sends keep-alives every 10)


class Transport(Protocol):
    url: str

    def call(self, name: str, request: dict[str, Any] | None, token: str | None) -> Any: ...
    def stream(self, name: str, request: dict[str, Any] | None, token: str | None) -> Iterator[Any]: ...
    def close(self) -> None: ...


def items(lines: Iterator[bytes | str], where: str) -> Iterator[Any]:
    """The items of an NDJSON stream until its end line; an error line raises, and so does a
    stream that stops before its end (`frames.cut`). Blank lines are keep-alives."""
    for line in lines:
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            entry = None
        if isinstance(entry, dict):
            if "item" in entry:
                yield entry["item"]
                continue
            if "error" in entry:
                raise SyscallError.from_dict(entry["error"])
            if entry.get("end") is True:
                return
        raise frames.cut(where, "a line was cut short")
    raise frames.cut(where, "the connection closed")


def is_stream(content_type: str | None) -> bool:
    return "ndjson" in (content_type or "") or frames.MEDIA_TYPE in (content_type or "")


def unwrap(status: int, body: bytes, where: str) -> Any:
    """The result of an envelope, or its error raised."""
    try:
        envelope = json.loads(body)
        ok = envelope["ok"]
    except (ValueError, KeyError, TypeError):
        raise SyscallError("EUNAVAIL", f"{where} answered HTTP {status} without a syscall envelope") from None
    if ok:
        return envelope.get("result")
    raise SyscallError.from_dict(envelope.get("error") or {})


class Embedded:
    """A kernel inside this process (`embedded://DIR`): for tests, benchmarks and scripts."""

    def __init__(self, state_dir: str) -> None:
        from kernel.kernel import Kernel  # the one place the system layer loads the kernel itself
        self.url = f"embedded://{state_dir}"
        self.kernel = Kernel(state_dir, handoff=False)

    def session_token(self) -> str:
        """Whoever opens the state in-process owns it: a memory-only operator token."""
        return self.kernel.session_token()

    def call(self, name: str, request: dict[str, Any] | None, token: str | None) -> Any:
        return self.kernel.call(token, name, request)

    def stream(self, name: str, request: dict[str, Any] | None, token: str | None) -> Iterator[Any]:
        return self.kernel.call(token, name, request)

    def close(self) -> None:
        self.kernel.close()


def _unix_socket(path: Path, timeout: float, own: bool) -> socket.socket:
    """A socket connected to `path`. With `own`, the server must run as our user (SO_PEERCRED),
    or no token is sent to it."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
        if own and _peer_uid(sock, path) != os.getuid():
            raise SyscallError("EUNAVAIL", f"{path} is served by another user; refusing to send credentials")
    except BaseException:
        sock.close()
        raise
    return sock


def _unix_connection(path: Path, timeout: float, own: bool):
    """http.client over AF_UNIX, for streams (their responses are read as they come)."""
    import http.client

    class Connection(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = _unix_socket(path, timeout, own)

    return Connection("localhost", timeout=timeout)


class _Link:
    """A kept-alive HTTP/1.1 connection over AF_UNIX for whole exchanges: a request, then a
    response with a Content-Length or chunked body. Tens of microseconds of client work a call,
    and no http.client to import (with email and ssl, ~15 ms of every command's start)."""

    def __init__(self, path: Path, timeout: float, own: bool) -> None:
        self.sock = _unix_socket(path, timeout, own)
        self.file = self.sock.makefile("rb")
        self.open = True

    def send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> None:
        lines = [f"{method} {path} HTTP/1.1", "Host: localhost", "Accept-Encoding: identity",
                 *([f"Content-Length: {len(body)}"] if body is not None else []),
                 *(f"{k}: {v}" for k, v in headers.items())]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b""))

    def response(self) -> tuple[int, bytes]:
        """(status, body); the connection closes after it when the server says so."""
        line = self.file.readline(65537)
        if not line:
            raise ConnectionError("Remote end closed connection without response")
        version, _, rest = line.partition(b" ")
        status = int(rest[:3]) if rest[:3].isdigit() and version.startswith(b"HTTP/") else None
        if status is None:
            raise ConnectionError(f"not an HTTP response: {line[:40]!r}")
        headers = {}
        while (field := self.file.readline(65537)) not in (b"\r\n", b"\n", b""):
            name, _, value = field.partition(b":")
            headers[name.strip().lower()] = value.strip().lower()
        if b"chunked" in headers.get(b"transfer-encoding", b""):
            body = b"".join(iter(self._chunk, b""))
        elif b"content-length" in headers:
            body = self._exactly(int(headers[b"content-length"]))
        elif status in (204, 304) or status < 200:
            body = b""
        else:
            body, self.open = self.file.read(), False
        if headers.get(b"connection") == b"close" or version == b"HTTP/1.0":
            self.open = False
        return status, body

    def _chunk(self) -> bytes:
        size = int(self.file.readline(65537).split(b";")[0], 16)
        data = self._exactly(size + 2)[:size]
        if not size:
            while self.file.readline(65537) not in (b"\r\n", b"\n", b""):
                pass  # trailers
        return data

    def _exactly(self, n: int) -> bytes:
        data = self.file.read(n)
        if len(data) < n:
            raise ConnectionError(f"the response was cut short ({len(data)} of {n} bytes)")
        return data

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def _peer_uid(sock: socket.socket, path: Path) -> int:
    if hasattr(socket, "SO_PEERCRED"):
        import struct
        _pid, uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                              struct.calcsize("3i")))
        return uid
    return path.stat().st_uid


class UnixSocket:
    """The local kernel daemon's REST API over its Unix socket (`unix://PATH`)."""

    def __init__(self, path: str | Path, timeout: float = 300.0, own: bool = False,
                 idle: float = STREAM_IDLE) -> None:
        self.path = Path(path)
        self.url = f"unix://{self.path}"
        self.timeout, self.idle = timeout, idle
        self.own = own
        self._local = threading.local()

    def request(self, method: str, path: str, body: bytes | None = None, token: str | None = None,
                idempotent: bool = True) -> tuple[int, bytes]:
        """One HTTP exchange. A kept-alive connection that turns out dead is replaced once —
        for a call that may have run already (not idempotent) only if the request never left."""
        headers = {"Content-Type": "application/json", "X-Dataos-Version": __version__}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        for attempt in (1, 2):
            link = getattr(self._local, "link", None)
            reused = link is not None
            if reused and time.monotonic() - getattr(self._local, "used", 0.0) > IDLE:
                self._drop()  # the server drops idle connections: don't race it
                reused = False
            try:
                if not reused:
                    link = self._local.link = _Link(self.path, self.timeout, self.own)
                link.send(method, path, body, headers)
            except OSError as e:
                self._drop()
                if reused and attempt == 1:
                    continue
                raise self._unavailable(e) from None
            try:
                status, data = link.response()
            except (OSError, ValueError) as e:
                self._drop()
                if reused and idempotent and attempt == 1 and not isinstance(e, socket.timeout):
                    continue
                raise self._unavailable(e) from None
            if not link.open:
                self._drop()
            self._local.used = time.monotonic()
            return status, data
        raise AssertionError("unreachable")

    def _drop(self) -> None:
        link = getattr(self._local, "link", None)
        if link is not None:
            link.close()
        self._local.link = None

    def _unavailable(self, e: Exception) -> SyscallError:
        if isinstance(e, socket.timeout):
            return SyscallError("ETIMEDOUT", f"the kernel at {self.url} did not answer in time")
        return SyscallError("EUNAVAIL", f"cannot reach the kernel at {self.url}: {getattr(e, 'strerror', None) or e}")

    def call(self, name: str, request: dict[str, Any] | None, token: str | None) -> Any:
        status, body = self.request("POST", API + name, json.dumps(request or {}).encode(), token,
                                    idempotent=name.rpartition(".")[2] in READ_ONLY)
        return unwrap(status, body, self.url)

    def stream(self, name: str, request: dict[str, Any] | None, token: str | None) -> Iterator[Any]:
        """A streaming syscall, on a connection of its own (closed when the iterator is)."""
        import http.client
        conn = _unix_connection(self.path, self.timeout, self.own)
        headers = {"Content-Type": "application/json", "X-Dataos-Version": __version__}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        try:
            conn.request("POST", API + name, body=json.dumps(request or {}).encode(), headers=headers)
            sock = conn.sock  # the response's, even once the connection hands it over
            response = conn.getresponse()
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            raise self._unavailable(e) from None
        if response.status != 200 or not is_stream(response.getheader("Content-Type")):
            body = response.read()
            conn.close()
            unwrap(response.status, body, self.url)
            raise SyscallError("EIO", f"{name} answered without a stream")
        sock.settimeout(self.idle)
        return self._lines(conn, response)

    def _lines(self, conn, response) -> Iterator[Any]:
        import http.client
        try:
            if frames.MEDIA_TYPE in (response.getheader("Content-Type") or ""):
                yield from frames.decode(response.read, self.url)
            else:
                yield from items(iter(response.readline, b""), self.url)
        except socket.timeout:
            raise frames.cut(self.url, f"nothing heard for {self.idle:g} s") from None
        except http.client.IncompleteRead:
            raise frames.cut(self.url, "the connection closed") from None
        except (OSError, http.client.HTTPException) as e:
            raise frames.cut(self.url, getattr(e, "strerror", None) or str(e) or type(e).__name__) from None
        finally:
            response.close()
            conn.close()

    def close(self) -> None:
        self._drop()


class Http:
    """A kernel's REST API over HTTP(S) with a bearer token (`https://HOST`). TLS is verified
    against the system store, or $SSL_CERT_FILE for a private CA."""

    def __init__(self, url: str, timeout: float = 300.0, idle: float = STREAM_IDLE) -> None:
        import ssl

        import httpx
        self.url = url.rstrip("/")
        self._httpx = httpx
        self._stream_timeout = httpx.Timeout(timeout, read=idle)
        self.idle = idle
        cafile = os.environ.get("SSL_CERT_FILE")
        verify = ssl.create_default_context(cafile=cafile) if cafile else True
        self.client = httpx.Client(base_url=self.url, timeout=timeout,
                                   headers={"X-Dataos-Version": __version__}, verify=verify)

    def call(self, name: str, request: dict[str, Any] | None, token: str | None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = self.client.post(API + name, json=request or {}, headers=headers)
        except self._httpx.TimeoutException:
            raise SyscallError("ETIMEDOUT", f"the kernel at {self.url} did not answer in time") from None
        except self._httpx.TransportError as e:
            raise SyscallError("EUNAVAIL", f"cannot reach the kernel at {self.url}: {e}") from None
        return unwrap(response.status_code, response.content, self.url)

    def stream(self, name: str, request: dict[str, Any] | None, token: str | None) -> Iterator[Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = self.client.send(self.client.build_request("POST", API + name, json=request or {},
                                                                  headers=headers, timeout=self._stream_timeout),
                                        stream=True)
        except self._httpx.TimeoutException:
            raise SyscallError("ETIMEDOUT", f"the kernel at {self.url} did not answer in time") from None
        except self._httpx.TransportError as e:
            raise SyscallError("EUNAVAIL", f"cannot reach the kernel at {self.url}: {e}") from None
        if not is_stream(response.headers.get("content-type")):
            response.read()
            response.close()
            unwrap(response.status_code, response.content, self.url)
            raise SyscallError("EIO", f"{name} answered without a stream")
        return self._lines(response)

    def _lines(self, response) -> Iterator[Any]:
        try:
            if frames.MEDIA_TYPE in response.headers.get("content-type", ""):
                yield from frames.decode(frames.ChunkReader(response.iter_bytes()).read, self.url)
            else:
                yield from items(response.iter_lines(), self.url)
        except self._httpx.TimeoutException:
            raise frames.cut(self.url, f"nothing heard for {self.idle:g} s") from None
        except self._httpx.TransportError as e:
            raise frames.cut(self.url, str(e) or type(e).__name__) from None
        finally:
            response.close()

    def close(self) -> None:
        self.client.close()
