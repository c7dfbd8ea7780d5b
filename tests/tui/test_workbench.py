"""Workbench against an embedded kernel with a small file depot: run a query and see its rows,
a masked column marked, an error in the pane, cancel a slow query, jump to the last row of a
200,000-row result read through the spool, export to parquet."""
from __future__ import annotations


import pyarrow.parquet as pq
import pytest

from tui.app import DataOSApp
from tui.workbench.export import ExportModal
from tui.workbench.grid import ResultGrid
from tui.workbench.screen import WorkbenchScreen, statement_at
from pilotkit import PEOPLE_SQL, Shared, lake_kernel, until

PEOPLE = "dataos://lake:crm/people"


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    yield from lake_kernel(tmp_path_factory.mktemp("workbench"), {"people": PEOPLE_SQL, "big": "SELECT i AS id, i * 2 AS twice, 'row' || i AS label FROM range(200000) t(i)"})


def app_for(client) -> DataOSApp:
    return DataOSApp(lambda: Shared(client), screen="workbench")


async def run(pilot, app, sql: str, key: str = "f5") -> WorkbenchScreen:
    screen = app.screen
    assert isinstance(screen, WorkbenchScreen)
    editor = screen.query_one("#editor")
    editor.text = sql
    editor.focus()
    await pilot.press(key)
    return screen


def status(screen) -> str:
    return str(screen.query_one("#status").render())


def test_statement_under_the_cursor():
    text = "select 1;\nselect 'a;b' as x;\nselect 3"
    assert statement_at(text, 3) == "select 1"
    assert statement_at(text, 14) == "select 'a;b' as x"
    assert statement_at(text, len(text)) == "select 3"


@pytest.mark.asyncio
async def test_run_a_query_shows_rows_and_count(kernel):
    op, _ = kernel
    app = app_for(op)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await run(pilot, app, "select id, name from lake.crm.people order by id")
        grid = screen.query_one(ResultGrid)
        await until(pilot, lambda: not screen.running and grid.rows == 50)
        assert "50 rows" in status(screen)
        assert grid.visible_text()[0].split()[:2] == ["0", "n0"]
        assert "lake" in str(screen.query_one("#governance").render())


@pytest.mark.asyncio
async def test_masked_column_is_marked(kernel):
    op, analyst = kernel
    op.catalog.tag(ref=f"{PEOPLE}#email", tag="PII.Email")
    try:
        app = app_for(analyst)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await run(pilot, app, "select id, email from lake.crm.people order by id", key="ctrl+r")
            grid = screen.query_one(ResultGrid)
            await until(pilot, lambda: not screen.running and grid.rows == 50)
            email = next(c for c in grid.columns if c["name"] == "email")
            assert email["masked"]
            assert "⊘" in grid.title_of(email)
            assert "p0@example.com" not in grid.visible_text()[0]
            assert "⊘" in "".join(s.text for s in grid.render_line(0))
    finally:
        op.catalog.tag(ref=f"{PEOPLE}#email", tag="PII.Email", remove=True)


@pytest.mark.asyncio
async def test_error_shows_in_the_pane(kernel):
    op, _ = kernel
    app = app_for(op)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await run(pilot, app, "select nope from lake.crm.people")
        await until(pilot, lambda: screen.error is not None and not screen.running)
        pane = str(screen.query_one("#error").render())
        assert screen.error.code in pane
        # the screen still works
        screen = await run(pilot, app, "select 1 as one")
        await until(pilot, lambda: not screen.running and screen.query_one(ResultGrid).rows == 1)


@pytest.mark.asyncio
async def test_cancel_a_slow_query(kernel):
    op, _ = kernel
    app = app_for(op)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await run(pilot, app, "select count(*) from lake.crm.big a, lake.crm.big b where a.id * b.twice = -1")
        await until(pilot, lambda: screen.running)
        await pilot.pause(0.3)
        await pilot.press("escape")
        await until(pilot, lambda: not screen.running, timeout=20)
        assert screen.error is not None and screen.error.code == "ECANCELED"


@pytest.mark.asyncio
async def test_jump_to_the_last_row_reads_the_spool(kernel):
    op, _ = kernel
    app = app_for(op)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await run(pilot, app, "select id, twice, label from lake.crm.big order by id")
        grid = screen.query_one(ResultGrid)
        await until(pilot, lambda: not screen.running and grid.rows == 200_000, timeout=60)
        assert screen.spool.done and screen.spool.head_rows <= 10_000
        assert sum(b.num_rows for b in screen.spool.head) < 200_000  # only a head in memory
        grid.focus()
        await pilot.press("end")
        await pilot.pause(0.1)
        assert grid.cursor == 199_999
        assert grid.visible_text()[-1].split()[0] == "199999"
        assert len(grid._cache) <= 400  # the grid holds a window


@pytest.mark.asyncio
async def test_export_to_parquet(kernel, tmp_path):
    op, _ = kernel
    app = app_for(op)
    out = tmp_path / "people.parquet"
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await run(pilot, app, "select id, name from lake.crm.people")
        await until(pilot, lambda: not screen.running and screen.query_one(ResultGrid).rows == 50)
        await pilot.press("ctrl+e")
        await until(pilot, lambda: isinstance(app.screen, ExportModal))
        app.screen.query_one("#path").value = str(out)
        await pilot.press("enter")
        await until(pilot, lambda: out.exists() and "exported" in status(screen))
    assert pq.read_table(out).num_rows == 50


@pytest.mark.asyncio
async def test_tab_completes_a_dataset_from_the_catalog(kernel):
    op, _ = kernel
    app = app_for(op)
    async with app.run_test(size=(120, 40)) as pilot:
        editor = app.screen.editor
        editor.text = "select * from lake.crm.peo"
        editor.move_cursor((0, len(editor.text)))
        editor.focus()
        await until(pilot, lambda: any("people" in t for t, _ in editor.completions()))
        await pilot.press("tab")
        assert editor.text.startswith("select * from lake.crm.people"), editor.text
