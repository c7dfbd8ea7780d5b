"""Command palette providers: screens, resources, datasets (plugins add their own)."""
from __future__ import annotations

from functools import partial

from textual.command import Hit, Hits, Provider

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
