"""The Workbench's catalog sidebar against an embedded kernel: depots → collections → datasets →
columns with types, loaded as they open and governed (the analyst does not see the collection no
policy lets them read); enter inserts the node's SQL name at the editor's cursor, quoted when it
must be; ctrl+b shows and hides it, and at 80 columns it starts hidden."""
from __future__ import annotations

import duckdb
import pytest
from pilotkit import Shared, lake_kernel, until

from tui.app import DataOSApp
from tui.workbench.catalog import CatalogSidebar


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wbcatalog")
    for op, analyst in lake_kernel(tmp, {"orders": "SELECT i AS id, i * 2 AS \"order\", 'n' || i AS name FROM range(5) t(i)"}):
        (tmp / "lake" / "hr").mkdir()
        duckdb.sql(f"COPY (SELECT 1 AS salary) TO '{tmp}/lake/hr/pay.parquet'")
        list(op.catalog.scan(depot="lake"))
        yield op, analyst


def labels(node) -> list[str]:
    return [str(child.label.plain).split()[0] for child in node.children]


async def open_node(pilot, tree: CatalogSidebar, node) -> None:
    tree.focus()
    tree.move_cursor(node)
    await pilot.press("right")


@pytest.mark.asyncio
async def test_the_catalog_lists_what_the_caller_may_see_and_enter_inserts_names(kernel):
    _, analyst = kernel
    app = DataOSApp(lambda: Shared(analyst), screen="workbench")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        tree = screen.query_one(CatalogSidebar)
        assert tree.display  # wide enough: shown
        await until(pilot, lambda: labels(tree.root) == ["lake"])
        lake = tree.root.children[0]
        await open_node(pilot, tree, lake)
        await until(pilot, lambda: labels(lake) == ["crm"])  # not hr: no policy lets the analyst read it
        crm = lake.children[0]
        await open_node(pilot, tree, crm)
        await until(pilot, lambda: labels(crm) == ["orders"])
        orders = crm.children[0]
        await open_node(pilot, tree, orders)
        await until(pilot, lambda: [str(c.label.plain) for c in orders.children] ==
                    ["id BIGINT", "order BIGINT", "name VARCHAR"])
        editor = screen.editor
        editor.text = "select  from "
        editor.move_cursor((0, len("select ")))
        tree.focus()
        tree.move_cursor(orders.children[1])
        await pilot.press("enter")  # a reserved word: quoted
        assert editor.text == 'select "order" from ' and editor.has_focus
        editor.move_cursor((0, len(editor.text)))
        tree.focus()
        tree.move_cursor(orders)
        await pilot.press("enter")
        assert editor.text == 'select "order" from lake.crm.orders'
        await pilot.press("f5")
        await until(pilot, lambda: screen.grid is not None and not screen.running and screen.grid.rows == 5)


@pytest.mark.asyncio
async def test_the_operator_sees_every_collection(kernel):
    op, _ = kernel
    app = DataOSApp(lambda: Shared(op), screen="workbench")
    async with app.run_test(size=(120, 40)) as pilot:
        tree = app.screen.query_one(CatalogSidebar)
        await until(pilot, lambda: labels(tree.root) == ["lake"])
        lake = tree.root.children[0]
        await open_node(pilot, tree, lake)
        await until(pilot, lambda: labels(lake) == ["crm", "hr"])


@pytest.mark.asyncio
async def test_ctrl_b_toggles_the_catalog_hidden_at_80_columns(kernel):
    _, analyst = kernel
    app = DataOSApp(lambda: Shared(analyst), screen="workbench")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        tree = screen.query_one(CatalogSidebar)
        assert not tree.display and screen.editor.has_focus
        await pilot.press("ctrl+b")
        assert tree.display and tree.has_focus
        await until(pilot, lambda: labels(tree.root) == ["lake"])
        await pilot.press("ctrl+b")
        assert not tree.display and screen.editor.has_focus
