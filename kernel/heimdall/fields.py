"""Checks for the fields of a policy manifest section: each failure is a `PolicyError` naming the
field (`policy.access.subjects.tags[1]`) and what is wrong, in one line."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class PolicyError(ValueError):
    """A policy manifest section is invalid: `field` is a dotted path, `message` one line."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def check_keys(value: Any, field: str, allowed: set[str], required: set[str]) -> None:
    if not isinstance(value, Mapping):
        raise PolicyError(field, f"must be a mapping, not {kind(value)}")
    for key in value:
        if key not in allowed:
            raise PolicyError(f"{field}.{key}", f"unknown field (expected one of: {', '.join(sorted(allowed))})")
    missing = sorted(required - value.keys())
    if missing:
        raise PolicyError(f"{field}.{missing[0]}", "is required")


def nonempty_list(value: Any, field: str) -> list:
    if not isinstance(value, list):
        raise PolicyError(field, f"must be a list, not {kind(value)}")
    if not value:
        raise PolicyError(field, "must not be empty")
    return value


def strings(value: Any, field: str) -> list[str]:
    return [string(item, f"{field}[{i}]") for i, item in enumerate(nonempty_list(value, field))]


def string(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise PolicyError(field, f"must be a string, not {kind(value)}")
    if not value.strip():
        raise PolicyError(field, "must not be empty")
    return value


def kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__
