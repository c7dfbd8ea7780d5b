"""Atlas against an embedded kernel with a small file depot: the tree loads lazily down to columns,
search finds a dataset by a column and opens its page, tagging a column through the modal masks it
for users without pii-reader, setting the owner shows in the header, read-only hides the edits, a
refused edit keeps the modal and what was typed, and the lineage tab shows an upstream. A second
kernel with 300 datasets in one collection pages the search results and the tree's nodes."""
from __future__ import annotations

import time

import pytest

from tui.app import DataOSApp
from tui.atlas.edit import EditModal
from tui.atlas.lineage import LineageTree
from tui.atlas.page import DatasetPage
from tui.atlas.search import MORE
from tui.atlas.tree import CatalogTree
from tui.messages import OpenDataset
from pilotkit import PEOPLE_SQL, Shared, lake_kernel, until

PEOPLE = "dataos://lake:crm/people"
ORDERS = "dataos://lake:crm/orders"
TOTALS = "dataos://lake:crm/totals"


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    yield from lake_kernel(tmp_path_factory.mktemp("atlas"), {"people": PEOPLE_SQL, "orders": "SELECT i AS order_id, i % 50 AS person_id, i * 2.5 AS amount FROM range(200) t(i)"})


@pytest.fixture(scope="module")
def lineage(kernel):
    """A sql workflow that builds totals from orders: totals' upstream is orders."""
    op, _ = kernel
    op.resource.apply(manifests=[{"name": "totals", "version": "v1", "type": "workflow", "workspace": "public",
                                  "workflow": {"dag": [{"name": "build", "spec": {"stack": "sql", "stackSpec": {
        "inputs": [{"name": "orders", "dataset": ORDERS}],
        "steps": [{"name": "t", "sql": "SELECT person_id, sum(amount) AS total FROM orders GROUP BY person_id"}],
        "outputs": [{"name": "t", "dataset": TOTALS}]}}}]}}])
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        graph = op.catalog.lineage(ref=TOTALS, direction="upstream")
        if graph["edges"]:
            return graph
        time.sleep(0.2)
    pytest.fail("no lineage for the workflow's output")


def app_for(client, readonly: bool = False) -> DataOSApp:
    return DataOSApp(lambda: Shared(client), screen="atlas", readonly=readonly)


def labels(node) -> list[str]:
    return [str(child.label.plain if hasattr(child.label, "plain") else child.label) for child in node.children]


def find(node, text: str):
    return next(child for child in node.children if str(child.label).startswith(text) or
                getattr(child.label, "plain", "").startswith(text))


async def expand_crm(pilot):
    """The tree, and its lake → crm node, expanded (its children on their way)."""
    tree = pilot.app.screen.query_one(CatalogTree)
    await until(pilot, lambda: "lake" in labels(tree.root))
    find(tree.root, "lake").expand()
    await until(pilot, lambda: find(tree.root, "lake").children)
    crm = find(tree.root, "lake").children[0]
    crm.expand()
    return tree, crm


async def open_page(pilot, urn: str) -> DatasetPage:
    """The page, open on `urn` with its three columns shown."""
    page = pilot.app.screen.query_one(DatasetPage)
    page.open(urn)
    await until(pilot, lambda: page.urn == urn and page.query_one("#schema").row_count == 3)
    return page


def page_header(app) -> str:
    return str(app.screen.query_one("#page-header").render())


@pytest.mark.asyncio
async def test_the_tree_expands_lazily_to_a_dataset_and_its_columns(kernel):
    op, _ = kernel
    app = app_for(op)
    async with app.run_test(size=(120, 40)) as pilot:
        tree = app.screen.query_one(CatalogTree)
        await until(pilot, lambda: "lake" in labels(tree.root))
        depot = find(tree.root, "lake")
        assert not depot.children  # nothing loaded before it is expanded
        depot.expand()
        await until(pilot, lambda: depot.children and labels(depot)[0].startswith("crm"))
        crm = depot.children[0]
        crm.expand()
        await until(pilot, lambda: any(label.startswith("people") for label in labels(crm)))
        people = find(crm, "people")
        people.expand()
        await until(pilot, lambda: [label.split()[0] for label in labels(people)] == ["id", "email", "name"])
        assert "dataos://lake:crm" in tree.cache and PEOPLE in tree.cache  # cached
        tree.select_node(people)
        page = app.screen.query_one(DatasetPage)
        await until(pilot, lambda: page.urn == PEOPLE and page.query_one("#schema").row_count == 3)
        assert "50" in page_header(app)


