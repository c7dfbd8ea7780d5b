"""The kernel's REST API: one route per syscall, the same envelope as every transport.

    POST /api/v1/syscalls/NAME   body: the request (JSON)   Authorization: Bearer TOKEN
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

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from syscalls import __version__
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


def _ndjson_lines(items: Iterator[Any]) -> Iterator[bytes]:
    """A stream as NDJSON: `{"item": …}` per item; a failure part-way is a last `{"error": …}` line."""
    try:
        for item in items:
            yield json.dumps({"item": item}, separators=(",", ":")).encode() + b"\n"
    except SyscallError as e:
        yield json.dumps({"error": e.to_dict()}).encode() + b"\n"
    except Exception as e:  # a bug: end the stream with an error line, never a torn body
        logging.getLogger("dataos.kernel").exception("stream failed")
        yield json.dumps({"error": {"code": "EIO", "message": f"internal error ({type(e).__name__})"}}).encode() + b"\n"


async def _ndjson(items: Iterator[Any], high_water: int = 10_000) -> AsyncIterator[bytes]:
    """Run the (blocking) stream in one thread and send whatever is ready as one chunk: a fast
    producer costs one wake-up and one send per batch, not a thread hop and a send per line.
    A slow reader makes the producer wait (at `high_water` lines), so memory stays bounded."""
    loop = asyncio.get_running_loop()
    ready = asyncio.Event()
    lines: deque[bytes | None] = deque()
    room = threading.Condition()
    stop = threading.Event()

    def push(line: bytes | None) -> None:
        with room:
            room.wait_for(lambda: len(lines) < high_water or stop.is_set())
            was_empty = not lines
            lines.append(line)
        if was_empty:
            loop.call_soon_threadsafe(ready.set)

    def produce() -> None:
        streams.run_with(stop)
        try:
            for line in _ndjson_lines(items):
                if stop.is_set():
                    break
                push(line)
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
                batch = list(lines)
                lines.clear()
                room.notify_all()
            done = bool(batch) and batch[-1] is None
            chunk = b"".join(line for line in batch if line is not None)
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
        try:
            payload = _decode(await _body(request))
        except SyscallError as e:
            return _error(e)
        name = request.path_params["name"]
        try:
            result = await run_in_threadpool(kernel.call, _token(request), name, payload)
        except SyscallError as e:
            return _error(e)
        if name in TABLE and TABLE[name].stream:
            return StreamingResponse(_ndjson(result), media_type="application/x-ndjson",
                                     headers={"X-Dataos-Version": __version__})
        return _json({"ok": True, "result": result})

    return Starlette(routes=[
        Route("/healthz", health),
        Route("/api/v1/syscalls", table),
        Route("/api/v1/syscalls/{name}", syscall, methods=["POST"]),
    ])
