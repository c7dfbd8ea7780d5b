"""The Workbench's data catalog sidebar (as harlequin's): depots → collections → datasets → columns
with their types, each level loaded when it opens and only what the caller may see (Atlas's tree:
`dataset.list` and `catalog.get` answer governed). Enter inserts the node's SQL name at the
editor's cursor (`lake.retail.sales`, a column's name; quoted when it must be); space, click or
right opens a node, left closes it. ctrl+b (or f9) shows or hides it; below `WIDE` columns it
starts hidden."""
from __future__ import annotations

import re
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.message import Message

from ..atlas.tree import CatalogTree

WIDE = 100  # the sidebar starts shown from this many columns on
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
RESERVED = frozenset(("all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "both",
    "case", "cast", "check", "collate", "column", "constraint", "create", "default", "deferrable", "desc",
    "describe", "distinct", "do", "else", "end", "except", "false", "fetch", "for", "foreign", "from", "group",
    "having", "in", "initially", "intersect", "into", "lambda", "lateral", "leading", "limit", "not", "null",
    "offset", "on", "only", "or", "order", "pivot", "pivot_longer", "pivot_wider", "placing", "primary", "qualify",
    "references", "returning", "select", "show", "some", "summarize", "symmetric", "table", "then", "to",
    "trailing", "true", "union", "unique", "unpivot", "using", "variadic", "when", "where", "window", "with"))  # DuckDB's reserved words


def quoted(name: str) -> str:
    """`name` as SQL writes it: double-quoted unless a plain identifier that is no reserved word."""
    if IDENT.match(name) and name.lower() not in RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'


def sql_name(address: str, column: str | None = None) -> str:
    """dataos://depot[:collection[/dataset]] → depot.collection.dataset; a column: its name."""
    if column is not None:
        return quoted(column)
    depot, _, path = address.split("://", 1)[-1].partition(":")
    return ".".join(quoted(p) for p in (depot, *path.split("/", 1)) if p)


class CatalogSidebar(CatalogTree):
    DEFAULT_CSS = """
    CatalogSidebar { width: 25%; min-width: 24; max-width: 40; height: 1fr; border: round $primary-background; }
    CatalogSidebar:focus { border: round $accent; }
    CatalogSidebar.-hidden { display: none; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "insert", "Insert name"),
        Binding("right", "open", "Open", show=False),
        Binding("left", "close", "Close", show=False),
    ]

    class Insert(Message):
        """Enter on a node: its SQL name goes in the editor at the cursor."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.border_title = "catalog"

    def action_insert(self) -> None:
        data = (self.cursor_node.data if self.cursor_node else None) or {}
        if data.get("kind") == "more":
            self._more(self.cursor_node)
        elif data.get("kind") in ("depot", "collection", "dataset", "column"):
            self.post_message(self.Insert(sql_name(data["address"], data.get("column"))))

    def action_open(self) -> None:
        node = self.cursor_node
        if node is not None and node.allow_expand:
            node.expand()

    def action_close(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        if node.is_expanded:
            node.collapse()
        elif node.parent is not None and node.parent is not self.root:
            self.move_cursor(node.parent)