@pytest.mark.asyncio
async def test_an_analyst_who_cannot_read_the_depot_resource_still_browses_its_datasets(kernel):
    op, ana = kernel
    assert not ana.resource.list(type="depot")  # ana may select lake's datasets, not read the depot
    app = app_for(ana)
    async with app.run_test(size=(120, 40)) as pilot:
        tree, crm = await expand_crm(pilot)
        await until(pilot, lambda: any(label.startswith("people") for label in labels(crm)))


@pytest.mark.asyncio
async def test_search_lists_the_dataset_and_opens_its_page(kernel):
    op, _ = kernel
    app = app_for(op)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("slash")
        assert app.screen.focused.id == "search"
        await pilot.press(*"email")
        assert app.screen.query_one("#search").value == "email"  # e is typed, not the describe key
        assert not isinstance(app.screen, EditModal)
        results = app.screen.query_one("#results")
        await until(pilot, lambda: results.option_count and results.get_option_at_index(0).id == PEOPLE)
        facets = app.screen.query_one("#facets")
        depot = next(i for i in range(facets.option_count) if "depot: lake" in str(facets.get_option_at_index(i).prompt))
        facets.focus()
        facets.highlighted = depot
        await pilot.press("enter")  # a facet is a filter
        pane = app.screen.query_one("#search-pane")
        await until(pilot, lambda: pane.filters == {"depot": "lake"} and "●" in str(facets.get_option_at_index(depot).prompt))
        assert results.get_option_at_index(0).id == PEOPLE
        app.screen.query_one("#search").focus()
        await pilot.press("enter")  # to the results
        await pilot.press("enter")  # open the first
        page = app.screen.query_one(DatasetPage)
        await until(pilot, lambda: page.urn == PEOPLE and page.query_one("#schema").row_count == 3)
        assert page.columns() == ["id", "email", "name"]
        assert PEOPLE in page_header(app)
        profile = page.query_one("#profile")
        await until(pilot, lambda: profile.row_count == 3)
        assert str(profile.value(0, "distinct")) == "50"  # 50 ids, counted: no ~
        app.screen.query_one("#results").focus()
        await pilot.press("escape")  # clears the words and the facets
        await until(pilot, lambda: not pane.has_class("-searching") and not pane.filters)
        assert app.screen.focused.id == "search" and app.screen.query_one("#search").value == ""
        await pilot.press("escape")  # and back to the tree
        assert app.screen.focused is app.screen.query_one(CatalogTree)


@pytest.mark.asyncio
async def test_tagging_a_column_through_the_modal_masks_it(kernel):
    op, analyst = kernel
    before = analyst.query.execute(sql="select email from lake.crm.people order by id limit 1")["rows"][0][0]
    assert before == "p0@example.com"
    app = app_for(op)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            app.screen.post_message(OpenDataset(PEOPLE))  # as the palette does
            page = app.screen.query_one(DatasetPage)
            schema = page.query_one("#schema")
            await until(pilot, lambda: page.urn == PEOPLE and schema.row_count == 3)
            schema.focus()
            schema.move_cursor(row=1)  # email
            await pilot.press("t")
            await until(pilot, lambda: isinstance(app.screen, EditModal))
            assert app.screen.query_one("#value").value == "PII.Email"  # the scan's suggestion
            await pilot.press("enter")
            await until(pilot, lambda: "PII.Email" in str(schema.value(1, "tags")))
            sample = page.query_one("#sample")
            await until(pilot, lambda: sample.row_count == 50 and
                        "masked" in str(sample.columns["email"].label))  # operators see masks too
            assert str(schema.value(1, "masked"))  # the masking policy
            detail = str(page.query_one("#column-detail").render())
            assert "email" in detail and "PII.Email" in detail and "masked" in detail
        entry = op.catalog.get(ref=PEOPLE)
        assert entry["aspects"]["tags"]["columns"]["email"] == ["PII.Email"]
        after = analyst.query.execute(sql="select email from lake.crm.people order by id limit 1")
        assert after["rows"][0][0] != before and after["columns"][0]["masked"]
    finally:
        op.catalog.tag(ref=f"{PEOPLE}#email", tag="PII.Email", remove=True)


