"""The export modal: asks a path (.parquet, .csv or .json) and returns it."""
from __future__ import annotations

from .prompt import PromptModal


class ExportModal(PromptModal):
    def __init__(self, default: str = "result.parquet") -> None:
        super().__init__("Export the result to (.parquet, .csv, .json):", default)
