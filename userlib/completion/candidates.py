"""Completion, part (b): *which candidates match*. `Completer` turns each `Suggestion` into names
from the `CatalogSource` (an in-memory snapshot: completion never waits on the network), keeps those
the word matches — prefix first, then fuzzy (a subsequence), case-insensitive — and ranks them."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping

from .commands import Cmd, command_tree, first_line
from .state import CatalogSource, ShellState
from .suggest import (
    IDENT,
    RESOURCE_TYPES,
    SQL_FUNCTIONS,
    SQL_KEYWORDS,
    SQL_STARTS,
    Alias,
    Choice,
    Collection,
    Column,
    Command,
    Dataset,
    Depot,
    Flag,
    Function,
    Keyword,
    LocalFile,
    Pod,
    ResourceName,
    ResourceType,
    Scheme,
    Subcommand,
    Suggestion,
    Syscall,
    Variable,
    Workspace,
    suggest,
)

MAX_COMPLETIONS = 1000  # a menu longer than this helps nobody: type more


def match(word: str, names: Iterable[str]) -> list[tuple[tuple, str]]:
    """(rank, name) of the names `word` matches: prefixes first (tier 0), then fuzzy subsequences
    (tier 1) ranked by how tight and how early the match is. Case-insensitive."""
    wl = word.lower()
    out: list[tuple[tuple, str]] = []
    if not wl:
        return [((0, 0, 0), n) for n in names]
    fuzzy = None
    first = wl[0]
    for n in names:
        nl = n.lower()
        if nl.startswith(wl):
            out.append(((0, 0, 0), n))
        elif first in nl:
            if fuzzy is None:
                fuzzy = re.compile(".*?".join(map(re.escape, wl)))
            m = fuzzy.search(nl)
            if m is not None:
                out.append(((1, m.end() - m.start(), m.start()), n))
    return out


def needs(s: Suggestion) -> tuple[tuple, ...]:
    """The catalog source's keys a suggestion's candidates come from."""
    if isinstance(s, Collection):
        return (("collections", s.depot),)
    if isinstance(s, Dataset):
        return (("datasets", s.depot, s.collection),)
    if isinstance(s, Column):
        return tuple(("columns", urn) for urn in s.urns)
    if isinstance(s, (Depot, ResourceName, Pod, ResourceType, Workspace)):
        return (("all",),)
    return ()


def _quote_sql(name: str) -> str:
    return name if IDENT.match(name) else '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class Candidate:
    """What to insert (replacing `start` characters before the cursor: start <= 0), how to show it."""
    text: str
    start: int
    display: str
    meta: str


class Completer:
    """`suggest()` says what fits, the source's snapshot says what exists: `complete()` ranks the
    candidates. Front ends adapt it (the shell to prompt-toolkit, the TUI to its popup)."""

    def __init__(self, state: ShellState, source: CatalogSource, commands: Mapping[str, str] | None = None) -> None:
        self.state = state
        self.source = source
        self.commands = dict(commands or {})  # the front end's own commands → their help

    def complete(self, before: str, after: str = "", wait: float = 0.0) -> Iterator[Candidate]:
        """The candidates at a cursor with `before` and `after` it, best first. With `wait`, first
        give the catalog source up to that many seconds to load what these suggestions need."""
        try:
            suggestions = suggest(before, self.state, after)
        except Exception:  # noqa: BLE001 — never a traceback in the prompt
            return
        settle = getattr(self.source, "settle", None)
        if wait > 0 and settle is not None:
            settle([key for s in suggestions for key in needs(s)], wait)
        ranked: list[tuple[tuple, Any]] = []  # (rank, a Candidate or what makes one)
        seen: set[str] = set()
        for priority, s in enumerate(suggestions):
            try:
                if isinstance(s, LocalFile):
                    ranked.extend(((0, 0, 0, priority, 0, c.text.lower()), c) for c in self._files(s.word))
                    continue
                candidates = self._candidates(s)
            except Exception:  # noqa: BLE001
                continue
            start = -len(s.word)
            likely = frozenset(s.likely) if isinstance(s, Keyword) else frozenset()
            for (tier, span, pos), name in match(s.word, candidates):
                text, meta = candidates[name]
                if text in seen:
                    continue
                seen.add(text)
                rank = priority - 0.5 if name in likely else priority
                ranked.append(((tier, span, pos, rank, len(name) if tier else 0, name.lower()),
                               (text, start, name, meta)))
        ranked.sort(key=lambda r: r[0])
        for _, c in ranked[:MAX_COMPLETIONS]:  # Candidates made only for what is shown
            yield c if isinstance(c, Candidate) else Candidate(*c)

    # name → (text to insert, meta)
    def _candidates(self, s: Suggestion) -> dict[str, tuple[str, str]]:
        src = self.source
        if isinstance(s, Command):
            out = {n: (n, f"alias: {v}") for n, v in self.state.aliases.items()}
            tree = command_tree()
            out.update({n: (n, c.help) for n, c in tree.commands.items()})
            out.update({n: (n, first_line(h)) for n, h in self.commands.items()})
            if s.sql:
                for k in SQL_STARTS:
                    out.setdefault(k, (k, "SQL"))
            return out
        if isinstance(s, Subcommand):
            cmd = self._cmd(s.path)
            return {n: (n, c.help) for n, c in cmd.commands.items()} if cmd else {}
        if isinstance(s, Flag):
            cmd = self._cmd(s.path)
            if cmd is None:
                return {}
            return {n: (n, o.help) for n, o in cmd.options.items() if n not in s.used}
        if isinstance(s, Choice):
            return {v: (v, s.meta) for v in s.values}
        if isinstance(s, ResourceType):
            types = getattr(src, "types", None)
            names = (types() if types else None) or RESOURCE_TYPES
            return {n: (n, "type") for n in names}
        if isinstance(s, ResourceName):
            return {n: (n, s.type) for n in src.resources(s.type)}
        if isinstance(s, Pod):
            return {n: (n, "pod") for n in src.pods()}
        if isinstance(s, Workspace):
            fn = getattr(src, "workspaces", None)
            names = {*(fn() if fn else ()), "public", self.state.workspace}
            return {n: (n, "workspace") for n in names}
        if isinstance(s, Syscall):
            from syscalls.table import TABLE
            return {n: (n, first_line(spec.summary)) for n, spec in TABLE.items()}
        if isinstance(s, Variable):
            return {n: (n, "variable") for n in self.state.env}
        if isinstance(s, Alias):
            return {n: (n, f"alias: {v}") for n, v in self.state.aliases.items()}
        if isinstance(s, Scheme):
            return {"dataos://": ("dataos://", "path")}
        if isinstance(s, Depot):
            quote = _quote_sql if s.sql else str
            return {n: (quote(n) + s.suffix, "depot") for n in src.depots()}
        if isinstance(s, Collection):
            quote = _quote_sql if s.sql else str
            return {n: (quote(n) + s.suffix, "collection") for n in src.collections(s.depot)}
        if isinstance(s, Dataset):
            quote = _quote_sql if s.sql else str
            meta = "table" if s.sql else "dataset"
            return {n: (quote(n), meta) for n in src.datasets(s.depot, s.collection)}
        if isinstance(s, Keyword):
            return {k: (k.lower() if s.lower else k, "keyword") for k in SQL_KEYWORDS}
        if isinstance(s, Function):
            return {f: (f, "function") for f in SQL_FUNCTIONS}
        if isinstance(s, Column):
            out = {}
            typed = getattr(src, "column_types", None)
            several = len(s.urns) > 1
            for urn in s.urns:
                where = urn.rpartition("/")[2]
                pairs = typed(urn) if typed else [(c, "") for c in src.columns(urn)]
                for name, type_ in pairs:
                    if name in out:
                        continue
                    meta = f"column {type_}".rstrip() + (f" · {where}" if several else "")
                    out[name] = (_quote_sql(name), meta)
            return out
        return {}

    def _cmd(self, path: tuple[str, ...]) -> Cmd | None:
        cmd: Cmd | None = command_tree()
        for p in path:
            cmd = cmd.sub(p) if cmd else None
        return cmd

    def _files(self, word: str) -> list[Candidate]:
        """Local files (manifests for `apply -f`): the only completion that touches a disk."""
        head, _, tail = word.rpartition("/")
        directory = os.path.expanduser(head + "/" if head or word.startswith("/") else ".") or "/"
        try:
            with os.scandir(directory) as entries:
                found = [(e.name + ("/" if e.is_dir() else ""), e.is_dir()) for e in entries
                         if e.name.startswith(tail) and (tail.startswith(".") or not e.name.startswith("."))]
        except OSError:
            return []
        return [Candidate(name, -len(tail), name, "directory" if is_dir else "file")
                for name, is_dir in sorted(found)[:MAX_COMPLETIONS]]
