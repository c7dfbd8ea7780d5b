"""The REST contract as an OpenAPI 3.1 document, generated from a syscall table.

`document(table)` is a pure function of the table and the errno table: one `POST
/api/v1/syscalls/NAME` per syscall (its request as the JSON body, its response in the envelope,
one answer per HTTP status its errnos map to), plus the routes that need no credentials. The
kernel serves it at `GET /api/v1/openapi.json` for the syscalls it has handlers for.
"""
from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from . import __version__, frames
from .errors import ERRNO
from .spec import INT64, MAX_TEXT, Range, Syscall

API = "/api/v1"
JSON = "application/json"
NDJSON = "application/x-ndjson"
_REF = "#/components/schemas/"
_INT64 = {"minimum": INT64[0], "maximum": INT64[1]}
_KEY = {"maxLength": MAX_TEXT}


def document(table: dict[str, Syscall]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of a REST API serving `table`."""
    parts = _Components()
    paths = {f"{API}/syscalls/{name}": {"post": _operation(spec, parts)} for name, spec in sorted(table.items())}
    return {
        "openapi": "3.1.0",
        "info": {"title": "dataos kernel", "version": __version__,
                 "description": "Every way into the kernel is a syscall: `POST /api/v1/syscalls/NAME` with the "
                                "request as a JSON object. Answers are `{\"ok\": true, \"result\": …}` or `{\"ok\": "
                                "false, \"error\": {\"code\", \"message\", …}}`, the HTTP status the errno's."},
        "paths": {**_public_paths(), **paths},
        "components": {
            "schemas": {"Error": _error_schema(), **parts.schemas},
            "responses": parts.responses,
            "securitySchemes": {"bearer": {
                "type": "http", "scheme": "bearer",
                "description": "An API token (`dos_…`): `dataos user apikey create`, or the operator's token "
                               "the kernel hands over on first start."}},
            "headers": {"Version": {"description": "The kernel's version.", "schema": {"type": "string"}},
                        "Request": {"description": "The call's id: the caller's X-Request-Id when it is a plain "
                                                   "token of at most 64 characters, else a new one. The kernel's "
                                                   "log records of the call carry it.",
                                    "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,64}$"}}},
        },
        "security": [{"bearer": []}],
    }


# --- operations ------------------------------------------------------------------------------

def _operation(spec: Syscall, parts: _Components) -> dict[str, Any]:
    access = (f"Access: `{spec.predicate}` on `{spec.object}`." if spec.predicate
              else "Access: the kernel checks each object it reads or changes.")
    required = [f.name for f in spec.fields if f.required]
    request = {
        "type": "object" if required else ["object", "null"],  # null: no fields given, as no body is
        "additionalProperties": False,
        "properties": {f.name: {**parts.of(f.annotation, request=True, large=f.name in spec.large),
                                **({} if f.required else {"default": f.default})} for f in spec.fields},
    }
    if required:
        request["required"] = required
    return {
        "operationId": spec.name,
        "summary": spec.summary,
        "description": f"{access} Errors: {', '.join(spec.errors)}.",
        "tags": [spec.namespace or spec.name],
        "requestBody": {"required": bool(required), "content": {JSON: {"schema": request}}},
        "responses": {"200": _answer(spec, parts), **parts.failures(spec.errors)},
    }


def _answer(spec: Syscall, parts: _Components) -> dict[str, Any]:
    if not spec.stream:
        return _response(f"The result: {spec.summary}", JSON, _envelope(parts.of(spec.response)), call=True)
    if spec.binary:
        return _response(inspect.cleandoc(frames.__doc__ or ""), frames.MEDIA_TYPE, None, call=True)
    (item,) = typing.get_args(spec.response) or (Any,)
    line = {"type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": False,
            "properties": {"item": parts.of(item), "error": {"$ref": _REF + "Error"}, "end": {"const": True}}}
    return _response("A stream, one JSON object a line: `{\"item\": …}` per item, then `{\"end\": true}`; a "
                     "failure part-way is a last `{\"error\": …}` line instead. A stream that stops before "
                     "either was cut. Blank lines are keep-alives. The schema is a line's.", NDJSON, line, call=True)


def _failure(codes: list[str]) -> dict[str, Any]:
    error = {"allOf": [{"$ref": _REF + "Error"}, {"properties": {"code": {"enum": codes}}}]}
    return {"type": "object", "required": ["ok", "error"], "additionalProperties": False,
            "properties": {"ok": {"const": False}, "error": error}}


def _envelope(result: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": ["ok", "result"], "additionalProperties": False,
            "properties": {"ok": {"const": True}, "result": result}}


def _response(description: str, media: str, schema: dict[str, Any] | None, call: bool = False) -> dict[str, Any]:
    """A response; a syscall's (`call`) also names its request."""
    headers = {"X-Dataos-Version": {"$ref": "#/components/headers/Version"}}
    if call:
        headers["X-Request-Id"] = {"$ref": "#/components/headers/Request"}
    return {"description": description, "headers": headers,
            "content": {media: {} if schema is None else {"schema": schema}}}


def _error_schema() -> dict[str, Any]:
    rows = "\n".join(f"| {code} | {meaning} | {exit} | {status} |" for code, (meaning, exit, status) in ERRNO.items())
    return {"type": "object", "required": ["code", "message"],
            "properties": {"code": {"enum": list(ERRNO)}, "message": {"type": "string"},
                           "field": {"type": "string", "description": "The request field at fault."}},
            "description": "A failed call: an errno, one line, and details such as the field at fault.\n\n"
                           "| code | meaning | CLI exit | HTTP status |\n| --- | --- | --- | --- |\n" + rows}


def _public_paths() -> dict[str, Any]:
    """The routes that need no credentials."""
    def get(name: str, summary: str, result: dict[str, Any]) -> dict[str, Any]:
        return {"get": {"operationId": name, "summary": summary, "tags": ["kernel"], "security": [],
                        "responses": {"200": _response(summary, JSON, result)}}}

    health = {"type": "object", "required": ["ok", "version", "pid", "started"],
              "properties": {"ok": {"const": True}, "version": {"type": "string"}, "pid": {"type": "integer"},
                             "started": {"type": "string"}}}
    row = {"type": "object", "required": ["name", "summary", "request", "response", "errors", "stream"],
           "properties": {"name": {"type": "string"}, "summary": {"type": "string"},
                          "request": {"type": "object", "additionalProperties": {
                              "type": "object", "required": ["type", "required"],
                              "properties": {"type": {"type": "string"}, "required": {"type": "boolean"},
                                             "default": {}}}},
                          "response": {"type": "string"}, "predicate": {"type": ["string", "null"]},
                          "object": {"type": ["string", "null"]},
                          "errors": {"type": "array", "items": {"enum": list(ERRNO)}},
                          "stream": {"type": "boolean"}, "binary": {"type": "boolean"}}}
    ready = {"type": "object", "required": ["ok", "problems"],
             "properties": {"ok": {"type": "boolean"}, "problems": {"type": "array", "items": {"type": "string"}}}}
    readyz = get("ready", "The kernel can answer calls (its database reachable, room for audit records).", ready)
    readyz["get"]["responses"]["503"] = _response("It cannot, and why (errno: message).", JSON, ready)
    metrics = get("metrics", "Prometheus text format: syscalls, latencies, pods, the reconciler (no user, "
                  "resource or query named).", {})
    metrics["get"]["responses"]["200"] = _response(metrics["get"]["summary"], "text/plain", {"type": "string"})
    return {
        "/healthz": get("health", "The kernel is up (no credentials, no secrets).", health),
        "/readyz": readyz,
        "/metrics": metrics,
        f"{API}/syscalls": get("syscalls", "The syscall table.", _envelope({"type": "array", "items": row})),
        f"{API}/openapi.json": get("openapi", "This document.", {"type": "object", "required": ["openapi", "paths"]}),
    }


# --- Python annotations → JSON Schema ----------------------------------------------------------

class _Components:
    """Shared parts: response TypedDicts as schemas, failures by errno set as responses."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}
        self.responses: dict[str, Any] = {}
        self._named: dict[str, type] = {}

    def failures(self, codes: tuple[str, ...]) -> dict[str, Any]:
        """One response per HTTP status the errnos map to, its envelope naming only those codes."""
        by_status: dict[int, list[str]] = {}
        for code in codes:
            by_status.setdefault(ERRNO[code][2], []).append(code)
        refs = {}
        for status, found in sorted(by_status.items()):
            name = "_".join(found)
            self.responses.setdefault(name, _response("; ".join(f"{c}: {ERRNO[c][0]}" for c in found), JSON,
                                                      _failure(found), call=True))
            refs[str(status)] = {"$ref": "#/components/responses/" + name}
        return refs

    def of(self, ann: Any, *, request: bool = False, large: bool = False) -> dict[str, Any]:
        """The schema of `ann`. In a `request`, as `Syscall.decode` checks: numbers fit in 64 bits,
        strings (unless `large`) and keys have at most MAX_TEXT characters, objects are any object."""
        origin, args = typing.get_origin(ann), typing.get_args(ann)
        deeper = {"request": request, "large": large}
        if origin is Annotated:
            schema = self.of(args[0], **deeper)
            for extra in args[1:]:
                if isinstance(extra, Range):
                    schema |= {k: v for k, v in (("minimum", extra.low), ("maximum", extra.high)) if v is not None}
            return schema
        if ann is Any:
            return {"$ref": _REF + self._value(large)} if request else {}
        if ann is None or ann is type(None):
            return {"type": "null"}
        if ann is bool:
            return {"type": "boolean"}
        if ann in (int, float):
            return {"type": "integer" if ann is int else "number", **(_INT64 if request else {})}
        if ann is str:
            return {"type": "string", **({"maxLength": MAX_TEXT} if request and not large else {})}
        if origin is Literal:
            return {"enum": list(args)}
        if origin in (typing.Union, types.UnionType):
            return _union([self.of(a, **deeper) for a in args])
        if ann is list or origin is list:
            return {"type": "array", "items": self.of(args[0] if args else Any, **deeper)}
        if request and (ann is dict or origin is dict or typing.is_typeddict(ann)):
            return {"type": "object", "propertyNames": _KEY, "additionalProperties": self.of(
                args[1] if args else Any, **deeper)}
        if ann is dict or origin is dict:
            values = self.of(args[1]) if args else {}
            return {"type": "object", **({"additionalProperties": values} if values else {})}
        if typing.is_typeddict(ann):
            return {"$ref": _REF + self._component(ann)}
        if origin is Iterator:
            return self.of(args[0] if args else Any, **deeper)
        raise TypeError(f"no JSON Schema for {ann!r}")

    def _value(self, large: bool) -> str:
        """The component for any JSON value in a request (free-form objects, `Any`)."""
        name = "LargeValue" if large else "Value"
        self.schemas[name] = {
            "description": "Any JSON value a request may carry: numbers within 64-bit integers, strings "
                           + ("" if large else f"of at most {MAX_TEXT:,} characters, ") + "keys of at most "
                           f"{MAX_TEXT:,} characters; no NUL or lone surrogate in any text.",
            **_INT64, **({} if large else {"maxLength": MAX_TEXT}), "propertyNames": _KEY,
            "items": {"$ref": _REF + name}, "additionalProperties": {"$ref": _REF + name}}
        return name

    def _component(self, td: type) -> str:
        name = td.__name__ if self._named.get(td.__name__, td) is td else f"{td.__module__}.{td.__qualname__}"
        if name not in self._named:
            self._named[name] = td
            hints = typing.get_type_hints(td)
            schema: dict[str, Any] = {"type": "object"}
            self.schemas[name] = schema  # before the fields: a TypedDict may refer to itself
            schema["properties"] = {k: self.of(v) for k, v in hints.items()}
            if td.__required_keys__:
                schema["required"] = sorted(td.__required_keys__)
            if td.__doc__:
                schema["description"] = td.__doc__
        return name


def _union(members: list[dict[str, Any]]) -> dict[str, Any]:
    """`X | None` as one schema with a type list (or an enum with null) when X allows; else anyOf."""
    if len(members) == 2 and {"type": "null"} in members:
        other = members[0] if members[1] == {"type": "null"} else members[1]
        if isinstance(other.get("type"), str) and "enum" not in other:
            return {**other, "type": [other["type"], "null"]}
        if set(other) == {"enum"}:
            return {"enum": [*other["enum"], None]}
    return {"anyOf": members}
