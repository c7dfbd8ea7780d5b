"""The catalog tree: depots → collections → datasets → columns, loaded when a node expands (cached)."""
from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from .common import DatasetChosen, error_text


class CatalogTree(Tree):
    DEFAULT_CSS = "CatalogTree { height: 1fr; border: round $primary-background; }"

    def __init__(self, **kw: Any) -> None:
        super().__init__("catalog", data={"kind": "root"}, **kw)
        self.show_root = False
        self.guide_depth = 2
        self.cache: dict[str, list[dict]] = {}

    async def on_mount(self) -> None:
        await self.reload()

    async def reload(self) -> None:
        try:
            depots = await self.app.link.call("resource.list", type="depot")
        except Exception as e:
            self.notify(f"depots: {error_text(e)}", severity="error")
            return
        self.root.remove_children()
        for d in sorted(depots, key=lambda d: d["name"]):
            self.root.add(Text(d["name"], "bold"), data={"kind": "depot", "address": f"dataos://{d['name']}"})
        self.root.expand()

    async def on_tree_node_expanded(self, event: Tree.NodeExpanded) -> None:
        node = event.node
        data = node.data or {}
        if data.get("loaded") or data.get("kind") not in ("depot", "collection", "dataset"):
            return
        data["loaded"] = True
        try:
            children = await self._children(data)
        except Exception as e:
            data["loaded"] = False
            self.notify(f"{data.get('address')}: {error_text(e)}", severity="error")
            return
        self._fill(node, data["kind"], children)

    async def _children(self, data: dict) -> list[dict]:
        address = data["address"]
        if address not in self.cache:
            if data["kind"] == "dataset":
                entity = await self.app.link.call("catalog.get", ref=address)
                a = entity["aspects"]
                tags = (a.get("tags") or {}).get("columns", {})
                masked = entity.get("masked") or {}
                self.cache[address] = [{"name": c["name"], "type": c["type"], "tags": tags.get(c["name"], []),
                                        "masked": c["name"] in masked}
                                       for c in (a.get("schema") or {}).get("columns", [])]
            else:
                self.cache[address] = await self.app.link.call("dataset.list", address=address)
        return self.cache[address]

    def _fill(self, node: TreeNode, kind: str, children: list[dict]) -> None:
        node.remove_children()
        if kind == "depot":
            for c in children:
                node.add(Text.assemble(c["name"], (f" ({c.get('datasets', '?')})", "dim")),
                         data={"kind": "collection", "address": c["address"]})
        elif kind == "collection":
            for d in children:
                rows = d.get("rows")
                node.add(Text.assemble(d["name"], (f" {rows:,} rows" if isinstance(rows, int) else "", "dim")),
                         data={"kind": "dataset", "address": d["address"]})
        else:
            for c in children:
                label = Text.assemble(c["name"], (f" {c['type']}", "dim"))
                if c["tags"]:
                    label.append(" " + ", ".join(c["tags"]), "yellow")
                if c["masked"]:
                    label.append(" masked", "red")
                node.add_leaf(label,
                              data={"kind": "column", "address": node.data["address"], "column": c["name"]})
        if not children:
            node.add_leaf(Text("(empty)", "dim"), data={"kind": "empty"})

    def forget(self, urn: str) -> None:
        """A dataset changed (tags): drop its cached columns and refill its node if open."""
        self.cache.pop(urn, None)
        for node in self._nodes_of(self.root):
            if (node.data or {}).get("kind") == "dataset" and node.data["address"] == urn and node.data.get("loaded"):
                node.data["loaded"] = False
                if node.is_expanded:
                    self.run_worker(self._refill(node))

    async def _refill(self, node: TreeNode) -> None:
        node.data["loaded"] = True
        try:
            self._fill(node, "dataset", await self._children(node.data))
        except Exception as e:
            self.notify(error_text(e), severity="error")

    def _nodes_of(self, node: TreeNode):
        for child in node.children:
            yield child
            yield from self._nodes_of(child)

    def on_tree_node_selected(self, event: Tree.NodeSelected) -> None:
        data = event.node.data or {}
        if data.get("kind") == "dataset":
            self.post_message(DatasetChosen(data["address"]))
        elif data.get("kind") == "column":
            self.post_message(DatasetChosen(data["address"], data["column"]))

    def selected_column(self) -> tuple[str, str | None] | None:
        data = (self.cursor_node.data if self.cursor_node else None) or {}
        if data.get("kind") == "dataset":
            return data["address"], None
        if data.get("kind") == "column":
            return data["address"], data["column"]
        return None
