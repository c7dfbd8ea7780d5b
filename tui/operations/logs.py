"""A pod's logs: followed in a thread worker, a bounded buffer, search and wrap."""
from __future__ import annotations

from collections import deque

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
        self.pod: str | None = None

    def reset(self, pod: str | None) -> None:
        self.pod = pod
        self.lines_buffer.clear()
        self.clear()
        self.border_title = f"logs {pod}" if pod else "logs"

    def add_lines(self, lines: list[str]) -> None:
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
        for line in self.lines_buffer:
            if not self.needle or self.needle.lower() in line.lower():
                self.write(line)
        self.border_subtitle = f"/{self.needle}" if self.needle else ("wrap" if self.wrap else "")
