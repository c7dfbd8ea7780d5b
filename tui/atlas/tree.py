"""The catalog tree: depots → collections → datasets → columns, loaded when a node expands (cached).
A depot's collections and a collection's datasets go in PAGE nodes at a time: a last "… N more"
node adds the next page when the cursor reaches it or it is selected, so thousands of datasets
never build at once."""
from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from ..link import error_text
from .common import DatasetChosen

PAGE = 100  # child nodes added at a time under a depot or a collection


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
            depots = {d["name"] for d in await self.app.link.call("resource.list", type="depot")}
            # depots whose resource the user may not read, but some of whose datasets they may select
            found = await self.app.link.call("catalog.search", text="", type="dataset", limit=1)
            depots |= set(found["facets"].get("depot", {}))
        except Exception as e:
            self.notify(f"depots: {error_text(e)}", severity="error")
            return
        self.root.remove_children()
        for name in sorted(depots):
            self.root.add(Text(name, "bold"), data={"kind": "depot", "address": f"dataos://{name}"})
        if not depots:
            self.root.add_leaf(Text("(no depot you can read: search with /)", "dim"), data={"kind": "note"})
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
        if kind in ("depot", "collection"):
            self._add_page(node, kind, children, 0)
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

    def _add_page(self, node: TreeNode, kind: str, children: list[dict], start: int) -> TreeNode | None:
        """Nodes for children[start:start + PAGE], then a "more" node if any are left; the first added."""
        first = None
        for c in children[start:start + PAGE]:
            if kind == "depot":
                added = node.add(Text.assemble(c["name"], (f" ({c.get('datasets', '?')})", "dim")),
                                 data={"kind": "collection", "address": c["address"]})
            else:
                rows = c.get("rows")
                size = f" {rows:,} row{'' if rows == 1 else 's'}" if isinstance(rows, int) else ""
                added = node.add(Text.assemble(c["name"], (size, "dim")), data={"kind": "dataset", "address": c["address"]})
            first = first or added
        left = len(children) - start - PAGE
        if left > 0:
            node.add_leaf(Text(f"… {left:,} more (showing {start + PAGE:,} of {len(children):,})", "bold dim"),
                          data={"kind": "more", "of": kind, "start": start + PAGE})
        return first

    def _more(self, more: TreeNode) -> None:
        """Replace a "more" node by the next page (from the cache: dataset.list answered them all)."""
        parent = more.parent
        children = self.cache.get(parent.data["address"]) if parent and parent.data else None
        if children is None:
            return
        data = more.data
        if data.get("done"):  # highlighted and selected at once: one page
            return
        data["done"] = True
        more.remove()
        first = self._add_page(parent, data["of"], children, data["start"])
        if first is not None:  # once the tree has laid the new nodes out
            self.call_after_refresh(self.move_cursor, first)

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

    def on_tree_node_highlighted(self, event: Tree.NodeHighlighted) -> None:
        if (event.node.data or {}).get("kind") == "more":  # the cursor reached the end: the next page comes
            self._more(event.node)

    def on_tree_node_selected(self, event: Tree.NodeSelected) -> None:
        data = event.node.data or {}
        if data.get("kind") == "more":
            self._more(event.node)
        elif data.get("kind") == "dataset":
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
