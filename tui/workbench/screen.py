"""Workbench (placeholder until built)."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from ..banner import KernelBanner


class WorkbenchScreen(Screen):
    def compose(self) -> ComposeResult:
        yield Header()
        yield KernelBanner()
        yield Static("Workbench", classes="title")
        yield Footer()
