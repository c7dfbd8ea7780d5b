"""A dataset's lineage as a tree: upstream (where it comes from) and downstream (what depends on it),
each column mapping read the way the data flows; selecting a dataset in it opens its page."""
from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from .common import DatasetChosen


class LineageTree(Tree):
    DEFAULT_CSS = "LineageTree { height: 1fr; }"

    def __init__(self, **kw: Any) -> None:
        super().__init__("lineage", **kw)
        self.guide_depth = 3

    def show_graph(self, graph: dict[str, Any]) -> None:
        root = graph["urn"]
        self.clear()
        self.root.set_label(Text(root, "bold"))
        for label, near, far in (("upstream", "to", "from"), ("downstream", "from", "to")):
            branch = self.root.add(f"[b]{label}[/b]", expand=True)
            self._walk(branch, graph["edges"], root, near, far, label == "upstream", set())
            if not branch.children:
                branch.add_leaf("[dim](none)[/dim]")
        self.root.expand()

    def _walk(self, node: TreeNode, edges: list[dict], urn: str, near: str, far: str, up: bool,
              seen: set[str]) -> None:
        for edge in (e for e in edges if e[near] == urn):
            other = edge[far]
            label = Text(other)
            if edge.get("via"):
                label.append(f"  via {edge['via']}", "dim")
            child = node.add(label, expand=True, data={"urn": other})
            for column, sources in sorted((edge.get("columns") or {}).items()):
                mapped = ", ".join(f"{src.rsplit('/', 1)[-1]}.{col}" for src, col in sources)
                # a mapping is the downstream column ← its sources, read the way the data flows
                child.add_leaf(Text.assemble((column, "cyan"), " ← ", mapped) if up else
                               Text.assemble(mapped, " → ", (column, "cyan")), data={"urn": other})
            if other not in seen:
                seen.add(other)
                self._walk(child, edges, other, near, far, up, seen)

    def on_tree_node_selected(self, event: Tree.NodeSelected) -> None:
        event.stop()
        urn = (event.node.data or {}).get("urn", "")
        if urn.startswith("dataos://"):
            self.post_message(DatasetChosen(urn))
