"""Binary streams: the wire form of a syscall whose items include Arrow data (`query.stream`).

A stream is a sequence of frames, each one kind byte, a big-endian uint32 length and a payload:

    J  a JSON item              S  an Arrow schema (IPC)
    B  an Arrow record batch    E  an error (JSON; the last frame)
    Z  the end (empty; the last frame of a stream that finished)
    K  keep-alive (empty; sent while the producer is quiet, skipped)

A batch frame is read against the last schema frame, so rows cross the wire as Arrow IPC
buffers, never as Python rows. Items come out as they went in: dicts, `pyarrow.Schema`,
`pyarrow.RecordBatch`. pyarrow is imported only when a schema arrives. A stream that stops
before its end or error frame was cut (`cut`).
"""
from __future__ import annotations

import json
import struct
from typing import Any, Callable, Iterator

from .errors import SyscallError

MEDIA_TYPE = "application/x-dataos-frames"
_HEAD = struct.Struct(">cI")
END = _HEAD.pack(b"Z", 0)
BEAT = _HEAD.pack(b"K", 0)


def cut(where: str, why: str) -> SyscallError:
    """The error of a stream (of either wire form) that stopped before its end marker."""
    return SyscallError("EUNAVAIL", f"the stream from {where} was cut before its end ({why})")


def encode(item: Any) -> list[Any]:
    """The buffers of one item's frame (a header and its payload, ready to join or send)."""
    kind = type(item).__name__
    if kind == "Schema":
        payload, code = item.serialize(), b"S"
    elif kind == "RecordBatch":
        payload, code = item.serialize(), b"B"
    else:
        payload, code = json.dumps(item, separators=(",", ":")).encode(), b"J"
    return [_HEAD.pack(code, len(payload)), payload]


def encode_error(error: dict[str, Any]) -> list[Any]:
    payload = json.dumps(error).encode()
    return [_HEAD.pack(b"E", len(payload)), payload]


def decode(read: Callable[[int], bytes], where: str) -> Iterator[Any]:
    """The items of a frame stream, from `read(n)` (which may return fewer bytes), until its end
    frame; an error frame raises, and so does a stream that stops before its end (`cut`)."""
    schema = None
    while True:
        head = _exactly(read, _HEAD.size)
        if len(head) < _HEAD.size:
            raise cut(where, "the connection closed")
        code, size = _HEAD.unpack(head)
        payload = _exactly(read, size)
        if len(payload) < size:
            raise cut(where, "the connection closed part-way through a frame")
        if code == b"Z":
            return
        if code == b"K":
            continue
        if code == b"J":
            yield json.loads(payload)
        elif code == b"E":
            raise SyscallError.from_dict(json.loads(payload))
        else:
            import pyarrow as pa
            if code == b"S":
                schema = pa.ipc.read_schema(pa.py_buffer(payload))
                yield schema
            elif schema is None:
                raise SyscallError("EIO", "a record batch arrived before its schema")
            else:
                yield pa.ipc.read_record_batch(pa.py_buffer(payload), schema)


def _exactly(read: Callable[[int], bytes], n: int) -> bytes:
    parts, got = [], 0
    while got < n:
        chunk = read(n - got)
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


class ChunkReader:
    """`read(n)` over an iterator of byte chunks (httpx's `iter_bytes`)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = memoryview(b"")

    def read(self, n: int) -> bytes:
        while not self._buffer:
            chunk = next(self._chunks, None)
            if chunk is None:
                return b""
            self._buffer = memoryview(chunk)
        out, self._buffer = self._buffer[:n], self._buffer[n:]
        return bytes(out)
