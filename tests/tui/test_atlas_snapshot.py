"""Atlas's look at 80×24, 120×40 and 200×60, from fixed catalog answers (no kernel): the tree opened
to a dataset's columns and its page on the Schema tab, one column tagged and masked."""
from __future__ import annotations

import pytest

from syscalls.errors import SyscallError
from tui.app import DataOSApp

PEOPLE = "dataos://lake:crm/people"
ENTITY = {
    "urn": PEOPLE, "kind": "dataset",
    "aspects": {
        "schema": {"columns": [{"name": "id", "type": "BIGINT", "nullable": False},
                               {"name": "email", "type": "VARCHAR", "nullable": True},
                               {"name": "name", "type": "VARCHAR", "nullable": True}]},
        "properties": {"rows": 50, "bytes": 1235, "format": "parquet"},
        "profile": {"columns": {"id": {"min": 0, "max": 49, "null_pct": 0.0, "distinct": 50, "top": None},
                                "email": {},
                                "name": {"min": "n0", "max": "n9", "null_pct": 2.0, "distinct": 48,
                                         "top": [["n1", 2], ["n2", 1]]}}},
        "suggestions": {"columns": {"email": ["PII.Email"], "name": ["PII.Name"]}},
        "tags": {"dataset": ["Tier.Gold"], "columns": {"email": ["PII.Email"]}},
        "description": {"dataset": "Everyone who ever ordered", "columns": {"id": "the person's key"}},
        "ownership": {"owner": "ana"},
    },
    "masked": {"email": "pii-email"}, "filtered": [],
}
ANSWERS = {
    "resource.list": [{"name": "lake", "type": "depot"}, {"name": "warehouse", "type": "depot"}],
    "dataset.list": {
        "dataos://lake": [{"name": "crm", "address": "dataos://lake:crm", "kind": "collection", "datasets": 2}],
        "dataos://lake:crm": [
            {"name": "orders", "address": "dataos://lake:crm/orders", "kind": "dataset", "rows": 200, "tags": []},
            {"name": "people", "address": PEOPLE, "kind": "dataset", "rows": 50, "tags": ["Tier.Gold"]}],
    },
    "catalog.get": ENTITY,
    "catalog.search": {"total": 2, "results": [], "facets": {"depot": {"lake": 2}}},
    "catalog.lineage": {"urn": PEOPLE, "nodes": [PEOPLE], "edges": []},
    "catalog.history": [{"aspect": "schema", "version": 1, "time": "2026-01-02T03:04:05Z", "by": "root",
                         "changes": ["schema recorded"]}],
    "query.execute": {"columns": [{"name": "id", "type": "BIGINT", "masked": None},
                                  {"name": "email", "type": "VARCHAR", "masked": "pii-email"},
                                  {"name": "name", "type": "VARCHAR", "masked": None}],
                      "rows": [[0, "####", "n0"], [1, "####", "n1"]], "row_count": 2, "governance": {"policies": []}},
}


class FixedClient:
    def call(self, name, request=None):
        request = request or {}
        answer = ANSWERS.get(name)
        if isinstance(answer, dict) and "address" in request:
            answer = answer.get(request["address"], [])
        if answer is None:
            raise SyscallError("ENOSYS", name)
        return answer

    def close(self) -> None:
        pass


async def _open_people(pilot) -> None:
    from tui.atlas.page import DatasetPage
    from tui.atlas.tree import CatalogTree
    app = pilot.app
    tree = app.screen.query_one(CatalogTree)

    async def until(predicate) -> None:
        for _ in range(200):
            if predicate():
                return
            await pilot.pause(0.05)
        raise AssertionError("condition not reached")

    await until(lambda: len(tree.root.children) == 2)
    tree.root.children[0].expand()
    await until(lambda: tree.root.children[0].children)
    crm = tree.root.children[0].children[0]
    crm.expand()
    await until(lambda: len(crm.children) == 2)
    people = crm.children[1]
    tree.move_cursor(people)
    tree.select_node(people)  # opens the page, and expands it (its columns load)
    await until(lambda: len(people.children) == 3)
    page = app.screen.query_one(DatasetPage)
    await until(lambda: page.urn == PEOPLE and page.query_one("#schema").row_count == 3
                and page.query_one("#history").row_count == 1)
    await pilot.pause(0.2)


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_atlas_snapshot(snap_compare, size):
    app = DataOSApp(lambda: FixedClient(), screen="atlas")
    assert snap_compare(app, terminal_size=size, run_before=_open_people)
