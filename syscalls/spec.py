"""What a syscall is: a name, a typed request and response, an access check, its errnos.

A syscall is declared once, as a stub function in `syscalls.table`:

    @syscall("user.get", predicate="read", object="/heimdall/users/{name}", errors=("ENOENT",))
    def user_get(name: str) -> User:
        "A user, their tags and API keys (never the tokens)."

The signature is the request schema (validated by `Syscall.decode`), the return annotation
the response type, the docstring's first line the summary. `object` is formatted with the
request's fields and `{caller}`; `predicate=None` means the handler authorizes each object
itself (lists filter what the caller may read; applies check every manifest).
"""
from __future__ import annotations

import inspect
import math
import reprlib
import types
import typing
from dataclasses import dataclass, field
from typing import Annotated, Any, Callable, Literal

from .errors import COMMON, SyscallError

_MISSING = inspect.Parameter.empty
MAX_TEXT = 2**20
"""Characters a string in a request may have (fields declared `large` may be as long as a request)."""
INT64 = (-2**63, 2**63 - 1)
"""The integers a request may carry anywhere: what every store and engine holds exactly."""
QUOTE = 80
"""Characters of a user's input an error message quotes at most."""


@dataclass(frozen=True, slots=True)
class Range:
    """Bounds of a number field, both inclusive: `Annotated[float, Range(0, 604800)]`."""
    low: float | None = None
    high: float | None = None

    def problem(self, value: float) -> str | None:
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            bounds = (f"between {self.low:g} and {self.high:g}" if self.low is not None and self.high is not None
                      else f"at least {self.low:g}" if self.low is not None else f"at most {self.high:g}")
            return f"must be {bounds}, got {quote(value)}"
        return None


def quote(value: Any, width: int = QUOTE) -> str:
    """`repr(value)`, cut to about `width` characters (and two levels of nesting): how an error
    message shows a user's input."""
    shown = reprlib.Repr()
    shown.maxlevel, shown.maxstring, shown.maxother = 2, width, width
    text = shown.repr(value)
    return text if len(text) <= width else text[:width - 1] + "…"


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    annotation: Any
    required: bool
    default: Any
    check: Callable[[Any], str | None] = field(repr=False)


@dataclass(frozen=True)
class Syscall:
    name: str
    summary: str
    fields: tuple[Field, ...]
    response: Any
    predicate: str | None
    object: str | None
    errors: tuple[str, ...]
    stream: bool = False
    binary: bool = False  # a stream with Arrow items: framed (`syscalls.frames`), not NDJSON
    large: tuple[str, ...] = ()  # fields whose text may exceed MAX_TEXT

    @property
    def namespace(self) -> str:
        return self.name.rpartition(".")[0]

    def decode(self, request: Any) -> dict[str, Any]:
        """Validate a JSON request against the signature: the keyword arguments, defaults filled."""
        if request is None:
            request = {}
        if not isinstance(request, dict):
            raise SyscallError("EINVAL", f"{self.name}: the request must be a JSON object, got {_kind(request)}")
        unknown = sorted(set(request) - {f.name for f in self.fields})
        if unknown:
            expected = ", ".join(f.name for f in self.fields) or "no fields"
            raise SyscallError("EINVAL", f"{self.name}: unknown field {quote(unknown[0])} (expected: {expected})",
                               field=unknown[0][:QUOTE])
        args: dict[str, Any] = {}
        for f in self.fields:
            if f.name not in request:
                if f.required:
                    raise SyscallError("EINVAL", f"{self.name}: missing required field {f.name!r}", field=f.name)
                args[f.name] = list(f.default) if isinstance(f.default, list) else f.default
                continue
            value = request[f.name]
            problem = f.check(value)
            if problem:
                raise SyscallError("EINVAL", f"{self.name}: field {f.name!r} {problem}", field=f.name)
            where, problem = _bad_value(value, f.name, None if f.name in self.large else MAX_TEXT)
            if problem:
                raise SyscallError("EINVAL", f"{self.name}: {where} {problem}", field=where)
            args[f.name] = value
        return args

    def object_for(self, args: dict[str, Any], caller: str) -> str:
        assert self.object is not None
        return self.object.format(caller=caller, **args)

    def describe(self) -> dict[str, Any]:
        """The table row as JSON: for `dataos syscall --list -o json` and the REST API."""
        return {
            "name": self.name,
            "summary": self.summary,
            "request": {f.name: {"type": _type_name(f.annotation), "required": f.required,
                                 **({} if f.required else {"default": f.default})} for f in self.fields},
            "response": _type_name(self.response),
            "predicate": self.predicate,
            "object": self.object,
            "errors": list(self.errors),
            "stream": self.stream,
            "binary": self.binary,
        }


