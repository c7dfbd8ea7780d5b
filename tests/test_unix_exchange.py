"""The Unix socket transport reads whole responses itself (no http.client, issue 15): bodies by
Content-Length or chunked, a connection the server closes, and a cut-short answer (EUNAVAIL)."""
from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from syscalls.errors import SyscallError
from syscalls.transports import UnixSocket

OK = b'{"ok": true, "result": {"n": 1}}'


def serve(path: Path, answers: list[bytes]) -> list[bytes]:
    """A server on `path` that answers each request (on any connection) with the next of
    `answers`, then closes that connection if the answer says `Connection: close`; the requests."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen()
    seen: list[bytes] = []

    def handle(conn: socket.socket) -> None:
        with conn, conn.makefile("rb") as reader:
            while answers:
                lines = []
                while (line := reader.readline()) not in (b"\r\n", b""):
                    lines.append(line)
                if not line:
                    return
                head = b"".join(lines)
                length = next((int(h.split(b":")[1]) for h in lines if h.lower().startswith(b"content-length:")), 0)
                seen.append(head + b"\r\n" + reader.read(length))
                answer = answers.pop(0)
                conn.sendall(answer)
                if b"Connection: close" in answer:
                    return

    def accept() -> None:
        with listener:
            while answers:
                conn, _ = listener.accept()
                threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return seen


def response(body: bytes, *headers: str) -> bytes:
    return ("HTTP/1.1 200 OK\r\n" + "".join(f"{h}\r\n" for h in headers) + "\r\n").encode() + body


def test_bodies_by_length_and_chunked_on_one_kept_alive_connection(tmp_path):
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (OK[:10], OK[10:])) + b"0\r\n\r\n"
    seen = serve(tmp_path / "s.sock", [response(OK, f"Content-Length: {len(OK)}"),
                                       response(chunked, "Transfer-Encoding: chunked")])
    transport = UnixSocket(tmp_path / "s.sock", timeout=5)
    assert transport.call("auth.whoami", {"x": 1}, "tok") == {"n": 1}
    assert transport.call("auth.whoami", None, None) == {"n": 1}
    assert seen[0].startswith(b"POST /api/v1/syscalls/auth.whoami HTTP/1.1\r\n")
    assert b"Authorization: Bearer tok\r\n" in seen[0] and seen[0].endswith(b'{"x": 1}')
    assert b"Authorization" not in seen[1]


def test_a_closed_connection_is_opened_again(tmp_path):
    serve(tmp_path / "s.sock", [response(OK, f"Content-Length: {len(OK)}", "Connection: close"),
                                response(OK, "Connection: close")])  # no length: the body ends at EOF
    transport = UnixSocket(tmp_path / "s.sock", timeout=5)
    assert transport.call("auth.whoami", {}, None) == {"n": 1}
    assert transport.call("auth.whoami", {}, None) == {"n": 1}


def test_a_cut_short_answer_is_eunavail(tmp_path):
    serve(tmp_path / "s.sock", [response(OK[:5], f"Content-Length: {len(OK)}", "Connection: close")])
    with pytest.raises(SyscallError) as e:
        UnixSocket(tmp_path / "s.sock", timeout=5).call("resource.apply", {}, None)
    assert e.value.code == "EUNAVAIL" and "cut short" in e.value.message
