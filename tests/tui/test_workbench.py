"""Workbench against an embedded kernel with a small file depot: run a query and see its rows,
a masked column marked, an error in the pane, cancel a slow query, jump to the last row of a
200,000-row result read through the spool, export to parquet."""
from __future__ import annotations

import os

import pyarrow.parquet as pq
import pytest
from pilotkit import PEOPLE_SQL, Shared, lake_kernel, until

from tui.app import DataOSApp
from tui.workbench import saved
from tui.workbench.completion import CompletionList
from tui.workbench.export import ExportModal
from tui.workbench.prompt import PromptModal
from tui.workbench.saved import SavedQueriesProvider
from tui.workbench.screen import WorkbenchScreen, statement_at

PEOPLE = "dataos://lake:crm/people"


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    yield from lake_kernel(tmp_path_factory.mktemp("workbench"), {"people": PEOPLE_SQL, "big": "SELECT i AS id, i * 2 AS twice, 'row' || i AS label FROM range(200000) t(i)"})


def app_for(client) -> DataOSApp:
    return DataOSApp(lambda: Shared(client), screen="workbench")


async def run(pilot, app, sql: str, key: str = "f5") -> WorkbenchScreen:
    """Type `sql`, run it, and wait for its result tab to be the current one."""
    screen = app.screen
    assert isinstance(screen, WorkbenchScreen)
    before = screen._runs
    editor = screen.query_one("#editor")
    editor.text = sql
    editor.focus()
    await pilot.press(key)
    await until(pilot, lambda: screen.current is not None and screen.current.number == before + 1)
    return screen


async def ran(pilot, app, sql: str, key: str = "f5", timeout: float = 20) -> WorkbenchScreen:
    """`run`, then wait for the query to end."""
    screen = await run(pilot, app, sql, key)
    await until(pilot, lambda: not screen.running, timeout=timeout)
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
        screen = await ran(pilot, app, "select id, name from lake.crm.people order by id")
        grid = screen.grid
        assert grid.rows == 50 and "50 rows" in status(screen)
        assert grid.visible_text()[0].split()[:2] == ["0", "n0"]
        assert "lake" in str(screen.query_one("#governance").render())


@pytest.mark.asyncio
async def test_masked_column_is_marked(kernel):
    op, analyst = kernel
    op.catalog.tag(ref=f"{PEOPLE}#email", tag="PII.Email")
    try:
        app = app_for(analyst)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await ran(pilot, app, "select id, email from lake.crm.people order by id", key="ctrl+r")
            grid = screen.grid
            assert grid.rows == 50
            email = next(c for c in grid.columns if c["name"] == "email")
            assert email["masked"]
            assert "⊘" in grid.title_of(email)
            assert "p0@example.com" not in grid.visible_text()[0]
            assert "⊘" in "".join(s.text for s in grid.render_line(0))
            assert "1 policy applied (f4)" in status(screen)
            await pilot.press("f4")
            await until(pilot, lambda: screen.query_one("#tabs").active == "gov")
            shown = str(screen.query_one("#governance").render())
            assert "policies applied: pii-email" in shown and "masked columns: email" in shown
    finally:
        op.catalog.tag(ref=f"{PEOPLE}#email", tag="PII.Email", remove=True)


@pytest.mark.asyncio
async def test_error_shows_in_the_pane(kernel):
    op, _ = kernel
    app = app_for(op)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await ran(pilot, app, "select nope from lake.crm.people")
        assert screen.error is not None
        pane = str(screen.current.query_one(".error").render())
        assert screen.error.code in pane
        # the screen still works
        screen = await ran(pilot, app, "select 1 as one")
        assert screen.grid.rows == 1 and screen.error is None


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
async def test_over_the_fetch_limit_says_more_rows_and_fetches_all_then_jumps_to_the_last(kernel):
    op, _ = kernel
    app = app_for(op)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert screen.fetch_limit == 100_000  # the default
        screen = await ran(pilot, app, "select id, twice, label from lake.crm.big order by id", timeout=60)
        view, grid = screen.current, screen.grid
        assert grid.rows == 100_000 and view.overflow
        assert "100,000+ rows" in status(screen) and "ctrl+l fetches all" in status(screen)
        assert "ctrl+l fetches all" in str(view.query_one(".more").render())
        assert view.query_one(".more").display
        tab = screen.query_one("#results-tabs").get_tab("result-1")
        assert "100,000+" in str(tab.label)
        cut = screen.spool.path
        await pilot.press("ctrl+l")
        await until(pilot, lambda: not screen.running and grid.rows == 200_000, timeout=60)
        assert not os.path.exists(cut) and os.path.exists(screen.spool.path)
        assert not view.overflow and not view.query_one(".more").display
        assert "200,000 rows" in status(screen) and "+" not in str(tab.label)
        assert screen.spool.done and screen.spool.head_rows <= 10_000
        assert sum(b.num_rows for b in screen.spool.head) < 200_000  # only a head in memory
        grid.focus()
        await pilot.press("end")
        await pilot.pause(0.1)
        assert grid.cursor == 199_999
        assert grid.visible_text()[-1].split()[0] == "199999"
        assert len(grid._cache) <= 400  # the grid holds a window


