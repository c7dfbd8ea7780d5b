"""The kernel's REST API: one route per syscall, the same envelope as every transport.

    POST /api/v1/syscalls/NAME   body: the request (JSON)   Authorization: Bearer TOKEN
                                 (the body is read only once the token is accepted); the
                                 answer's X-Request-Id is the caller's (a plain token) or a new
                                 one, and the kernel's log records of the call carry it
    GET  /api/v1/syscalls        the table
    GET  /api/v1/openapi.json    the same as an OpenAPI 3.1 document (`syscalls.openapi`)
    GET  /healthz                {ok, version, pid, started} — no credentials, no secrets (alive)
    GET  /readyz                 {ok, problems}: 503 while the kernel cannot answer calls (its
                                 database unreachable, no room for audit records)
    GET  /metrics                Prometheus text format (`kernel.metrics`): counts and latencies,
                                 no user, resource or query named
Any other path or method answers the error envelope too (ENOENT, ENOSYS), never a page.
"""
from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import threading
from collections import deque
from typing import Any, AsyncIterator, Callable, Iterator, NamedTuple

import anyio.from_thread
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from syscalls import __version__, frames, openapi
from syscalls.errors import ERRNO, SyscallError
from syscalls.spec import quote
from syscalls.table import TABLE

from . import streams
from .kernel import Kernel
from .logs import HEADER, REQUEST, request_id

MAX_BODY = 32 * 1024 * 1024  # a request larger than this is refused before it is parsed
MAX_VALUES = 500_000  # …and one with more objects, lists and items (10 M of `{}` would take 880 MB)


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
    values = body.count(b"{") + body.count(b"[") + body.count(b",")  # at least the values it parses to
    if values > MAX_VALUES:
        raise SyscallError("EINVAL", f"the request has more than {MAX_VALUES:,} values (a JSON parse of it "
                           "would take far more memory than its size); send it in parts")
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


class Encoding(NamedTuple):
    """A stream's wire form: each item, a last error, the end (only once the producer finished),
    and the keep-alive sent while it is quiet (clients take silence for a dead connection)."""
    media: str
    item: Callable[[Any], list[Any]]
    error: Callable[[dict[str, Any]], list[Any]]
    end: bytes
    beat: bytes


ENCODINGS = {False: Encoding("application/x-ndjson", _ndjson, _ndjson_error, b'{"end":true}\n', b"\n"),
             True: Encoding(frames.MEDIA_TYPE, frames.encode, frames.encode_error, frames.END, frames.BEAT)}
BEAT = 10.0  # a quiet stream sends a keep-alive every 10-20 s (well within the clients' transports.STREAM_IDLE)


def _encoded(items: Iterator[Any], encoding: Encoding) -> Iterator[list[Any]]:
    """Each item's buffers, then the end; a failure part-way is a last error item instead, never
    a torn body nor an end the producer did not reach."""
    try:
        for item in items:
            yield encoding.item(item)
    except SyscallError as e:
        yield encoding.error(e.to_dict())
        return
    except Exception as e:  # a bug
        logging.getLogger("dataos.kernel").exception("stream failed")
        yield encoding.error({"code": "EIO", "message": f"internal error ({type(e).__name__})"})
        return
    yield [encoding.end]


async def _stream(items: Iterator[Any], binary: bool, high_water: int = 4 * 2**20,
                  beat: float = BEAT) -> AsyncIterator[bytes]:
    """Run the (blocking) stream in one thread and send whatever is ready as one chunk: a fast
    producer costs one wake-up and one send per batch, not a thread hop and a send per item.
    A slow reader makes the producer wait (at `high_water` bytes queued), so memory stays bounded;
    a quiet producer's stream gets a keep-alive after `beat` to 2 × `beat` seconds of silence."""
    encoding = ENCODINGS[binary]
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
            for buffers in _encoded(items, encoding):
                if stop.is_set():
                    break
                push(buffers)
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()
            push(None)

    def tick() -> None:  # wake the loop below: it sends a keep-alive if nothing went for `beat` seconds
        nonlocal timer
        ready.set()
        timer = loop.call_later(beat, tick)

    producer = loop.run_in_executor(None, produce)
    sent = loop.time()
    timer = loop.call_later(beat, tick)
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
            if chunk or loop.time() - sent >= beat:
                yield chunk or encoding.beat
                sent = loop.time()
            if done:
                return
    finally:
        timer.cancel()
        stop.set()
        with room:
            room.notify_all()
        await asyncio.wait([producer], timeout=5)


