"""The engine's hints, as far as the user may see them: an unknown column's "candidate bindings"
name only columns of the datasets the query reads (which the user may select) and names the
query itself spells out; never a name of the governed rewrite (its source alias, the engine's
views) or anything else the engine happens to know."""
from __future__ import annotations

from collections.abc import Callable, Iterable

import sqlglot
from sqlglot.tokens import TokenType

from syscalls.errors import SyscallError

from .model import shown

_MAX_SHOWN = 8


def visible_candidates(error: SyscallError, sql: str, dialect: str,
                       columns: Callable[[], Iterable[str]]) -> SyscallError:
    """`error` with the engine's candidate bindings that name only `columns()` (of the datasets the
    query reads) or names written in `sql` appended to its message (at most `_MAX_SHOWN`, plain
    names only)."""
    candidates = getattr(error, "candidates", ())
    if not candidates:
        return error
    known = {c.lower() for c in columns()} | written_names(sql, dialect)
    shown_ = [c for c in candidates
              if all(part.lower() in known and shown(part) == part for part in c.replace('""', '"').split("."))]
    if not shown_:
        return error
    return SyscallError(error.code, f"{error.message} (candidates: {', '.join(shown_[:_MAX_SHOWN])})", **error.details)


def written_names(sql: str, dialect: str) -> set[str]:
    """The names (identifiers and words) the user's SQL spells out, lower case."""
    try:
        tokens = sqlglot.Dialect.get_or_raise(dialect).tokenize(sql)
    except Exception:  # noqa: BLE001 — unreadable SQL names nothing
        return set()
    return {t.text.lower() for t in tokens if t.token_type in (TokenType.VAR, TokenType.IDENTIFIER)}
