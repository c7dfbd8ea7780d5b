"""The Workbench's results over fixed rows: tabs named after the table read, numbers right-aligned,
select-all and copy in the grid, and a chart with axes whose x and y columns can be picked."""
from __future__ import annotations

import re

import pyarrow as pa
import pytest
from pilotkit import until
from textual.widgets import Select
from workbench_fake import FakeClient, burst

from tui.app import DataOSApp
from tui.workbench.chart import ROW, chart


async def ran(pilot, sql: str):
    screen = pilot.app.screen
    before = screen._runs
    screen.editor.text = sql
    screen.editor.focus()
    await pilot.press("f5")
    await until(pilot, lambda: screen.current is not None and screen.current.number == before + 1
                and not screen.running and screen.grid.rows == 12)
    return screen


def line(grid, y: int) -> str:
    return "".join(s.text for s in grid.render_line(y))


@pytest.mark.asyncio
async def test_tabs_are_named_after_the_table_and_numbers_are_right_aligned():
    app = DataOSApp(lambda: FakeClient(), screen="workbench")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await ran(pilot, "select city, sales, email from lake.retail.sales")
        screen = await ran(pilot, "select * from (select 1) t")
        tabs = screen.query_one("#results-tabs")
        assert [str(tabs.get_tab(f"result-{n}").label) for n in (1, 2)] == ["sales 1", "query 2"]
        grid = screen.grid
        assert re.search(r"city-0 {6}5 ", line(grid, 1)), line(grid, 1)  # text left, numbers right
        assert re.search(r"city-11 +115 ", line(grid, 12))


@pytest.mark.asyncio
async def test_ctrl_a_then_ctrl_c_copies_every_row_else_the_cursor_row():
    app = DataOSApp(lambda: FakeClient(), screen="workbench")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await ran(pilot, "select city, sales, email from lake.retail.sales")
        await pilot.press("f3", "down", "ctrl+c")
        assert app.clipboard == "city\tsales\temail\ncity-1\t15\tu1@example.com\n"
        await pilot.press("f2")
        await burst(pilot, "f3", "ctrl+a", "ctrl+c")  # as fast as a terminal sends them: f3 focuses at once
        lines = app.clipboard.splitlines()
        assert len(lines) == 13 and lines[0] == "city\tsales\temail" and lines[-1] == "city-11\t115\tu11@example.com"
        await pilot.press("escape")  # unselects
        assert not screen.grid.all_selected


@pytest.mark.asyncio
async def test_the_chart_has_axes_and_its_x_column_can_be_picked():
    app = DataOSApp(lambda: FakeClient(), screen="workbench")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await ran(pilot, "select city, sales, email from lake.retail.sales")
        await pilot.press("ctrl+g")
        await until(pilot, lambda: "sales by city" in str(screen.query_one("#chart").render()))
        drawn = str(screen.query_one("#chart").render())
        assert "└┬" in drawn and "city-11 ┤" in drawn and re.search(r"\n +0 +57\.5 +115\n", drawn), drawn
        xs = screen.query_one("#chart-x", Select)
        assert xs.value == "city" and screen.query_one("#chart-y", Select).value == "sales"
        xs.focus()
        await pilot.press("enter")  # opens the list of x columns: the row number is the first
        await pilot.press("home", "enter")
        await until(pilot, lambda: "sales over row (12 rows)" in str(screen.query_one("#chart").render()))
        drawn = str(screen.query_one("#chart").render())
        assert "115 ┤" in drawn and "  0 ┤" in drawn  # the value axis, top and bottom


def test_a_chart_of_the_first_rows_says_so():
    drawn = str(chart(pa.table({"v": list(range(1000))}), 60, 12, x=ROW, total=5840))
    assert drawn.startswith("v over row (first 1,000 of 5,840 rows)")
    assert "999 ┤" in drawn and "\n  0 ┤" in drawn
