"""The result grid: a ScrollView drawing only the visible rows, read from the spool (Line API).
Numbers are right-aligned. ctrl+a selects every row, ctrl+c copies the selection (else the cursor's
row) as tab-separated text with the column names (at most `MAX_COPY` rows: ctrl+e exports all)."""
from __future__ import annotations

import time
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from userlib.output import counted

from .spool import Spool

MAX_WIDTH = 40
MAX_COPY = 10_000
HEADER = Style(bold=True, reverse=True)
MASKED = Style(bold=True, reverse=True, color="yellow")
CURSOR = Style(bgcolor="grey30")
SELECTED = Style(bgcolor="blue")


def cell(value: Any) -> str:
    if value is None:
        return "∅"
    return str(value).replace("\n", "⏎")


def _fit(text: str, width: int, right: bool) -> str:
    return text[:width].rjust(width) if right else text[:width].ljust(width)


class ResultGrid(ScrollView, can_focus=True):
    DEFAULT_CSS = "ResultGrid { height: 1fr; }"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(-1)", "Up", show=False), Binding("down", "move(1)", "Down", show=False),
        Binding("pageup", "move(-20)", show=False), Binding("pagedown", "move(20)", show=False),
        Binding("home,g", "first", "First", show=False), Binding("end,G", "last", "Last row"),
        Binding("ctrl+a", "select_all", "Select all", show=False), Binding("ctrl+c", "copy", "Copy"),
        Binding("escape", "unselect", "Unselect", show=False),
    ]

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.spool: Spool | None = None
        self.columns: list[dict] = []
        self.widths: list[int] = []
        self.right: list[bool] = []  # numeric columns, right-aligned
        self.all_selected = False
        self.cursor = 0
        self._cache_start = 0
        self._cache: list[list[str]] = []
        self._sampled = 0
        self.first_drawn_at: float | None = None  # when a data row was first drawn (benchmarks)

    # --- data
    def attach(self, spool: Spool, columns: list[dict]) -> None:
        import pyarrow as pa
        self.spool, self.columns = spool, columns
        self.right = [pa.types.is_integer(f.type) or pa.types.is_floating(f.type) or pa.types.is_decimal(f.type)
                      for f in spool.schema]
        self.all_selected = False
        self.cursor = 0
        self._cache = []
        self._sampled = 0
        self.first_drawn_at = None
        names = [self.title_of(c) for c in columns]
        self.widths = [min(MAX_WIDTH, max(4, len(n))) for n in names]
        self.grow()

    def title_of(self, column: dict) -> str:
        m = column.get("masked")
        if m:
            return f"{column['name']} ⊘{m if isinstance(m, str) else 'masked'}"
        return str(column["name"])

    def grow(self) -> None:
        """More rows arrived (or the stream ended): widen columns from the first rows, resize."""
        if self.spool is None:
            return
        self._cache = []
        if self._sampled < min(100, self.spool.rows):  # widths from the first 100 rows
            sample = self._rows(0, 100)
            self._sampled = len(sample)
            for row in sample:
                for i, v in enumerate(row):
                    self.widths[i] = min(MAX_WIDTH, max(self.widths[i], len(v)))
        self._cache = []
        width = sum(w + 1 for w in self.widths) + 9
        self.virtual_size = Size(width, self.spool.rows + 1)
        self.refresh()

    @property
    def rows(self) -> int:
        return self.spool.rows if self.spool else 0

    def _rows(self, start: int, count: int) -> list[list[str]]:
        if (self._cache and self._cache_start <= start
                and start + count <= self._cache_start + len(self._cache)):
            i = start - self._cache_start
            return self._cache[i:i + count]
        assert self.spool is not None
        base = max(0, start - 50)
        table = self.spool.window(base, count + 150)
        cols = [[cell(v) for v in col.to_pylist()] for col in table.columns]
        self._cache = [list(r) for r in zip(*cols)] if cols else []
        self._cache_start = base
        i = start - base
        return self._cache[i:i + count]

    # --- drawing
    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.size.width
        if not self.columns:
            return Strip.blank(width)
        if y == 0:
            segs = [Segment(" " * 9, HEADER)]
            for col, w, right in zip(self.columns, self.widths, self.right):
                style = MASKED if col.get("masked") else HEADER
                segs.append(Segment(_fit(self.title_of(col), w, right) + " ", style))
            return Strip(segs).crop(scroll_x, scroll_x + width).extend_cell_length(width)
        index = scroll_y + y - 1
        if index >= self.rows:
            return Strip.blank(width)
        row = self._rows(index, 1)
        if not row:
            return Strip.blank(width)
        if self.first_drawn_at is None:
            self.first_drawn_at = time.monotonic()
        style = CURSOR if index == self.cursor else SELECTED if self.all_selected else Style()
        segs = [Segment(f"{index + 1:>8} ", Style(dim=True))]
        for v, w, right in zip(row[0], self.widths, self.right):
            segs.append(Segment(_fit(v, w, right) + " ", style))
        return Strip(segs).crop(scroll_x, scroll_x + width).extend_cell_length(width)

    def visible_rows(self) -> int:
        return max(1, self.size.height - 1)

    # --- moving
    def action_move(self, delta: int) -> None:
        self.go(self.cursor + delta)

    def action_first(self) -> None:
        self.go(0)

    def action_last(self) -> None:
        self.go(self.rows - 1)

    def go(self, row: int) -> None:
        if not self.rows:
            return
        self.cursor = max(0, min(self.rows - 1, row))
        top = self.scroll_offset.y
        h = self.visible_rows()
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + h:
            self.scroll_to(y=self.cursor - h + 1, animate=False)
        self.refresh()

    # --- selecting and copying
    def action_select_all(self) -> None:
        self.all_selected = bool(self.rows)
        self.refresh()

    def action_unselect(self) -> None:
        self.all_selected = False
        self.refresh()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "unselect":  # else escape goes on up (cancel)
            return self.all_selected
        return True

    def action_copy(self) -> None:
        """The selected rows (else the cursor's) as tab-separated text, with a header line."""
        if not self.rows:
            return
        start, count = (0, min(self.rows, MAX_COPY)) if self.all_selected else (self.cursor, 1)
        lines = ["\t".join(str(c["name"]) for c in self.columns)]
        lines += ["\t".join(row) for row in self._copy_rows(start, count)]
        self.app.copy_to_clipboard("\n".join(lines) + "\n")
        cut = f" of {self.rows:,} (ctrl+e exports all)" if self.all_selected and self.rows > count else ""
        self.notify(f"copied {counted(count, 'row')}{cut}", timeout=3)

    def _copy_rows(self, start: int, count: int) -> list[list[str]]:
        assert self.spool is not None
        table = self.spool.window(start, count)
        cols = [["" if v is None else str(v) for v in col.to_pylist()] for col in table.columns]
        return [list(r) for r in zip(*cols)]

    def visible_text(self) -> list[str]:
        """The rows on screen as text (tests)."""
        top = self.scroll_offset.y
        return [" ".join(r) for r in self._rows(top, min(self.visible_rows(), max(0, self.rows - top)))] if self.rows else []
