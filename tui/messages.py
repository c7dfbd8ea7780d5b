"""Messages between the palette and the screens."""
from __future__ import annotations

from textual.message import Message


class OpenResource(Message):
    """Show this resource (a resource.list row) in Operations."""

    def __init__(self, resource: dict) -> None:
        super().__init__()
        self.resource = resource


class OpenDataset(Message):
    """Show this dataset (its UDL) in Atlas."""

    def __init__(self, urn: str) -> None:
        super().__init__()
        self.urn = urn
