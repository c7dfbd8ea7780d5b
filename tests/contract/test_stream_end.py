"""Every streaming answer ends with an explicit end marker, and only a producer that finished
sends it: a body that stops before it (the daemon killed, the connection reset, an old server)
is EUNAVAIL naming where the stream came from, never a short answer taken for a whole one."""
from __future__ import annotations

import asyncio
import io
import json
import socket
import threading
import time
from pathlib import Path

import pytest

from kernel.api import ENCODINGS, _stream
from syscalls import frames
from syscalls.errors import SyscallError
from syscalls.transports import Http, UnixSocket, items

END = {False: b'{"end":true}\n', True: b"Z\0\0\0\0"}  # the wire form: a last line, a last frame


def cut(fn) -> SyscallError:
    with pytest.raises(SyscallError) as caught:
        fn()
    assert caught.value.code == "EUNAVAIL", caught.value.message
    assert "cut before its end" in caught.value.message
    return caught.value


def lines(*entries: dict) -> list[bytes]:
    return [json.dumps(e).encode() + b"\n" for e in entries]


def test_an_ndjson_stream_is_whole_only_with_its_end_line():
    assert list(items(iter(lines({"item": 1}, {"item": 2}) + [END[False]]), "here")) == [1, 2]
    for body in (lines({"item": 1}), [], [b'{"item": 1}\n', b'{"it'], [b"[1]\n"]):
        assert "unix:///k.sock" in cut(lambda: list(items(iter(body), "unix:///k.sock"))).message
    with pytest.raises(SyscallError) as caught:  # an error line stays the last word, as before
        list(items(iter(lines({"item": 1}, {"error": {"code": "ENOENT", "message": "gone"}})), "here"))
    assert caught.value.code == "ENOENT"


def test_a_frame_stream_is_whole_only_with_its_end_frame():
    body = b"".join(frames.encode({"a": 1}))
    assert list(frames.decode(io.BytesIO(body + END[True]).read, "here")) == [{"a": 1}]
    for truncated in (body, body[:-2], body[:3], b""):
        assert "https://k" in cut(lambda: list(frames.decode(io.BytesIO(truncated).read, "https://k"))).message


def run(gen) -> bytes:
    async def collect() -> bytes:
        return b"".join([chunk async for chunk in gen])
    return asyncio.run(collect())


def read_back(body: bytes, binary: bool) -> list:
    if binary:
        return list(frames.decode(io.BytesIO(body).read, "here"))
    return list(items(iter(body.splitlines(keepends=True)), "here"))


@pytest.mark.parametrize("binary", [False, True])
def test_the_server_ends_a_finished_stream_with_the_marker_and_a_failed_one_with_its_error(binary):
    body = run(_stream(iter([{"n": 1}, {"n": 2}]), binary))
    assert body.endswith(END[binary]) and read_back(body, binary) == [{"n": 1}, {"n": 2}]

    def failing():
        yield {"n": 1}
        raise SyscallError("ENOENT", "gone")
    body = run(_stream(failing(), binary))
    assert END[binary] not in body
    with pytest.raises(SyscallError) as caught:
        read_back(body, binary)
    assert caught.value.code == "ENOENT"


@pytest.mark.parametrize("binary", [False, True])
def test_a_quiet_producer_keeps_its_stream_alive_and_readers_skip_the_keep_alives(binary):
    def quiet():
        time.sleep(0.35)
        yield {"n": 1}
    body = run(_stream(quiet(), binary, beat=0.1))
    beats = ENCODINGS[binary].beat
    assert body.startswith(beats * 2)
    assert read_back(body, binary) == [{"n": 1}]


# --- the transports, against a server that cuts the connection ------------------------------------

def answer(items_: list, binary: bool, end: bool, whole_body: bool) -> bytes:
    """An HTTP response streaming `items_` (chunked), with or without the end marker, and with or
    without HTTP's own last chunk (a connection closed mid-body)."""
    media = frames.MEDIA_TYPE if binary else "application/x-ndjson"
    parts = [b"".join(frames.encode(i)) if binary else lines({"item": i})[0] for i in items_]
    if end:
        parts.append(END[binary])
    body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + (b"0\r\n\r\n" if whole_body else b"")
    return (f"HTTP/1.1 200 OK\r\nContent-Type: {media}\r\nTransfer-Encoding: chunked\r\n\r\n").encode() + body


