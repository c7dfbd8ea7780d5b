"""A DataTable patched by diffs: rows are added, cells updated and rows removed in one batch,
never cleared and rebuilt, so the cursor and scroll stay where the user left them."""
from __future__ import annotations

from typing import Callable

from rich.text import Text
from textual.widgets import DataTable

from .model import Diff, TableModel


class DiffTable(DataTable):
    DEFAULT_CSS = """
    DiffTable { height: 1fr; border: round $panel; }
    DiffTable:focus { border: round $accent; }
    """

    def __init__(self, columns: tuple[str, ...], style: Callable[[int, str], object] | None = None,
                 **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.column_names = columns
        self.model = TableModel()
        self._style = style

    def on_mount(self) -> None:
        for name in self.column_names:
            self.add_column(name.upper(), key=name)

    def _cell(self, index: int, value: str) -> object:
        return self._style(index, value) if self._style else value

    def apply(self, diff: Diff) -> None:
        """Patch the table with one diff (one refresh for the whole batch)."""
        if not diff:
            return
        self._remove_rows([k for k in diff.remove if k in self.rows])
        for key, index, value in diff.update:
            if key in self.rows:
                self.update_cell(key, self.column_names[index], self._cell(index, value))
        for key, cells in diff.add:
            if key not in self.rows:
                self.add_row(*(self._cell(i, c) for i, c in enumerate(cells)), key=key)
        self.border_subtitle = f"{len(self.model.shown)}/{len(self.model.rows)}" if self.model.needle \
            else str(len(self.model.rows))

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

    def set_rows(self, rows) -> None:
        self.apply(self.model.set_rows(rows))

    def set_filter(self, needle: str) -> None:
        self.apply(self.model.set_filter(needle))
        self.border_title = f"{self.border_title.split(' /')[0] if self.border_title else ''} /{needle}" \
            if needle else (self.border_title or "").split(" /")[0]

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