def create_app(kernel: Kernel) -> Starlette:
    async def health(request: Request) -> Response:
        return _json({"ok": True, "version": __version__, "pid": os.getpid(), "started": kernel.started})

    async def ready(request: Request) -> Response:
        problems = await run_in_threadpool(kernel.problems)
        return _json({"ok": not problems, "problems": problems}, 503 if problems else 200)

    async def metrics(request: Request) -> Response:
        from .metrics import CONTENT_TYPE, exposition
        return Response(await run_in_threadpool(exposition, kernel), media_type=CONTENT_TYPE,
                        headers={"X-Dataos-Version": __version__})

    served = {name: spec for name, spec in TABLE.items() if name in kernel.handlers}

    @functools.cache
    def contract() -> dict[str, Any]:  # made on first request
        return openapi.document(served)

    async def table(request: Request) -> Response:
        return _json({"ok": True, "result": [s.describe() for s in served.values()]})

    async def describe(request: Request) -> Response:
        return _json(contract())

    async def syscall(request: Request) -> Response:
        name = request.path_params["name"]
        rid = request_id(request.headers.get(HEADER))

        def payload() -> object:  # read only once the kernel has accepted the token
            return _decode(anyio.from_thread.run(_body, request))

        def call() -> Any:  # on a worker thread: its records carry the request's id
            token = REQUEST.set(rid)
            try:
                return kernel.call(_token(request), name, payload)
            finally:
                REQUEST.reset(token)

        try:
            result = await run_in_threadpool(call)
        except SyscallError as e:
            response = _error(e)
        else:
            spec = TABLE.get(name)
            if spec is not None and spec.stream:
                return StreamingResponse(_stream(_within(rid, result), spec.binary),
                                         media_type=ENCODINGS[spec.binary][0],
                                         headers={"X-Dataos-Version": __version__, HEADER: rid})
            response = _json({"ok": True, "result": result})
        response.headers[HEADER] = rid
        return response

    app = Starlette(routes=[
        Route("/healthz", health),
        Route("/readyz", ready),
        Route("/metrics", metrics),
        Route("/api/v1/syscalls", table),
        Route("/api/v1/openapi.json", describe),
        Route("/api/v1/syscalls/{name}", syscall, methods=["POST"]),
    ], exception_handlers={HTTPException: _refused, Exception: _failed})
    app.router.redirect_slashes = False  # `/healthz/` is a wrong path, not a redirect to a page
    return app


def _within(rid: str, items: Iterator[Any]) -> Iterator[Any]:
    """A stream's items, each made with the request's id in the records written meanwhile."""
    while True:
        token = REQUEST.set(rid)
        try:
            item = next(items)
        except StopIteration:
            return
        finally:
            REQUEST.reset(token)
        yield item


def _refused(request: Request, exc: Exception) -> Response:
    """What no route takes (an unknown path, a method a route does not answer): the envelope,
    at the status Starlette chose (405 with its Allow header)."""
    assert isinstance(exc, HTTPException)
    where = f"{request.method} {quote(_path(request))}"
    if exc.status_code == 404:
        e = SyscallError("ENOENT", f"no such path: {where} (syscalls are POST /api/v1/syscalls/NAME; "
                                   "see /api/v1/openapi.json)")
    elif exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "none")
        e = SyscallError("ENOSYS", f"{where}: method not allowed (allowed: {allowed})")
    else:
        code = next((c for c, (_, _, status) in ERRNO.items() if status == exc.status_code),
                    "EINVAL" if exc.status_code < 500 else "EIO")
        e = SyscallError(code, f"{where}: {exc.detail}")
    response = _json({"ok": False, "error": e.to_dict()}, exc.status_code)
    response.headers.update(exc.headers or {})
    return response


def _failed(request: Request, exc: Exception) -> Response:
    """A bug outside `Kernel.call` (which answers its own): EIO in the envelope, not a text page
    (Starlette raises it again after, so the server logs its traceback)."""
    return _error(SyscallError("EIO", f"internal error ({type(exc).__name__}); see `dataos kernel logs`"))


def _path(request: Request) -> str:
    """The path as sent (percent-escapes kept): printable ASCII, whatever bytes it decoded to."""
    return request.scope.get("raw_path", b"").decode("ascii", "backslashreplace") or request.url.path
