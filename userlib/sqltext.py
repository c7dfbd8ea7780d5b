"""Which text is SQL: the first words that start a statement (`select`, `with`, `describe t`…)."""
from __future__ import annotations

import re

from .plurals import singular

KEYWORDS = frozenset({"select", "with", "from", "values", "table", "show", "describe", "explain", "summarize",
                      "pivot", "unpivot"})
#: `describe TYPE NAME` and `explain TYPE[.FIELD]` are CLI verbs; `describe DATASET` (or `describe select …`,
#: `explain select …`) is SQL.
RESOURCE_TYPES = frozenset({"workflow", "service", "worker", "depot", "cluster", "policy", "secret",
                            "instance-secret", "compute", "stack", "bundle"})
_FIRST = re.compile(r"\s*(\(|[A-Za-z_]+(?=[\s(*;]|$))")


def is_sql(text: str) -> bool:
    """True when `text` starts as SQL does: a keyword of KEYWORDS, or `(`."""
    match = _FIRST.match(text)
    if not match:
        return False
    word = match.group(1).lower()
    if word == "(":
        return True
    if word not in ("describe", "explain"):
        return word in KEYWORDS
    rest = text.split()[1:]
    if not rest or rest[0].startswith("-") or "/" in rest[0]:
        return False
    kind = rest[0].lower() if word == "describe" else rest[0].lower().partition(".")[0]
    return not {kind, kind.removesuffix("s"), kind.removesuffix("ies") + "y", singular(kind)} & RESOURCE_TYPES
