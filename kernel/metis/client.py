"""What other services may ask of Metis (the catalog), and nothing else: their only door to it.

In one process (`--target all`) the Metis service itself is the client: a direct call. Services
never import Metis's store, scanner or syscalls (an import-linter contract keeps it so).
"""
from __future__ import annotations

from typing import Protocol


class Catalog(Protocol):
    def column_tags(self, urn: str) -> dict[str, frozenset[str]]:
        """A dataset's column tags, its own and those lineage carries to it (what drives masks)."""

    def used(self, urns: list[str]) -> None:
        """A query read these datasets (usage counts)."""

    def datasets(self) -> list[str]:
        """The addresses of the datasets in the catalog."""