@pytest.mark.asyncio
async def test_readonly_hides_and_refuses_the_edits(kernel):
    op, _ = kernel
    app = app_for(op, readonly=True)
    async with app.run_test(size=(120, 40)) as pilot:
        page = await open_page(pilot, PEOPLE)
        shown = {a.binding.action for a in app.screen.active_bindings.values()}
        assert "search" in shown and not shown & {"tag", "describe", "owner"}
        assert "o sets" not in page_header(app) and "e describes" not in page_header(app)
        page.query_one("#schema").focus()
        await pilot.press("t")
        await pilot.press("e")
        await pilot.press("o")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, EditModal)
        aspects = op.catalog.get(ref=PEOPLE)["aspects"]
        assert not (aspects.get("tags") or {}).get("dataset")
        assert (aspects.get("ownership") or {}).get("owner") in (None, "ana")  # only the owner test sets it


@pytest.mark.asyncio
async def test_an_edit_refused_by_the_kernel_keeps_the_modal_and_the_text(kernel):
    _, analyst = kernel  # may select, not update
    app = app_for(analyst)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_page(pilot, PEOPLE)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, EditModal))
        await pilot.press(*"mine now", "enter")
        await until(pilot, lambda: any(n.severity == "error" for n in app._notifications))
        modal = app.screen
        assert isinstance(modal, EditModal) and modal.query_one("#value").value == "mine now"
        error = str(modal.query_one("#error").render())
        assert error.startswith("EACCES") and "\n" not in error
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, EditModal))
        assert "mine now" not in page_header(app)


@pytest.mark.asyncio
async def test_setting_the_owner_shows_it_in_the_header_and_the_history(kernel):
    op, _ = kernel
    app = app_for(op)
    async with app.run_test(size=(120, 40)) as pilot:
        page = await open_page(pilot, PEOPLE)
        page.query_one("#schema").focus()
        page.query_one("#schema").move_cursor(row=1)  # a column's owner is its dataset's
        await pilot.press("o")
        await until(pilot, lambda: isinstance(app.screen, EditModal))
        modal = app.screen
        assert modal.kind == "owner" and "#" not in modal.title_text
        choices = modal.query_one("#choices")
        assert "ana" in [str(choices.get_option_at_index(i).prompt) for i in range(choices.option_count)]
        await pilot.press(*"nobody", "enter")  # no such user: refused, the modal stays
        await until(pilot, lambda: "ENOENT" in str(modal.query_one("#error").render()))
        assert app.screen is modal
        modal.query_one("#value").value = "ana"
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, EditModal) and "owner ana" in page_header(app))
        history = page.query_one("#history")
        await until(pilot, lambda: history.row_count and "owner set to ana" in str(history.value(0, "change")))
        await pilot.press("left_square_bracket")  # from Schema back round to History
        assert page.query_one("#tabs").active == "tab-history"
    assert op.catalog.get(ref=PEOPLE)["aspects"]["ownership"]["owner"] == "ana"


@pytest.mark.asyncio
async def test_the_lineage_tab_shows_an_upstream(kernel, lineage):
    op, _ = kernel
    app = app_for(op)
    async with app.run_test(size=(120, 40)) as pilot:
        page = app.screen.query_one(DatasetPage)
        page.open(TOTALS)
        tree = page.query_one(LineageTree)
        await until(pilot, lambda: tree.root.children and tree.root.children[0].children and
                    ORDERS in str(tree.root.children[0].children[0].label))
        page.query_one("#tabs").active = "tab-lineage"
        await pilot.pause(0.1)
        upstream = tree.root.children[0]
        assert "workflow/totals" in str(upstream.children[0].label)
        assert any("total" in str(leaf.label) and "amount" in str(leaf.label) for leaf in upstream.children[0].children)
        detail = page.query_one("#column-detail")
        assert "catalog scan lake" in str(detail.render())  # written by the workflow, not scanned yet
        tree.select_node(upstream.children[0])  # a dataset in the lineage opens its page
        await until(pilot, lambda: page.urn == ORDERS and page.query_one("#schema").row_count == 3)
        page.query_one("#tabs").active = "tab-schema"
        page.query_one("#schema").move_cursor(row=2)  # amount
        await until(pilot, lambda: "feeds lake:crm/totals.total" in str(detail.render()))
        downstream = tree.root.children[1].children[0]
        assert any(str(leaf.label) == "orders.amount → total" for leaf in downstream.children)


