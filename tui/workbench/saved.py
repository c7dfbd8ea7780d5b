"""Saved queries: the Workbench's ctrl+s keeps the editor's text under a name, and the command
palette (`SavedQueriesProvider`) lists them and opens one in the editor.

They live in one JSON file, `saved-queries.json` in dataos's data directory ($DATAOS_HOME/data
when set, else the platform's user data dir), written atomically."""
from __future__ import annotations

import json
import os
import tempfile
from functools import partial
from pathlib import Path

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.message import Message

from syscalls.locations import Locations

FILE = "saved-queries.json"


def path() -> Path:
    return Locations.current().data / "tui" / FILE


def _read() -> dict[str, str]:
    try:
        data = json.loads(path().read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def list_saved() -> list[tuple[str, str]]:
    """(name, sql) of every saved query, by name."""
    return sorted(_read().items(), key=lambda kv: kv[0].lower())


def load(name: str) -> str | None:
    return _read().get(name)


def save(name: str, sql: str) -> None:
    """Keep `sql` under `name` (replacing a query of that name)."""
    name = " ".join(name.split())
    if not name:
        raise ValueError("a saved query needs a name")
    data = _read()
    data[name] = sql
    _write(data)


def delete(name: str) -> bool:
    data = _read()
    if data.pop(name, None) is None:
        return False
    _write(data)
    return True


def _write(data: dict[str, str]) -> None:
    target = path()
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=".saved-", dir=target.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, ensure_ascii=False)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class OpenQuery(Message):
    """Put a query in the Workbench's editor (posted to the Workbench screen)."""

    def __init__(self, sql: str, name: str = "") -> None:
        super().__init__()
        self.sql, self.name = sql, name


class SavedQueriesProvider(Provider):
    """Saved queries by name: opens one in the Workbench's editor."""

    async def startup(self) -> None:
        try:
            self.saved = list_saved()
        except Exception:  # noqa: BLE001
            self.saved = []

    @staticmethod
    def _help(sql: str) -> str:
        text = " ".join(sql.split())
        return "Open in the Workbench: " + (text if len(text) <= 60 else text[:59] + "…")

    async def discover(self) -> Hits:
        for name, sql in self.saved:
            yield DiscoveryHit(f"saved query {name}", partial(self.open, name, sql), help=self._help(sql))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, sql in self.saved:
            label = f"saved query {name}"
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), partial(self.open, name, sql), help=self._help(sql))

    async def open(self, name: str, sql: str) -> None:
        await self.app.switch_mode("workbench")
        self.app.screen.post_message(OpenQuery(sql, name))
