"""Workbench snapshot over a fake client with fixed rows (no times): two result tabs, the current
one cut at the fetch limit (its "more rows" line), with a masked column; and the chart and
history over the same data."""
from __future__ import annotations


import pyarrow as pa
import pytest

from syscalls.errors import SyscallError
from tui.app import DataOSApp
from pilotkit import until

TABLE = pa.table({"city": [f"city-{i}" for i in range(12)], "sales": [i * 10 + 5 for i in range(12)],
                  "email": [f"u{i}@example.com" for i in range(12)]})


class FakeClient:
    def __init__(self) -> None:
        self.cancelled: list[str] = []

    def call(self, name, request=None):
        request = request or {}
        if name == "query.stream":
            limit = request.get("limit", -1)
            table = TABLE if limit < 0 else TABLE.slice(0, limit)
            return iter([
                {"id": request.get("id"), "columns": [{"name": "city", "type": "VARCHAR", "masked": False},
                                                      {"name": "sales", "type": "BIGINT", "masked": False},
                                                      {"name": "email", "type": "VARCHAR", "masked": "hash"}],
                 "governance": {"policies": ["mask-pii"], "datasets": ["dataos://lake:retail/sales"],
                                "sql": "SELECT city, sales, md5(email) AS email FROM lake.retail.sales"}},
                table.schema, *table.to_batches(max_chunksize=5), {"row_count": table.num_rows, "elapsed_ms": 7}])
        if name == "query.history":
            return [{"sql": "select city, sales from lake.retail.sales"}, {"sql": "select 1"}]
        if name == "query.cancel":
            self.cancelled.append(request["id"])
            return {}
        raise SyscallError("ENOSYS", f"{name} is not faked")

    def close(self) -> None:
        pass


async def run_fixed(pilot) -> None:
    screen = pilot.app.screen
    screen.editor.cursor_blink = False
    screen.editor.text = "select city, sales, email from lake.retail.sales"
    await pilot.press("f5")
    await until(pilot, lambda: screen.grid is not None and not screen.running and screen.grid.rows == 12)
    await pilot.pause(0.2)


async def two_results(pilot) -> None:
    await run_fixed(pilot)
    screen = pilot.app.screen
    screen.fetch_limit = 8
    screen.editor.text = "select * from lake.retail.sales"
    await pilot.press("f5")
    await until(pilot, lambda: screen.current.number == 2 and not screen.running and screen.current.overflow)
    await pilot.pause(0.2)


def test_workbench_snapshot(snap_compare):
    app = DataOSApp(lambda: FakeClient(), screen="workbench")
    assert snap_compare(app, terminal_size=(120, 40), run_before=two_results)


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
