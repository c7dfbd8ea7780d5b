"""A small schema language for manifest sections: errors name the field path and the fix, and
`describe()` tells what a field takes (for `dataos explain`)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from syscalls.errors import SyscallError


def fail(path: str, message: str) -> SyscallError:
    return SyscallError("EINVAL", f"{path}: {message}", field=path)


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number", type(None): "nothing (null)"}.get(type(value), type(value).__name__)


class Schema:
    def check(self, value: Any, path: str) -> None:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """What this field takes, as JSON: its type and constraints (and nested fields)."""
        return {"type": "any"}


@dataclass(frozen=True)
class Str(Schema):
    pattern: str | None = None
    enum: tuple[str, ...] = ()
    hint: str = ""
    validate: Callable[[str, str], None] | None = None

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, str):
            raise fail(path, f"expected a string, got {_kind(value)}")
        if self.enum and value not in self.enum:
            raise fail(path, f"{value!r} is not one of: {', '.join(self.enum)}")
        if self.pattern and not re.fullmatch(self.pattern, value):
            raise fail(path, f"{value!r} is not valid{': ' + self.hint if self.hint else ''}")
        if self.validate:
            self.validate(value, path)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "string"}
        if self.enum:
            out["enum"] = list(self.enum)
        if self.hint or self.pattern:
            out["format"] = self.hint or self.pattern
        return out


@dataclass(frozen=True)
class Int(Schema):
    min: int | None = None
    max: int | None = None

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, int) or isinstance(value, bool):
            raise fail(path, f"expected an integer, got {_kind(value)}")
        if self.min is not None and value < self.min:
            raise fail(path, f"must be at least {self.min}, got {value}")
        if self.max is not None and value > self.max:
            raise fail(path, f"must be at most {self.max}, got {value}")

    def describe(self) -> dict[str, Any]:
        return {"type": "integer", **{k: v for k, v in (("min", self.min), ("max", self.max)) if v is not None}}


@dataclass(frozen=True)
class Bool(Schema):
    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, bool):
            raise fail(path, f"expected true or false, got {_kind(value)}")

    def describe(self) -> dict[str, Any]:
        return {"type": "boolean"}


@dataclass(frozen=True)
class Scalar(Schema):
    """Any string, number or boolean (environment values, filter values)."""

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, (str, int, float, bool)):
            raise fail(path, f"expected a string, number or boolean, got {_kind(value)}")

    def describe(self) -> dict[str, Any]:
        return {"type": "scalar"}


@dataclass(frozen=True)
class Anything(Schema):
    """Free-form mapping content (checked by the stack or driver that reads it)."""
    mapping: bool = True

    def check(self, value: Any, path: str) -> None:
        if self.mapping and not isinstance(value, dict):
            raise fail(path, f"expected a mapping, got {_kind(value)}")

    def describe(self) -> dict[str, Any]:
        return {"type": "object" if self.mapping else "any", "freeForm": True}


@dataclass(frozen=True)
class List(Schema):
    item: Schema
    min: int = 0
    unique_by: str | None = None

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, list):
            raise fail(path, f"expected a list, got {_kind(value)}")
        if len(value) < self.min:
            raise fail(path, f"needs at least {self.min} item{'s' if self.min > 1 else ''}")
        seen: set[Any] = set()
        for i, item in enumerate(value):
            self.item.check(item, f"{path}[{i}]")
            if self.unique_by and isinstance(item, dict):
                key = item.get(self.unique_by)
                if key in seen:
                    raise fail(f"{path}[{i}].{self.unique_by}", f"duplicate {self.unique_by} {key!r}")
                seen.add(key)

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "list", "items": self.item.describe()}
        if self.min:
            out["min"] = self.min
        if self.unique_by:
            out["uniqueBy"] = self.unique_by
        return out


@dataclass(frozen=True)
class Map(Schema):
    """A mapping with known keys; `values` instead allows any keys with one value schema."""
    fields: dict[str, Schema] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    values: Schema | None = None
    one_of: tuple[str, ...] = ()  # exactly one of these keys must be present

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise fail(path, f"expected a mapping, got {_kind(value)}")
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            schema = self.fields.get(key, self.values)
            if schema is None:
                expected = ", ".join(self.fields)
                raise fail(where, f"unknown field {key!r} (expected: {expected})")
            schema.check(item, where)
        for key in self.required:
            if key not in value:
                raise fail(f"{path}.{key}" if path else key, "required field is missing")
        if self.one_of and sum(k in value for k in self.one_of) != 1:
            raise fail(path, f"give exactly one of: {', '.join(self.one_of)}")

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "object", "fields": {k: {**v.describe(), "required": k in self.required}
                                                            for k, v in self.fields.items()}}
        if self.values is not None:
            out["values"] = self.values.describe()
        if self.one_of:
            out["oneOf"] = list(self.one_of)
        return out
