"""Columns that share a table's width by content: each is as wide as its widest value and, when they
do not all fit, the least important are left out whole rather than cut (k9s drops low-priority
columns the same way), so a name never reads `orders-daily-` and a state never `succee`."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable

PADDING = 2  # a DataTable cell's padding, both sides


def fitting(widths: dict[str, int], keep: Sequence[str], room: int) -> set[str]:
    """The columns that fit `room` cells, taken in `keep`'s order (the first always)."""
    fits: set[str] = set()
    used = 0
    for name in keep:
        width = widths[name] + PADDING
        if not fits or used + width <= room:
            fits.add(name)
            used += width
    return fits


def room(table: DataTable) -> int:
    """The cells a table's columns may use (a vertical scrollbar's are kept free)."""
    return table.content_region.width - table.styles.scrollbar_size_vertical


class FittingTable(DataTable):
    """A DataTable filled with `fill_rows(headers, rows, keep)`: the columns that fit its width, again
    whenever its width changes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.headers: Sequence[str] = ()
        self.table_rows: list[tuple[Sequence[Any], str | None]] = []  # (cells, row key)
        self.keep: Sequence[str] = ()
        self.shown: tuple[str, ...] | None = None

    def fill_rows(self, headers: Sequence[str], rows: list[tuple[Sequence[Any], str | None]],
                  keep: Sequence[str] = ()) -> None:
        self.headers, self.table_rows = headers, rows
        self.keep = [*keep, *(h for h in headers if h not in keep)]
        self.shown = None
        self._fill()

    def on_resize(self) -> None:
        self._fill()

    def value(self, row: int, header: str) -> Any:
        """A row's cell under `header`, shown or left out."""
        return self.table_rows[row][0][self.headers.index(header)]

    def _fill(self) -> None:
        widths = {h: max([cell_len(h), *(_width(cells[i]) for cells, _ in self.table_rows)])
                  for i, h in enumerate(self.headers)}
        space = room(self)
        fits = fitting(widths, self.keep, space) if space > 0 else set(self.headers)
        shown = tuple(h for h in self.headers if h in fits)
        if shown == self.shown:
            return
        self.shown, row = shown, self.cursor_row
        index = [self.headers.index(h) for h in shown]
        self.clear(columns=True)
        self.add_columns(*shown)
        for cells, key in self.table_rows:
            self.add_row(*(cells[i] for i in index), key=key)
        if self.row_count:
            self.move_cursor(row=min(row, self.row_count - 1))


def _width(cell: Any) -> int:
    return cell.cell_len if isinstance(cell, Text) else cell_len(str(cell))
