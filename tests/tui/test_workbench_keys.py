"""The Workbench's keys: what is typed in the editor goes into the editor, in the order typed, even
in a burst (a paste-like flurry, a fast typist); escape leaves the editor so that 1/2/3 switch
screens; ctrl+j runs; ctrl+a selects all; the footer shows the keys that matter, even at 80×24."""
from __future__ import annotations

import pytest
from pilotkit import until
from textual.widgets._footer import FooterKey
from workbench_fake import FakeClient, burst

from tui.app import DataOSApp


def workbench() -> DataOSApp:
    return DataOSApp(lambda: FakeClient(), screen="workbench")


def footer_keys(app) -> list[str]:
    """The footer's keys that are fully on screen (left of the palette's, docked right), in order."""
    keys = [k for k in app.screen.query(FooterKey) if k.region.width]
    palette = next((k.region.x for k in keys if k.key == "ctrl+p"), app.size.width)
    return [k.key for k in sorted(keys, key=lambda k: k.region.x) if k.key == "ctrl+p" or k.region.right <= palette]


@pytest.mark.asyncio
async def test_keys_typed_in_a_burst_land_in_the_editor_in_order():
    app = workbench()
    async with app.run_test(size=(80, 24)) as pilot:
        editor = app.screen.editor
        editor.text = "select city from lake.retail.sales group by "
        editor.move_cursor((0, len(editor.text)))
        # typo fixed at speed: the backspace must delete the 3, not whatever came after it
        await burst(pilot, "3", "backspace", "1", "space", "2", "left", "left", "backspace", "1")
        assert editor.text == "select city from lake.retail.sales group by 1 2", editor.text
        # a digit is typed, never a screen switch, and never lands after a later key
        await burst(pilot, "home", "3")
        assert editor.text.startswith("3select") and app.current_mode == "workbench"


@pytest.mark.asyncio
async def test_escape_leaves_the_editor_then_digits_switch_screens():
    app = workbench()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert screen.editor.has_focus
        await until(pilot, lambda: "escape" in footer_keys(app))
        assert "1" not in footer_keys(app)  # digits type here: the footer does not offer them
        await pilot.press("3")
        assert screen.editor.text == "3" and app.current_mode == "workbench"
        await pilot.press("escape")
        await until(pilot, lambda: not screen.editor.has_focus and {"1", "2", "3"} <= set(footer_keys(app)))
        await pilot.press("3")
        await until(pilot, lambda: app.current_mode == "atlas")
        await pilot.press("2")
        await until(pilot, lambda: app.current_mode == "workbench")
        await pilot.press("f2")
        assert screen.editor.has_focus and screen.editor.text == "3"


@pytest.mark.asyncio
async def test_ctrl_j_runs_and_the_footer_shows_the_main_keys_at_80_columns():
    app = workbench()
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        await until(pilot, lambda: footer_keys(app)[:5] == ["ctrl+j", "escape", "f2", "f3", "ctrl+b"])
        screen.editor.text = "select city, sales from lake.retail.sales"
        await pilot.press("ctrl+j")
        await until(pilot, lambda: screen.grid is not None and not screen.running and screen.grid.rows == 12)
        await pilot.press("f3")
        assert screen.grid.has_focus
        await pilot.press("f2")
        assert screen.editor.has_focus


@pytest.mark.asyncio
async def test_ctrl_a_selects_all_of_the_editor():
    app = workbench()
    async with app.run_test(size=(80, 24)) as pilot:
        editor = app.screen.editor
        editor.text = "select 1;\nselect 2"
        await pilot.press("ctrl+a")
        assert editor.selected_text == "select 1;\nselect 2"
        await pilot.press("x")
        assert editor.text == "x"