@pytest.mark.asyncio
async def test_describing_a_column_from_the_tree(kernel):
    op, _ = kernel
    app = app_for(op)
    async with app.run_test(size=(120, 40)) as pilot:
        tree, crm = await expand_crm(pilot)
        await until(pilot, lambda: any(label.startswith("orders") for label in labels(crm)))
        orders = find(crm, "orders")
        orders.expand()
        await until(pilot, lambda: len(orders.children) == 3)
        amount = orders.children[2]
        tree.focus()
        tree.move_cursor(amount)
        tree.select_node(amount)  # opens the page at that column
        page = app.screen.query_one(DatasetPage)
        schema = page.query_one("#schema")
        await until(pilot, lambda: page.urn == ORDERS and schema.row_count == 3 and schema.cursor_row == 2)
        tree.focus()
        await pilot.press("e")
        await until(pilot, lambda: isinstance(app.screen, EditModal))
        assert "#amount" in str(app.screen.title_text)
        await pilot.press(*"in euros", "enter")
        await until(pilot, lambda: "in euros" in str(schema.value(2, "description")))
    assert op.catalog.get(ref=ORDERS)["aspects"]["description"]["columns"]["amount"] == "in euros"


# --- 300 datasets in one collection ----------------------------------------------------------------

MANY = 300


@pytest.fixture(scope="module")
def many(tmp_path_factory):
    yield from lake_kernel(tmp_path_factory.mktemp("atlas-many"),
                           {f"zq{i:03}": f"SELECT {i} AS x" for i in range(MANY)})  # `zq`: no other entry matches


@pytest.mark.asyncio
async def test_search_pages_say_how_many_and_load_more(many):
    op, _ = many
    app = app_for(op)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("slash", "z", "q")
        results = app.screen.query_one("#results")
        count = app.screen.query_one("#count")
        await until(pilot, lambda: results.option_count == 51 and "50 of 300" in str(count.render()))
        assert results.get_option_at_index(50).id == MORE and "250 more" in str(results.get_option_at_index(50).prompt)
        results.focus()
        results.highlighted = 49
        await pilot.press("down")  # the cursor reaching the end loads the next page
        await until(pilot, lambda: results.option_count == 101 and "100 of 300" in str(count.render()))
        assert results.highlighted == 50 and results.get_option_at_index(50).id != MORE
        while results.get_option_at_index(results.option_count - 1).id == MORE:
            n = results.option_count
            results.highlighted = n - 2
            await pilot.press("end", "enter")
            await until(pilot, lambda: results.option_count > n)
        urns = [results.get_option_at_index(i).id for i in range(results.option_count)]
        assert sorted(urns) == [f"dataos://lake:crm/zq{i:03}" for i in range(MANY)]  # each once
        assert "300 results" in str(count.render())


@pytest.mark.asyncio
async def test_a_big_collection_adds_its_datasets_a_page_at_a_time(many):
    op, _ = many
    app = app_for(op)
    async with app.run_test(size=(120, 40)) as pilot:
        tree, crm = await expand_crm(pilot)
        await until(pilot, lambda: len(crm.children) == 101)
        assert labels(crm)[99].startswith("zq099") and labels(crm)[100].startswith("… 200 more")
        tree.focus()
        tree.move_cursor(crm.children[99])
        await pilot.press("down")  # the cursor reaching "more" adds the next page in its place
        await until(pilot, lambda: len(crm.children) == 201)
        assert labels(crm)[100].startswith("zq100") and labels(crm)[200].startswith("… 100 more")
        assert tree.cursor_node is crm.children[100]
        tree.select_node(crm.children[200])  # and so does selecting it
        await until(pilot, lambda: len(crm.children) == MANY)
        await pilot.pause(0.1)
        assert len(crm.children) == MANY and not [n for n in crm.children if n.data["kind"] == "more"]
        assert labels(crm)[-1].startswith("zq299")


@pytest.mark.asyncio
async def test_a_resource_found_by_search_opens_in_operations(kernel):
    op, _ = kernel
    app = app_for(op)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("slash", *"analysts")
        results = app.screen.query_one("#results")
        urn = "resource://instance/policy/analysts-read-lake"
        await until(pilot, lambda: results.option_count and results.get_option_at_index(0).id == urn)
        assert "policy in instance" in str(results.get_option_at_index(0).prompt)
        await pilot.press("enter", "enter")
        await until(pilot, lambda: app.current_mode == "operations")
        await until(pilot, lambda: getattr(app.screen, "selected", None) == "-/policy/analysts-read-lake")
