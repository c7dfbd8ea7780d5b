"""Workbench snapshots over a fake client with fixed rows (no times), at 80×24, 120×40 and 200×60:
two result tabs, the current one cut at the fetch limit (its "more rows" line), with a masked
column; the catalog sidebar (hidden at 80 columns) opened to a dataset's columns; the chart with
its axes and column pickers. Update them deliberately (--snapshot-update) and look at them."""
from __future__ import annotations

import pytest
from pilotkit import until
from workbench_fake import FakeClient

from tui.app import DataOSApp
from tui.workbench.catalog import CatalogSidebar


async def run_fixed(pilot) -> None:
    screen = pilot.app.screen
    screen.editor.cursor_blink = False
    screen.editor.text = "select city, sales, email from lake.retail.sales"
    await pilot.press("f5")
    await until(pilot, lambda: screen.grid is not None and not screen.running and screen.grid.rows == 12)
    await pilot.pause(0.2)


async def open_catalog(pilot) -> None:
    """Open the sidebar's tree down to the columns of lake.retail.sales (when it shows)."""
    tree = pilot.app.screen.query_one(CatalogSidebar)
    if not tree.display:
        return
    node = tree.root
    for _ in range(3):
        await until(pilot, lambda parent=node: parent.children)
        node = node.children[0]
        node.expand()
    await until(pilot, lambda: len(node.children) == 4)


async def two_results(pilot) -> None:
    await open_catalog(pilot)
    await run_fixed(pilot)
    screen = pilot.app.screen
    screen.fetch_limit = 8
    screen.editor.text = "select * from lake.retail.sales"
    await pilot.press("f5")
    await until(pilot, lambda: screen.current.number == 2 and not screen.running and screen.current.overflow)
    await pilot.pause(0.2)


async def charted(pilot) -> None:
    await run_fixed(pilot)
    await pilot.press("ctrl+g")
    await pilot.pause(0.3)


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_workbench_snapshot(snap_compare, size):
    app = DataOSApp(lambda: FakeClient(), screen="workbench")
    assert snap_compare(app, terminal_size=size, run_before=two_results)


def test_workbench_chart_snapshot(snap_compare):
    app = DataOSApp(lambda: FakeClient(), screen="workbench")
    assert snap_compare(app, terminal_size=(80, 24), run_before=charted)


@pytest.mark.asyncio
async def test_chart_and_history_and_governance():
    app = DataOSApp(lambda: FakeClient(), screen="workbench")
    async with app.run_test(size=(120, 40)) as pilot:
        await run_fixed(pilot)
        screen = app.screen
        assert "mask-pii" in str(screen.query_one("#governance").render())
        assert "md5(email)" in str(screen.query_one("#governance").render())
        await pilot.press("ctrl+g")
        await pilot.pause(0.1)
        assert "sales by city" in str(screen.query_one("#chart").render())
        await pilot.press("f6")
        await until(pilot, lambda: screen.query_one("#history").option_count == 2)
        await pilot.press("enter")
        await until(pilot, lambda: screen.editor.text == "select city, sales from lake.retail.sales")