def serve_once(listener: socket.socket, response: bytes, hold: threading.Event | None = None) -> threading.Thread:
    """Answer one request with `response`, then close (once `hold` is set, if given)."""
    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length")))
            while len(body) < length:
                body += conn.recv(65536)
            conn.sendall(response)
            if hold is not None:
                hold.wait(10)
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


@pytest.fixture(params=["unix", "http"])
def transport(request, tmp_path: Path):
    """(a transport, its listening socket): the daemon's Unix socket client or the HTTP(S) one."""
    if request.param == "unix":
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(tmp_path / "k.sock"))
        client = UnixSocket(tmp_path / "k.sock", timeout=10, idle=0.5)
    else:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        client = Http(f"http://127.0.0.1:{listener.getsockname()[1]}", timeout=10, idle=0.5)
    listener.listen(1)
    with listener:
        yield client, listener
        client.close()


@pytest.mark.parametrize("binary", [False, True])
@pytest.mark.parametrize("whole_body", [False, True], ids=["connection-closed", "body-without-marker"])
def test_a_stream_cut_before_its_end_is_eunavail_on_every_transport(transport, binary, whole_body):
    client, listener = transport
    thread = serve_once(listener, answer([{"n": 1}, {"n": 2}], binary, end=False, whole_body=whole_body))
    got = []
    error = cut(lambda: got.extend(client.stream("pod.watch", {}, None)))
    thread.join(5)
    assert got == [{"n": 1}, {"n": 2}]  # what came is shown; then the failure, not a quiet end
    assert client.url in error.message


@pytest.mark.parametrize("binary", [False, True])
def test_a_stream_with_its_end_marker_is_whole_on_every_transport(transport, binary):
    client, listener = transport
    thread = serve_once(listener, answer([{"n": 1}], binary, end=True, whole_body=True))
    assert list(client.stream("pod.watch", {}, None)) == [{"n": 1}]
    thread.join(5)


def test_a_silent_connection_is_cut_not_waited_on_forever(transport):
    """No item, end or keep-alive for longer than the client's idle limit: the network or the
    kernel is gone (a half-open connection never closes by itself)."""
    client, listener = transport
    hold = threading.Event()
    thread = serve_once(listener, answer([{"n": 1}], False, end=False, whole_body=False), hold)
    got, started = [], time.monotonic()
    error = cut(lambda: got.extend(client.stream("pod.logs", {"name": "p", "follow": True}, None)))
    hold.set()
    thread.join(5)
    assert got == [{"n": 1}] and "nothing heard for 0.5 s" in error.message
    assert time.monotonic() - started < 3


# --- consumers that hand a stream to someone else -------------------------------------------------

def test_the_sql_stack_reports_a_cut_input_as_eunavail_not_as_its_engines_error():
    import pyarrow as pa

    from dataos_shell.stacks import sql

    schema = pa.schema([("id", pa.int64())])

    class Client:
        class query:
            @staticmethod
            def stream(sql):
                yield {"governance": {"policies": []}}
                yield schema
                yield pa.record_batch([pa.array([1, 2])], schema=schema)
                raise frames.cut("unix:///k.sock", "the connection closed")

    with pytest.raises(SyscallError) as caught:
        sql._load(Client(), sql._engine(), {"name": "orders", "dataset": "dataos://lake:s/orders"})
    assert caught.value.code == "EUNAVAIL" and "cut before its end" in caught.value.message


def test_a_stream_that_fails_part_way_is_an_errno_in_process_too(tmp_path):
    """A bug part-way through a stream is EIO (and a full disk ENOSPC) for an embedded client as
    for a REST one, never a raw exception."""
    import syscalls
    with syscalls.connect(f"embedded://{tmp_path / 'state'}") as client:
        kernel = client.transport.kernel

        def broken(call, **_):
            call.allowed("read", "/poros/types")
            yield {"name": "first"}
            raise KeyError("bug")

        kernel.handlers["pod.watch"] = broken
        stream = client.call("pod.watch")
        assert next(stream) == {"name": "first"}
        with pytest.raises(SyscallError) as caught:
            next(stream)
        assert caught.value.code == "EIO" and "KeyError" in caught.value.message