@pytest.mark.asyncio
async def test_the_fetch_limit_comes_from_the_environment(kernel, monkeypatch):
    op, _ = kernel
    monkeypatch.setenv("DATAOS_TUI_FETCH_LIMIT", "50")
    app = app_for(op)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await ran(pilot, app, "select id from lake.crm.people")  # exactly 50 rows: they fit
        assert screen.grid.rows == 50 and not screen.current.overflow and status(screen).startswith("50 rows")
        screen = await ran(pilot, app, "select id from lake.crm.big")
        assert screen.grid.rows == 50 and screen.current.overflow and "50+ rows" in status(screen)


@pytest.mark.asyncio
async def test_each_run_opens_a_result_tab_and_ctrl_w_closes_one(kernel):
    op, _ = kernel
    app = app_for(op)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await ran(pilot, app, "select id, name from lake.crm.people order by id")
        first = screen.current
        screen = await ran(pilot, app, "select 7 as seven")
        second = screen.current
        tabs = screen.query_one("#results-tabs")
        assert [p.id for p in tabs.query("TabPane")] == ["result-1", "result-2"]
        assert str(tabs.get_tab("result-2").label) == "query 2"  # no table read: "query"
        assert second.grid.visible_text() == ["7"] and "1 row in" in status(screen)
        assert "result 2" in str(screen.query_one("#governance").render())
        # the earlier result is still there, with its own rows, status and governance: switching
        # result tabs on the Governance tab shows the other result's
        screen.query_one("#tabs").active = "gov"
        await pilot.press("alt+left")
        await until(pilot, lambda: screen.current is first)
        assert screen.query_one("#tabs").active == "gov"
        assert "result 1" in str(screen.query_one("#governance").render())
        assert first.grid.rows == 50 and first.grid.visible_text()[0].split()[:2] == ["0", "n0"]
        assert "50 rows" in status(screen)
        await pilot.press("alt+right")
        await until(pilot, lambda: screen.current is second)
        assert "result 2" in str(screen.query_one("#governance").render())
        await pilot.press("alt+left")
        await until(pilot, lambda: screen.current is first)
        screen.query_one("#tabs").active = "results"
        # ctrl+w closes the current tab and deletes its spool
        spool_path = first.spool.path
        await pilot.press("ctrl+w")
        await until(pilot, lambda: screen.current is second and len(tabs.query("TabPane")) == 1)
        assert not os.path.exists(spool_path) and first.closed
        await pilot.press("ctrl+w")
        await until(pilot, lambda: screen.current is None)
        assert "ready" in status(screen) and not screen.results


@pytest.mark.asyncio
async def test_result_tabs_are_capped_and_the_oldest_spool_is_deleted(kernel, monkeypatch):
    from tui.workbench import screen as wb
    monkeypatch.setattr(wb, "MAX_RESULTS", 3)
    op, _ = kernel
    app = app_for(op)
    async with app.run_test(size=(120, 40)) as pilot:
        paths = []
        for i in range(4):
            screen = await ran(pilot, app, f"select {i} as n")
            paths.append(screen.spool.path)
        assert [v.number for v in screen.results] == [2, 3, 4]
        await until(pilot, lambda: len(screen.query_one("#results-tabs").query("TabPane")) == 3)
        assert not os.path.exists(paths[0]) and all(os.path.exists(p) for p in paths[1:])


@pytest.mark.asyncio
async def test_export_to_parquet(kernel, tmp_path):
    op, _ = kernel
    app = app_for(op)
    out = tmp_path / "people.parquet"
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await ran(pilot, app, "select id, name from lake.crm.people")
        assert screen.grid.rows == 50
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