def syscall(name: str, *, predicate: str | None = None, object: str | None = None,
            errors: tuple[str, ...] = (), stream: bool = False,
            binary: bool = False, large: tuple[str, ...] = ()) -> Callable[[Callable], Syscall]:
    """Declare a syscall from a stub function's signature (see the module docstring)."""
    if (predicate is None) != (object is None):
        raise TypeError(f"{name}: give both predicate and object, or neither")

    def declare(stub: Callable) -> Syscall:
        hints = typing.get_type_hints(stub, include_extras=True)
        fields = []
        for p in inspect.signature(stub).parameters.values():
            ann = hints[p.name]
            fields.append(Field(p.name, ann, p.default is _MISSING,
                                None if p.default is _MISSING else p.default, _checker(ann)))
        summary = (inspect.getdoc(stub) or "").strip().splitlines()[0]
        codes = tuple(dict.fromkeys((*errors, *COMMON)))
        return Syscall(name, summary, tuple(fields), hints.get("return"), predicate, object, codes, stream,
                       stream and binary, large)

    return declare


# --- request type checks, compiled once per field -------------------------------------------

def _bad_value(value: Any, path: str, limit: int | None) -> tuple[str, str | None]:
    """(where, what is wrong) for the first value in `value` (keys included) that a request may not
    carry: text that is not valid Unicode (a lone surrogate), has a NUL or more than `limit`
    characters; an integer past 64 bits; a number that is not finite."""
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item, limit)
            if problem:
                return where, problem
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int):
            if not INT64[0] <= item <= INT64[1]:
                return where, "is out of range (integers must fit in 64 bits)"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return where, f"must be a finite number, got {item}"
        elif isinstance(item, dict):
            for key, sub in item.items():
                problem = text_problem(key, MAX_TEXT) if isinstance(key, str) else None
                if problem:
                    return where, f"has a key that {problem}"
                stack.append((sub, f"{where}.{key}" if _plain_key(key) else f"{where}[{quote(key, 40)}]"))
        elif isinstance(item, list):
            stack.extend((sub, f"{where}[{i}]") for i, sub in enumerate(item))
    return path, None


def text_problem(text: str, limit: int | None = None) -> str | None:
    """What makes `text` unfit for a request (or an engine), if anything: over `limit` characters,
    a NUL, a lone surrogate."""
    if limit is not None and len(text) > limit:
        return f"is longer than {limit:,} characters"
    if "\0" in text:
        return "contains a NUL character"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "is not valid Unicode text (a lone surrogate)"
    return None


def _plain_key(key: Any) -> bool:
    return isinstance(key, str) and key.isidentifier()


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def _checker(ann: Any) -> Callable[[Any], str | None]:
    """A function that returns None when `value` fits `ann`, else what is wrong with it."""
    origin = typing.get_origin(ann)
    if origin is Annotated:
        base, *extras = typing.get_args(ann)
        checks = [_checker(base), *(e.problem for e in extras if isinstance(e, Range))]

        def annotated(v: Any) -> str | None:
            return next((p for p in (c(v) for c in checks) if p), None)
        return annotated
    if ann is Any:
        return lambda v: None
    if ann is bool:
        return lambda v: None if isinstance(v, bool) else f"must be a boolean, got {_kind(v)}"
    if ann is int:
        return lambda v: None if isinstance(v, int) and not isinstance(v, bool) else f"must be an integer, got {_kind(v)}"
    if ann is float:
        return lambda v: (None if isinstance(v, (int, float)) and not isinstance(v, bool)
                          else f"must be a number, got {_kind(v)}")
    if ann is str:
        return lambda v: None if isinstance(v, str) else f"must be a string, got {_kind(v)}"
    if ann is type(None):
        return lambda v: None if v is None else f"must be null, got {_kind(v)}"
    if origin is Literal:
        allowed = typing.get_args(ann)
        return lambda v: None if v in allowed else f"must be one of {', '.join(map(str, allowed))}, got {quote(v)}"
    if origin in (typing.Union, types.UnionType):
        checks = [_checker(a) for a in typing.get_args(ann)]

        def union(v: Any) -> str | None:
            problems = [c(v) for c in checks]
            return None if any(p is None for p in problems) else next(p for p in problems if p)
        return union
    if origin is list:
        (item,) = typing.get_args(ann) or (Any,)
        check_item = _checker(item)

        def listing(v: Any) -> str | None:
            if not isinstance(v, list):
                return f"must be a list, got {_kind(v)}"
            for i, x in enumerate(v):
                problem = check_item(x)
                if problem:
                    return f"item {i} {problem}"
            return None
        return listing
    if ann is dict or origin is dict or typing.is_typeddict(ann):
        return lambda v: None if isinstance(v, dict) else f"must be an object, got {_kind(v)}"
    raise TypeError(f"unsupported request field type {ann!r}")


def _type_name(ann: Any) -> str:
    if typing.get_origin(ann) is Annotated:
        return _type_name(typing.get_args(ann)[0])
    if typing.get_origin(ann) in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in typing.get_args(ann))
    if ann is None or ann is type(None):
        return "null"
    if typing.get_origin(ann) is Literal:
        return " | ".join(repr(a) for a in typing.get_args(ann))
    if isinstance(ann, type) and not typing.get_args(ann):
        return ann.__name__
    return str(ann).replace("typing.", "").replace("syscalls.types.", "")
