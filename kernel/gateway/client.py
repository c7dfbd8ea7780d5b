"""What other services may ask of the Gateway about governance, and nothing else: their only
door to its data policies.

In one process (`--target all`) the Gateway itself is the client: a direct call. The answers are
plain values (`Rules`), never the Gateway's policy objects; services never import its planner
or policies (an import-linter contract keeps it so).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Rules:
    """What a caller gets on one dataset: its masked columns (column → policy) and the row filters
    that apply (policy names)."""
    masked: dict[str, str]
    filtered: list[str]


class Governance(Protocol):
    def governs_tag(self, tag: str) -> bool:
        """Does a data policy select on this column tag (then tagging takes `govern`, and the tag
        follows lineage)?"""

    def rules(self, urn: str, columns: dict[str, str], column_tags: dict[str, frozenset[str]],
              caller_tags: frozenset[str]) -> Rules:
        """The masks and row filters a caller with `caller_tags` gets on dataset `urn`, whose
        columns (name → type) and column tags the catalog knows."""
