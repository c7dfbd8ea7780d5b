"""Operations (placeholder until built)."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from ..banner import KernelBanner


class OperationsScreen(Screen):
    def compose(self) -> ComposeResult:
        yield Header()
        yield KernelBanner()
        yield Static("Operations", classes="title")
        yield Footer()
