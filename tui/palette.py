"""Command palette providers: screens, resources, datasets, and what plugins add."""
from __future__ import annotations

import asyncio
import inspect
from functools import partial
from typing import Any, Callable

from textual.command import DiscoveryHit, Hit, Hits, Provider

from .messages import OpenDataset, OpenResource


class ScreensProvider(Provider):
    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name in ("operations", "workbench", "atlas"):
            score = matcher.match(f"screen {name}")
            if score > 0:
                yield Hit(score, matcher.highlight(f"screen {name}"), partial(self.app.switch_mode, name),
                          help=f"Switch to {name.capitalize()}")


class ResourcesProvider(Provider):
    """Resources by name: opens them in Operations."""

    async def startup(self) -> None:
        try:
            self.resources = await self.app.link.call("resource.list")
        except Exception:
            self.resources = []

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for r in self.resources:
            label = f"{r['type']}/{r['name']}" + (f" ({r['workspace']})" if r.get("workspace") else "")
            score = matcher.match(label)
            if score > 0:
                yield Hit(score, matcher.highlight(label), partial(self._open, r), help="Open in Operations")

    def _open(self, resource: dict) -> None:
        self.app.switch_mode("operations")
        self.app.screen.post_message(OpenResource(resource))


class DatasetsProvider(Provider):
    """Datasets by name, from the catalog: opens them in Atlas."""

    async def search(self, query: str) -> Hits:
        if len(query) < 2:
            return
        matcher = self.matcher(query)
        try:
            found = await self.app.link.call("catalog.search", text=query, type="dataset", limit=20)
        except Exception:
            return
        for r in found["results"]:
            score = matcher.match(r["urn"]) or 0.1
            yield Hit(score, matcher.highlight(r["urn"]), partial(self._open, r["urn"]), help="Open in Atlas")

    def _open(self, urn: str) -> None:
        self.app.switch_mode("atlas")
        self.app.screen.post_message(OpenDataset(urn))


def plugin_entries() -> list[tuple[str, str, Callable[[Any], Any]]]:
    """(title, help, fn(app)) of every loaded plugin's palette commands and screens."""
    from plugins.loader import disabled, registry
    if disabled():
        return []
    entries = []
    for plugin in registry.loaded():
        entries += [(title, help or f"from plugin {plugin.name}", fn) for title, help, fn in plugin.added.palette]
        entries += [(f"Open {title}", f"a screen from plugin {plugin.name}", partial(_push, factory))
                    for title, factory in plugin.added.screens.values()]
    return entries


def _push(factory: Callable[[], Any], app: Any) -> None:
    app.push_screen(factory())


class PluginsProvider(Provider):
    """Palette commands and screens from plugins (loaded off the UI thread when the palette opens)."""

    async def startup(self) -> None:
        try:
            self.entries = await asyncio.to_thread(plugin_entries)
        except Exception:  # noqa: BLE001 — a broken plugin never breaks the palette
            self.entries = []

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help, fn in self.entries:
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), partial(self._run, fn), help=help)

    async def discover(self) -> Hits:
        for title, help, fn in self.entries:
            yield DiscoveryHit(title, partial(self._run, fn), help=help)

    def _run(self, fn: Callable[[Any], Any]) -> None:
        """Run a plugin's entry; its errors become a notification, never a crash."""
        app = self.app

        async def guarded() -> None:
            try:
                result = fn(app)
                if inspect.isawaitable(result):
                    await result
            except Exception as e:  # noqa: BLE001
                app.notify(f"{type(e).__name__}: {e}", title="plugin failed", severity="error")
        app.run_worker(guarded(), exclusive=False)
