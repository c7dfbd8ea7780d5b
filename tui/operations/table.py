"""A DataTable patched by diffs: rows are added, cells updated and rows removed, never cleared
and rebuilt, so the cursor stays on its row and the scroll where the user left it. A big table's
diff is computed in a thread and applied in slices (BENCHMARKS.md, issue 7: where the time goes)."""
from __future__ import annotations

import asyncio
from typing import Callable

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable
from textual.widgets._data_table import ColumnKey

from ..columns import fitting, room
from .model import Diff, TableModel


class DiffTable(DataTable):
    """With `threaded`, the model (rows → filter → diff) runs in a thread, one patch at a time, and
    the UI thread applies each diff in slices of SLICE operations, yielding to key presses
    between slices.

    Columns share the width by content (tui/columns.py): when they do not all fit, the last ones in
    `keep` (the order of what matters) are left out whole."""

    DEFAULT_CSS = """
    DiffTable { height: 1fr; border: round $panel; }
    DiffTable:focus { border: round $accent; }
    """
    SLICE = 250

    def __init__(self, columns: tuple[str, ...], style: Callable[[int, str], object] | None = None,
                 threaded: bool = False, keep: tuple[str, ...] = (), **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.column_names = columns
        self.keep = keep + tuple(c for c in columns if c not in keep)
        self.widths = {name: cell_len(name) for name in columns}  # the widest value each column had
        self.shown_columns = columns
        self.model = TableModel()
        self.threaded = threaded
        self.needle = ""  # the filter as typed; a threaded model catches up with it
        self._style = style
        self._lane: asyncio.Lock | None = None

    def on_mount(self) -> None:
        self._add_columns(self.column_names)

    def _add_columns(self, names: tuple[str, ...]) -> None:
        self.shown_columns = names
        for name in names:
            self.add_column(name.upper(), key=name)
            self.columns[ColumnKey(name)].content_width = self.widths[name]

    def on_resize(self) -> None:
        self.fit_columns()

    def fit_columns(self) -> None:
        """Show the columns that fit whole, most important first (the first always)."""
        space = room(self)
        if space <= 0:
            return
        fits = fitting(self.widths, self.keep, space)
        shown = tuple(name for name in self.column_names if name in fits)
        if shown != self.shown_columns:
            selected = self.selected_key
            self.clear(columns=True)
            self._add_columns(shown)
            self._add_rows(list(self.model.shown.items()))
            self._keep_cursor(selected)

    # DataTable rebuilds its ordered rows and line offsets whenever any cell changes (10,000 rows:
    # a stall on every tick, and on the next key press); here they are rebuilt only when rows
    # come, go or move: adding grows the locations, removing and reordering replace them.
    def _row_layout(self) -> tuple:
        locations = self._row_locations
        cached = getattr(self, "_ordered_layout", None)
        if cached is None or cached[0] is not locations or cached[1] != len(locations):
            rows = self.rows
            ordered = [rows[key] for key in map(locations.get_key, range(len(locations)))]
            offsets = [(row.key, y) for row in ordered for y in range(row.height)]
            cached = self._ordered_layout = (locations, len(locations), ordered, offsets)
        return cached

    @property
    def ordered_rows(self) -> list:
        return self._row_layout()[2]

    @property
    def _y_offsets(self) -> list:
        return self._row_layout()[3]

    def _cell(self, index: int, value: str) -> object:
        return self._style(index, value) if self._style else value

    # --- the model, on the UI thread (small tables) or in a thread (big ones) -------------------
    def set_rows(self, rows) -> None:
        """Small tables: compute and apply now."""
        self.apply(self.model.set_rows(rows))

    async def patch(self, compute: Callable[[TableModel], Diff]) -> None:
        """Run `compute(model)` in a thread, then apply its diff in slices; patches run one at a
        time in the order asked (a caller that polls skips its tick while one is running)."""
        if self._lane is None:
            self._lane = asyncio.Lock()
        async with self._lane:
            diff = await asyncio.to_thread(compute, self.model)
            await self.apply_sliced(diff)

    def set_filter(self, needle: str) -> None:
        self.needle = needle
        if self.threaded:
            self.run_worker(self._refilter(), group="filter")
        else:
            self.apply(self.model.set_filter(needle))
        self._titles()

    async def _refilter(self) -> None:
        def compute(model: TableModel) -> Diff:
            # Keys typed while an earlier filter ran: only the latest needle is computed.
            return model.set_filter(self.needle) if model.needle != self.needle else Diff()
        await self.patch(compute)

    # --- the renderer ---------------------------------------------------------------------------
    def apply(self, diff: Diff) -> None:
        """Patch the table with one diff at once (one refresh for the whole batch)."""
        for _ in self._steps(diff, len(diff) + 1):
            pass

    async def apply_sliced(self, diff: Diff) -> None:
        for _ in self._steps(diff, self.SLICE):
            await asyncio.sleep(0)  # a key press waiting is handled here

    def _steps(self, diff: Diff, size: int):
        """Apply `diff`, yielding after every `size` operations; the cursor stays on its row."""
        for _ in self._patch_steps(diff, size):
            self._drop_stale_renders()
            yield
        self._drop_stale_renders()
        self._titles()
        self.fit_columns()

    def _caches(self) -> tuple:
        return self._row_render_cache, self._cell_render_cache, self._row_renderable_cache, self._line_cache

    def _drop_stale_renders(self) -> None:
        """DataTable caches renders (up to 10,000 cells) under its update count: once rows come
        or go, the old entries can never be hit again. Dropped now they are freed at once; left to
        age out they reach the oldest GC generation, which each full collection walks."""
        if getattr(self, "_renders_for", None) != self._update_count:
            self._renders_for = self._update_count
            for cache in self._caches():
                cache.clear()

    def _update_cells(self, updates: list[tuple[str, int, str]]) -> None:
        """Patch cells without DataTable.update_cell's bump of the update count, which throws away
        every cached render (the whole visible table is drawn again, ~30 ms, on every tick):
        only the changed rows' renders are dropped, and only those lines are drawn again."""
        from textual.widgets._data_table import RowKey
        data, rows = self._data, set()
        columns = [ColumnKey(name) for name in self.column_names]
        for key, index, value in updates:
            row_key = RowKey(key)
            cells = data.get(row_key)
            if cells is not None and columns[index] in cells:
                cells[columns[index]] = self._cell(index, value)
                rows.add(row_key)
        if not rows:
            return
        by_row, by_cell, renderables, lines = self._caches()
        indexes = {self._row_locations.get(key) for key in rows}
        top = self.header_height if self.show_header else 0
        ys = {top + i for i in indexes if i is not None}  # every row is one line high
        for cache, stale in ((by_row, lambda k: k[0] in rows), (by_cell, lambda k: k[0] in rows),
                             (renderables, lambda k: k[1] in indexes), (lines, lambda k: k[0] in ys)):
            for key in [k for k in cache.keys() if stale(k)]:
                cache.discard(key)
        self.refresh()

    def _patch_steps(self, diff: Diff, size: int):
        if diff:
            selected = self.selected_key
            self._remove_rows([k for k in diff.remove if k in self.rows])
            if diff.remove:
                self._keep_cursor(selected)
            self._widen(diff.widths)
            for start in range(0, len(diff.update), size):
                self._update_cells(diff.update[start:start + size])
                yield
            if diff.add:
                adds = [(k, cells) for k, cells in diff.add if k not in self.rows]
                for start in range(0, len(adds), 4 * size):  # adding a row is cheap: 4 a step
                    self._add_rows(adds[start:start + 4 * size])
                    yield
            if diff.order:
                self._reorder(diff.order)

    def _widen(self, widths: list[int]) -> None:
        """Columns grow to fit new values (a phase going Running → Succeeded is not cut off)."""
        for name, width in zip(self.column_names, widths):
            self.widths[name] = max(self.widths[name], width)
        grew = False
        for column in self.ordered_columns:
            width = self.widths[column.key.value]
            if width > column.content_width:
                column.content_width, grew = width, True
        if grew:
            self._require_update_dimensions = True
            self._update_count += 1
            self.check_idle()
            self.refresh(layout=True)

    def _add_rows(self, rows: list[tuple[str, tuple[str, ...]]]) -> None:
        """Append rows in one pass: DataTable.add_row measures every new row's cells on the next
        idle (10,000 rows: a second on the UI thread); the model measured them in its thread."""
        from textual.widgets._data_table import Row, RowKey
        locations, data, meta, cell = self._row_locations, self._data, self.rows, self._cell
        shown = set(self.shown_columns)
        columns = [(i, ColumnKey(name)) for i, name in enumerate(self.column_names) if name in shown]
        index = first = len(locations)
        for key, cells in rows:
            row_key = RowKey(key)
            locations[row_key] = index
            data[row_key] = {c: cell(i, cells[i]) for i, c in columns}
            meta[row_key] = Row(row_key, height=1)
            index += 1
        self._require_update_dimensions = True  # the virtual size; there are no rows to measure
        self.cursor_coordinate = self.cursor_coordinate
        if first == 0 and rows and columns and self.show_cursor and self.cursor_type != "none":
            self._highlight_cursor()  # as add_row does: a cursor can be shown where there was none
        self._update_count += 1
        self.check_idle()
        self.refresh(layout=True)

    def _titles(self) -> None:
        model = self.model
        self.border_subtitle = f"{len(model.shown)}/{len(model.rows)}" if model.needle else str(len(model.rows))
        base = (self.border_title or "").split(" /")[0]
        self.border_title = f"{base} /{self.needle}" if self.needle else base

    def _keep_cursor(self, key: str | None) -> None:
        if key is not None and key in self.rows and self.selected_key != key:
            self.move_cursor(row=self.get_row_index(key))

    def _reorder(self, order: list[str]) -> None:
        """Put the rows in the model's order (rows a cleared filter brings back go where they were)."""
        from textual.widgets._data_table import RowKey, TwoWayDict
        selected = self.selected_key
        self._row_locations = TwoWayDict({RowKey(k): i for i, k in enumerate(k for k in order if k in self.rows)})
        self._update_count += 1
        self.refresh()
        self._keep_cursor(selected)

    def _remove_rows(self, keys: list[str]) -> None:
        """Remove many rows in one pass (DataTable.remove_row renumbers every row: O(n) each)."""
        if len(keys) < 8 or not hasattr(self, "_row_locations"):
            for key in keys:
                self.remove_row(key)
            return
        from textual.widgets._data_table import CellKey, RowKey, TwoWayDict
        gone = {RowKey(k) for k in keys}
        for key in gone:
            for column_key in self._data.get(key, {}):
                self._updated_cells.discard(CellKey(key, column_key))
            del self.rows[key]
            del self._data[key]
        kept = sorted((index, key) for key, index in
                      ((k, self._row_locations.get(k)) for k in list(self._row_locations)) if key not in gone)
        self._row_locations = TwoWayDict({key: i for i, (_, key) in enumerate(kept)})
        self._require_update_dimensions = True
        self.cursor_coordinate = self.cursor_coordinate
        self.hover_coordinate = self.hover_coordinate
        self._update_count += 1
        self.check_idle()
        self.refresh(layout=True)

    @property
    def selected_key(self) -> str | None:
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:
            return None

    def select_key(self, key: str) -> bool:
        if key not in self.rows:
            return False
        self.move_cursor(row=self.get_row_index(key))
        return True


def phase_style(index: int, value: str) -> object:
    from .model import PHASE_STYLE
    if index == 1 and value in PHASE_STYLE:
        return Text(value, style=PHASE_STYLE[value])
    return value
