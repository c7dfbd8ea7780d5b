"""Small helpers Atlas shares: addresses and the selection message."""
from __future__ import annotations

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
