"""Logs, a pod's or a resource's (its pods', each line prefixed with job/pod): followed in thread
workers, a bounded buffer, search and wrap. Empty, it says how to fill it."""
from __future__ import annotations

from collections import deque

from rich.text import Text
from textual.widgets import RichLog

MAX_LINES = 10_000


class LogsView(RichLog):
    DEFAULT_CSS = """
    LogsView { height: 1fr; border: round $panel; }
    LogsView:focus { border: round $accent; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(max_lines=MAX_LINES, wrap=False, markup=False, highlight=False, **kwargs)
        self.lines_buffer: deque[str] = deque(maxlen=MAX_LINES)
        self.needle = ""
        self.source: str | None = None  # the pod or resource whose logs these are
        self.hint_text = ""

    def on_mount(self) -> None:
        self.hint("select a resource (or a pod) and press l")

    def reset(self, source: str | None, title: str = "") -> None:
        self.source = source
        self.lines_buffer.clear()
        self.hint_text = ""
        self.clear()
        self.border_title = f"logs {title or source}" if source else "logs"

    def hint(self, text: str) -> None:
        """Say why there are no lines (yet); the first line that comes replaces it."""
        if not self.lines_buffer:
            self.hint_text = text
            self.clear()
            self.write(Text(text, "dim italic"))

    def add_lines(self, lines: list[str]) -> None:
        if self.hint_text and lines:
            self.hint_text = ""
            self.clear()
        self.lines_buffer.extend(lines)
        for line in lines:
            if not self.needle or self.needle.lower() in line.lower():
                self.write(line)

    def search(self, needle: str) -> None:
        self.needle = needle
        self._redraw()

    def toggle_wrap(self) -> None:
        self.wrap = not self.wrap
        self._redraw()

    def _redraw(self) -> None:
        self.clear()
        if self.hint_text:
            self.write(Text(self.hint_text, "dim italic"))
        for line in self.lines_buffer:
            if not self.needle or self.needle.lower() in line.lower():
                self.write(line)
        self.border_subtitle = f"/{self.needle}" if self.needle else ("wrap" if self.wrap else "")