@pytest.mark.asyncio
async def test_completion_popup_lists_candidates_and_inserts_the_chosen_one(kernel):
    op, _ = kernel
    app = app_for(op)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        editor, popup = screen.editor, screen.query_one(CompletionList)
        editor.text = "select * from lake.crm."
        editor.move_cursor((0, len(editor.text)))
        editor.focus()
        await until(pilot, lambda: {"big", "people"} <= {t for t, _ in editor.completions()})
        await pilot.press("tab")
        await until(pilot, lambda: popup.shown)
        assert popup.display and {"big", "people"} <= {t for t, _ in popup.candidates}
        assert popup.region.y == editor.cursor_screen_offset.y + 1  # under the cursor
        await pilot.press("escape")  # closes the popup, leaves the text
        assert not popup.shown and editor.text == "select * from lake.crm."
        await pilot.press("ctrl+space")
        await until(pilot, lambda: popup.shown)
        await pilot.press("p")  # typing narrows it
        await until(pilot, lambda: [t for t, _ in popup.candidates] == ["people"])
        await pilot.press("enter")
        assert editor.text == "select * from lake.crm.people" and not popup.shown
        # a column of the dataset, chosen with the arrows
        editor.text = "select * from lake.crm.people where "
        editor.move_cursor((0, len(editor.text)))
        await until(pilot, lambda: "email" in [t for t, _ in editor.completions()])  # columns load lazily
        await pilot.press("tab")
        await until(pilot, lambda: popup.shown)
        names = [t for t, _ in popup.candidates]
        assert "email" in names, names
        for _ in range(names.index("email")):
            await pilot.press("down")
        await pilot.press("tab")
        assert editor.text == "select * from lake.crm.people where email", editor.text
        # a click on a candidate chooses it too
        editor.text = "select * from lake.crm."
        editor.move_cursor((0, len(editor.text)))
        await pilot.press("tab")
        await until(pilot, lambda: popup.shown)
        row = [t for t, _ in popup.candidates].index("people")
        await pilot.click(CompletionList, offset=(3, 1 + row))
        await until(pilot, lambda: editor.text == "select * from lake.crm.people")
        assert not popup.shown and editor.has_focus


@pytest.mark.asyncio
async def test_save_a_query_then_open_it_from_the_command_palette(kernel, monkeypatch, tmp_path):
    monkeypatch.setenv("DATAOS_HOME", str(tmp_path))
    op, _ = kernel

    monkeypatch.setattr(DataOSApp, "COMMANDS", DataOSApp.COMMANDS | {SavedQueriesProvider})  # as the app will
    app = app_for(op)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        screen.editor.text = "select count(*) from lake.crm.people"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, PromptModal))
        app.screen.query_one("#path").value = "people count"
        await pilot.press("enter")
        await until(pilot, lambda: app.screen is screen and "saved as" in status(screen))
        assert saved.list_saved() == [("people count", "select count(*) from lake.crm.people")]
        assert saved.path().is_relative_to(tmp_path)
        screen.editor.text = ""
        await pilot.press("ctrl+p")
        await until(pilot, lambda: app.screen is not screen)
        await pilot.press(*"people count")
        await until(pilot, lambda: "saved query people count" in app.screen.query_one("CommandList").get_option_at_index(0).prompt.plain
                    if app.screen.query_one("CommandList").option_count else False)
        await pilot.press("enter")
        await until(pilot, lambda: screen.editor.text == "select count(*) from lake.crm.people")
        await pilot.press("f5")
        await until(pilot, lambda: screen.grid is not None and not screen.running and screen.grid.rows == 1)
        assert screen.grid.visible_text() == ["50"]


def test_spools_of_gone_processes_are_swept(tmp_path):
    import subprocess
    import sys

    from tui.workbench.spool import sweep
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    left = tmp_path / f"dataos-wb-{dead}-abc.arrow"
    mine = tmp_path / f"dataos-wb-{os.getpid()}-abc.arrow"
    other = tmp_path / "something-else.arrow"
    for p in (left, mine, other):
        p.write_bytes(b"x")
    assert sweep(str(tmp_path)) == 1
    assert not left.exists() and mine.exists() and other.exists()


@pytest.mark.asyncio
async def test_columns_that_load_after_the_popup_opened_join_it_at_the_top(kernel):
    op, _ = kernel
    app = app_for(op)
    async with app.run_test(size=(120, 40)) as pilot:
        editor, popup = app.screen.editor, app.screen.query_one(CompletionList)
        editor.text = "select * from lake.crm.people where "
        editor.move_cursor((0, len(editor.text)))
        editor.focus()
        await pilot.press("ctrl+space")  # a fresh snapshot: the columns are not loaded yet
        await until(pilot, lambda: popup.shown and popup.candidates[0][0] in ("email", "id", "name"))
        assert popup.highlighted == 0
        first = popup.candidates[0][0]
        await pilot.press("enter")
        assert editor.text == f"select * from lake.crm.people where {first}"
