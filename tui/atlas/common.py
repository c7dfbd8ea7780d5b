"""Small helpers Atlas shares: addresses, profile summaries, short text, the selection message."""
from __future__ import annotations

from typing import Any

from textual.message import Message


class DatasetChosen(Message):
    """The tree or the search picked a dataset (and maybe a column): open its page."""

    def __init__(self, urn: str, column: str | None = None) -> None:
        super().__init__()
        self.urn = urn
        self.column = column


def sql_name(urn: str) -> str:
    """dataos://depot:collection/dataset → depot.collection.dataset (as SQL names it)."""
    rest = urn.split("://", 1)[-1].partition("#")[0]
    depot, _, path = rest.partition(":")
    collection, _, dataset = path.partition("/")
    return ".".join(f'"{p}"' if not p.replace("_", "").isalnum() else p for p in (depot, collection, dataset))


def short(text: Any, width: int = 50) -> str:
    text = " ".join(str(text if text is not None else "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def stats(s: dict[str, Any] | None) -> str:
    """A profile's one-line summary: null %, distinct, min…max."""
    if not s:
        return ""
    parts = []
    if s.get("null_pct") is not None:
        parts.append(f"{s['null_pct']:.0f}% null")
    if s.get("distinct") is not None:
        parts.append(f"~{s['distinct']:,} distinct")
    if s.get("min") is not None:
        parts.append(f"{short(s['min'], 14)}…{short(s.get('max'), 14)}")
    return ", ".join(parts)


def error_text(e: Exception) -> str:
    code = getattr(e, "code", None)
    message = getattr(e, "message", None) or str(e)
    return f"{code}: {message}" if code and not message.startswith(code) else message
