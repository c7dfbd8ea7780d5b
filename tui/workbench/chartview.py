"""The Chart tab: two small selectors (the x column, or the row number; the numeric y column) over
the chart of the current result's first rows. A choice stays while the columns stay."""
from __future__ import annotations

import pyarrow as pa
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label, Select, Static

from .chart import ROW, chart, default_axes, numeric

HINT = "ctrl+g charts the result"


class ChartView(Vertical):
    DEFAULT_CSS = """
    ChartView { height: 1fr; }
    ChartView > Horizontal { height: 1; padding: 0 1; }
    ChartView > Horizontal.-empty { display: none; }
    ChartView Label { padding: 0 1 0 0; }
    ChartView Select { width: 28; margin: 0 2 0 0; }
    ChartView #chart { padding: 0 1; height: 1fr; }
    """

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.table: pa.Table | None = None
        self.total: int | None = None
        self.picked: tuple[str, str] | None = None  # the user's (x, y)

    def compose(self) -> ComposeResult:
        with Horizontal(classes="-empty"):
            yield Label("x")
            yield Select([("row number", ROW)], id="chart-x", compact=True, allow_blank=False)
            yield Label("y")
            yield Select([("none", "")], id="chart-y", compact=True, allow_blank=False)
        yield Static(HINT, id="chart")

    def show(self, table: pa.Table | None, note: str = HINT, total: int | None = None) -> None:
        """Chart `table`, the first rows of `total` (None: say `note`); the selectors offer its columns."""
        self.table, self.total = table, total
        self.query_one(Horizontal).set_class(table is None, "-empty")
        if table is None:
            self.query_one("#chart", Static).update(note)
            return
        xs, ys = self.query_one("#chart-x", Select), self.query_one("#chart-y", Select)
        names = table.schema.names
        x_options = [("row number", ROW)] + [(n, n) for n in names]
        y_options = [(f.name, f.name) for f in table.schema if numeric(f.type)] or [("none", "")]
        dx, dy = default_axes(table.schema)
        x, y = self.picked or (dx, dy)
        with self.prevent(Select.Changed):
            xs.set_options(x_options)
            ys.set_options(y_options)
            xs.value = x if x == ROW or x in names else dx
            ys.value = y if (y, y) in y_options else dy or ""
        self.draw()

    def draw(self) -> None:
        box = self.query_one("#chart", Static)
        if self.table is None:
            return
        x, y = self.query_one("#chart-x", Select).value, self.query_one("#chart-y", Select).value
        size = box.content_size
        box.update(chart(self.table, max(20, size.width), max(8, size.height), x=str(x), y=str(y) or None,
                         total=self.total))

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        if self.table is None:  # the selectors' first values, not a pick
            return
        self.picked = (str(self.query_one("#chart-x", Select).value), str(self.query_one("#chart-y", Select).value))
        self.draw()

    def on_resize(self) -> None:
        self.call_after_refresh(self.draw)
