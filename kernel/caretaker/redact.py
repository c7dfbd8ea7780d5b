"""A pod's output as its readers see it, masked as CI systems mask theirs: every value the secrets
its resource names have had (a pod keeps the one it got), each line of a multi-line value, their
base64 (at any alignment), URL and JSON forms, and any API key read `***`. Values shorter than
SHORTEST stay: masking them would destroy the log. The values are opened from the vault while a log
is served, never kept."""
from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote

from syscalls.errors import SyscallError

from ..heimdall.identity import TOKEN_PREFIX
from ..poros.references import secret_path

MASK = "***"
SHORTEST = 4
API_KEY = re.escape(TOKEN_PREFIX) + r"[A-Za-z0-9_-]{16,}"
URL_SAFE = str.maketrans("+/", "-_")


def masked(kernel: Any, pod: dict[str, Any], lines: Iterable[str]) -> Iterator[str]:
    """`lines` of `pod`'s output with the secrets it was given masked (the values are looked up now)."""
    forms = sorted({f for f in _forms(secret_values(kernel, pod)) if len(f) >= SHORTEST}, key=len, reverse=True)
    pattern = re.compile("|".join([API_KEY, *map(re.escape, forms)]))
    return (pattern.sub(MASK, line) for line in lines)


def secret_values(kernel: Any, pod: dict[str, Any]) -> set[str]:
    """Every value of every secret any generation of the pod's resource names, as applied over time."""
    labels = pod["labels"]
    if "dataos.io/resource" not in labels:
        return set()
    workspace = labels.get("dataos.io/workspace", "")
    try:
        owner = kernel.poros.history(labels["dataos.io/type"], labels["dataos.io/resource"], workspace or None)
    except SyscallError:
        return set()
    refs = {secret_path(ref, workspace) + (ref["name"],) for g in owner for ref in _refs(g["manifest"])}
    values: set[str] = set()
    for type_name, ws, name in refs:
        try:
            generations = kernel.poros.history(type_name, name, ws)
        except SyscallError:
            continue
        for g in generations:
            try:
                values.update(kernel.heimdall.open_secret({**g["manifest"], "workspace": ws or ""}).values())
            except (SyscallError, KeyError, TypeError):
                continue
    return values


def _refs(value: Any) -> Iterator[dict[str, Any]]:
    """The `dataosSecrets` references anywhere in a manifest."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "dataosSecrets" and isinstance(item, list):
                yield from (r for r in item if isinstance(r, dict) and isinstance(r.get("name"), str))
            else:
                yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


def _forms(values: Iterable[str]) -> Iterator[str]:
    """Each value, each of its lines, and their URL, JSON and base64 forms."""
    for value in values:
        for part in {value, *value.splitlines()}:
            yield from (part, quote(part, safe=""), json.dumps(part)[1:-1])
            yield from _base64(part.encode())


def _base64(data: bytes) -> Iterator[str]:
    """The base64 characters that `data` alone decides, starting at each of the three byte offsets
    (it may follow other bytes in what was encoded), standard and URL-safe."""
    for shift in range(3):
        encoded = base64.b64encode(bytes(shift) + data).decode()
        fragment = encoded[-(-8 * shift // 6):8 * (shift + len(data)) // 6]
        yield from (fragment, fragment.translate(URL_SAFE))
