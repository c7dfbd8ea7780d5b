"""The kernel's REST API: one route per syscall, the same envelope as every transport.

    POST /api/v1/syscalls/NAME   body: the request (JSON)   Authorization: Bearer TOKEN
                                 (the body is read only once the token is accepted)
    GET  /api/v1/syscalls        the table
    GET  /healthz                {ok, version, pid, started} — no credentials, no secrets
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from collections import deque
from typing import Any, AsyncIterator, Iterator

import anyio.from_thread
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from syscalls import __version__, frames
from syscalls.errors import SyscallError
from syscalls.table import TABLE

from . import streams
from .kernel import Kernel

MAX_BODY = 32 * 1024 * 1024  # a request larger than this is refused before it is parsed


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status,
                    headers={"X-Dataos-Version": __version__}, media_type="application/json")


def _error(e: SyscallError) -> Response:
    return _json({"ok": False, "error": e.to_dict()}, e.http_status)


def _token(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def _body(request: Request) -> bytes:
    """The request body, read through a size cap (whatever Content-Length says, if anything)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise SyscallError("EINVAL", f"the request is larger than {MAX_BODY // 2**20} MiB")
        chunks.append(chunk)
    return b"".join(chunks)


def _decode(body: bytes) -> object:
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except RecursionError:
        raise SyscallError("EINVAL", "the request body is nested too deeply") from None
    except ValueError as e:
        raise SyscallError("EINVAL", f"the request body is not valid JSON: {e}") from None


def _ndjson(item: Any) -> list[bytes]:
    return [json.dumps({"item": item}, separators=(",", ":")).encode(), b"\n"]


def _ndjson_error(error: dict[str, Any]) -> list[bytes]:
    return [json.dumps({"error": error}).encode(), b"\n"]


ENCODINGS = {False: ("application/x-ndjson", _ndjson, _ndjson_error),  # by Syscall.binary
             True: (frames.MEDIA_TYPE, frames.encode, frames.encode_error)}


def _encoded(items: Iterator[Any], encode, encode_error) -> Iterator[list[Any]]:
    """Each item's buffers; a failure part-way is a last error item, never a torn body."""
    try:
        for item in items:
            yield encode(item)
    except SyscallError as e:
        yield encode_error(e.to_dict())
    except Exception as e:  # a bug
        logging.getLogger("dataos.kernel").exception("stream failed")
        yield encode_error({"code": "EIO", "message": f"internal error ({type(e).__name__})"})


async def _stream(items: Iterator[Any], binary: bool, high_water: int = 4 * 2**20) -> AsyncIterator[bytes]:
    """Run the (blocking) stream in one thread and send whatever is ready as one chunk: a fast
    producer costs one wake-up and one send per batch, not a thread hop and a send per item.
    A slow reader makes the producer wait (at `high_water` bytes queued), so memory stays bounded."""
    _media, encode, encode_error = ENCODINGS[binary]
    loop = asyncio.get_running_loop()
    ready = asyncio.Event()
    queue: deque[list[Any] | None] = deque()
    queued = 0
    room = threading.Condition()
    stop = threading.Event()

    def push(buffers: list[Any] | None) -> None:
        nonlocal queued
        size = sum(len(b) if isinstance(b, bytes) else b.size for b in buffers) if buffers else 0
        with room:
            room.wait_for(lambda: queued < high_water or stop.is_set())
            was_empty = not queue
            queue.append(buffers)
            queued += size
        if was_empty:
            loop.call_soon_threadsafe(ready.set)

    def produce() -> None:
        streams.run_with(stop)
        try:
            for buffers in _encoded(items, encode, encode_error):
                if stop.is_set():
                    break
                push(buffers)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()
            push(None)

    producer = loop.run_in_executor(None, produce)
    try:
        while True:
            await ready.wait()
            with room:
                ready.clear()
                batch = list(queue)
                queue.clear()
            done = bool(batch) and batch[-1] is None
            chunk = b"".join(b for buffers in batch if buffers is not None for b in buffers)
            with room:
                queued -= len(chunk)
                room.notify_all()
            if chunk:
                yield chunk
            if done:
                return
    finally:
        stop.set()
        with room:
            room.notify_all()
        await asyncio.wait([producer], timeout=5)


def create_app(kernel: Kernel) -> Starlette:
    async def health(request: Request) -> Response:
        return _json({"ok": True, "version": __version__, "pid": os.getpid(), "started": kernel.started})

    async def table(request: Request) -> Response:
        return _json({"ok": True, "result": [s.describe() for s in TABLE.values()]})

    async def syscall(request: Request) -> Response:
        name = request.path_params["name"]

        def payload() -> object:  # read only once the kernel has accepted the token
            return _decode(anyio.from_thread.run(_body, request))

        try:
            result = await run_in_threadpool(kernel.call, _token(request), name, payload)
        except SyscallError as e:
            return _error(e)
        spec = TABLE.get(name)
        if spec is not None and spec.stream:
            return StreamingResponse(_stream(result, spec.binary), media_type=ENCODINGS[spec.binary][0],
                                     headers={"X-Dataos-Version": __version__})
        return _json({"ok": True, "result": result})

    return Starlette(routes=[
        Route("/healthz", health),
        Route("/api/v1/syscalls", table),
        Route("/api/v1/syscalls/{name}", syscall, methods=["POST"]),
    ])
