"""The catalog store: versioned aspects, the change log, deletion, and search (ranking, facets,
allowed() filtering, hostile queries, the bounded ranking window, rebuild, threads)."""
from __future__ import annotations

import random
import threading
from pathlib import Path
from typing import Iterator

import pytest

from kernel.metis import store
from kernel.metis.store import Catalog
from kernel.store import Place

from pgkit import pg_database

HR = "dataos://hr:main"
CRM = "dataos://crm:sales"


def schema(*columns: tuple) -> dict:
    return {"columns": [{"name": n, "type": t, "nullable": nullable} for n, t, nullable in columns]}


@pytest.fixture(params=["sqlite", "postgresql"])
def place(request, tmp_path: Path) -> Iterator[Place]:
    """Each test on either backend: FTS5 on SQLite, a tsvector on PostgreSQL."""
    if request.param == "sqlite":
        yield Place(tmp_path)
    else:
        with pg_database() as url:
            yield Place(tmp_path, url)


@pytest.fixture
def catalog(place: Place):
    c = Catalog(place)
    yield c
    c.close()


@pytest.fixture
def world(catalog: Catalog) -> Catalog:
    """A small catalog: names, columns, descriptions and tags that compete for the same words."""
    catalog.put_many(f"{HR}/customers", {
        "schema": schema(("id", "BIGINT", False), ("email", "VARCHAR", True)),
        "tags": {"dataset": ["Tier.Gold"], "columns": {"email": ["PII.Email"]}},
        "ownership": {"owner": "ana"}}, "scanner")
    catalog.put_many(f"{CRM}/orders", {
        "schema": schema(("order_id", "BIGINT", False), ("customer_id", "BIGINT", False)),
        "ownership": {"owner": "bob"}}, "scanner")
    catalog.put_many(f"{CRM}/notes", {
        "schema": schema(("note", "VARCHAR", True),),
        "description": {"dataset": "Free text our customers wrote", "columns": {}}}, "scanner")
    catalog.put_many(f"{HR}/daily_revenue", {
        "schema": schema(("day", "DATE", False), ("amount", "DOUBLE", True)),
        "tags": {"dataset": ["Tier.Silver"], "columns": {}}}, "scanner")
    catalog.put_many(f"{HR}/employeeContacts", {
        "schema": schema(("workEmail", "VARCHAR", True), ("phone", "VARCHAR", True)),
        "tags": {"dataset": [], "columns": {"workEmail": ["PII.Email"], "phone": ["PII.Phone"]}}}, "scanner")
    catalog.put("resource://public/workflow/customer-sync",
                "resource", {"type": "workflow", "workspace": "public", "name": "customer-sync", "owner": "cy",
                             "tags": ["sync"], "description": "Copies CRM accounts", "generation": 1,
                             "status": "active"}, "poros")
    return catalog


def urns(result: dict) -> list[str]:
    return [r["urn"] for r in result["results"]]


# --- versions and the change log -----------------------------------------------------------------

def test_a_version_only_on_change(catalog: Catalog) -> None:
    urn = f"{HR}/people"
    assert catalog.put(urn, "schema", schema(("id", "BIGINT", False)), "scanner") == 1
    assert catalog.put(urn, "schema", {"columns": [{"nullable": False, "type": "BIGINT", "name": "id"}]}, "x") is None
    assert catalog.put(urn, "schema", schema(("id", "VARCHAR", False)), "scanner") == 2
    assert catalog.put_many(urn, {"schema": schema(("id", "VARCHAR", False)), "ownership": {"owner": "ana"}},
                            "ana") == {"schema": None, "ownership": 1}
    entity = catalog.get(urn)
    assert entity["kind"] == "dataset" and entity["urn"] == urn
    assert entity["aspects"] == {"ownership": {"owner": "ana"}, "schema": schema(("id", "VARCHAR", False))}
    assert catalog.aspect(urn, "ownership") == {"owner": "ana"} and catalog.aspect(urn, "profile") is None
    assert catalog.get("dataos://hr:main/nothing") is None and not catalog.exists("dataos://hr:main/nothing")


def test_unknown_aspects_are_refused(catalog: Catalog) -> None:
    with pytest.raises(ValueError):
        catalog.put(f"{HR}/people", "colour", {}, "x")
    assert not catalog.exists(f"{HR}/people")


def test_history_oldest_first_with_schema_changes(catalog: Catalog) -> None:
    urn = f"{CRM}/payments"
    catalog.put(urn, "schema", schema(("id", "BIGINT", False), ("amount", "DECIMAL(12,2)", False),
                                      ("phone", "VARCHAR", True)), "scanner")
    catalog.put(urn, "properties", {"rows": 10}, "scanner")
    catalog.put(urn, "schema", schema(("id", "BIGINT", True), ("amount", "DOUBLE", False),
                                      ("email", "VARCHAR", True)), "scanner")
    catalog.put(urn, "properties", {"rows": 12}, "scanner")
    history = catalog.history(urn)
    assert [(h["aspect"], h["version"]) for h in history] == [("schema", 1), ("properties", 1), ("schema", 2),
                                                              ("properties", 2)]
    assert history[0]["changes"] == ["schema recorded"] and history[0]["by"] == "scanner" and history[0]["time"]
    assert history[2]["changes"] == ["column id now nullable", "column amount type changed DECIMAL(12,2) → DOUBLE",
                                     "column email added (VARCHAR)", "column phone removed"]
    assert history[3]["changes"] == ["properties updated"]
    assert [h["version"] for h in catalog.history(urn, "properties")] == [1, 2]
    catalog.put(urn, "schema", schema(("amount", "DOUBLE", False), ("id", "BIGINT", False),
                                      ("email", "VARCHAR", True)), "scanner")
    assert catalog.history(urn, "schema")[-1]["changes"] == ["column id now not nullable"]
    catalog.put(urn, "schema", schema(("id", "BIGINT", False), ("amount", "DOUBLE", False),
                                      ("email", "VARCHAR", True)), "scanner")
    assert catalog.history(urn, "schema")[-1]["changes"] == ["columns reordered"]
    assert catalog.history("dataos://crm:sales/none") == []


def test_tag_description_and_owner_summaries(catalog: Catalog) -> None:
    urn = f"{HR}/people"
    catalog.put(urn, "tags", {"dataset": ["Tier.Gold"], "columns": {"email": ["PII.Email"]}}, "ana")
    catalog.put(urn, "tags", {"dataset": [], "columns": {"email": ["PII.Email"], "phone": ["PII.Phone"]}}, "ana")
    catalog.put(urn, "tags", {"dataset": [], "columns": {"phone": ["PII.Phone"]}}, "ana")
    catalog.put(urn, "description", {"dataset": "People", "columns": {}}, "ana")
    catalog.put(urn, "description", {"dataset": "People we employ", "columns": {"email": "work address"}}, "ana")
    catalog.put(urn, "ownership", {"owner": "ana"}, "ana")
    catalog.put(urn, "ownership", {"owner": "bob"}, "ana")
    catalog.put(urn, "ownership", {}, "ana")
    changes = [h["changes"] for h in catalog.history(urn)]
    assert changes == [["tag Tier.Gold added", "tag PII.Email added to column email"],
                       ["tag Tier.Gold removed", "tag PII.Phone added to column phone"],
                       ["tag PII.Email removed from column email"], ["description changed"],
                       ["description changed", "description of column email changed"], ["owner set to ana"],
                       ["owner set to bob"], ["owner removed"]]


def test_delete_keeps_history_and_a_put_revives(world: Catalog) -> None:
    urn = f"{HR}/customers"
    world.delete(urn, "ana")
    world.delete(urn, "ana")  # already gone: nothing to do
    assert world.get(urn) is None and not world.exists(urn) and world.aspect(urn, "schema") is None
    assert urn not in world.urns() and urn not in urns(world.search("customers"))
    assert urn not in urns(world.search("", facets={"depot": "hr"}))
    assert [h["aspect"] for h in world.history(urn)] == ["schema", "tags", "ownership"]
    assert world.put(urn, "ownership", {"owner": "ana"}, "scanner") is None  # unchanged, yet revived
    assert world.exists(urn) and world.get(urn)["aspects"]["tags"]["dataset"] == ["Tier.Gold"]
    assert urns(world.search("customers"))[0] == urn


def test_urns_by_prefix_and_kind(world: Catalog) -> None:
    assert world.urns("dataos://crm:") == [f"{CRM}/notes", f"{CRM}/orders"]
    assert world.urns(kind="resource") == ["resource://public/workflow/customer-sync"]
    assert len(world.urns()) == 6 and world.urns("dataos://nowhere:") == []


# --- search --------------------------------------------------------------------------------------

def test_name_ranks_above_column_above_description(world: Catalog) -> None:
    found = world.search("customer", kind="dataset")
    assert urns(found) == [f"{HR}/customers", f"{CRM}/orders", f"{CRM}/notes"]
    assert [r["matched"] for r in found["results"]] == ["name", "column", "description"]
    assert found["total"] == 3 and found["total_exact"] and found["facets_exact"]
    top = found["results"][0]
    assert top == {"urn": f"{HR}/customers", "kind": "dataset", "name": "customers", "description": "",
                   "tags": ["PII.Email", "Tier.Gold"], "depot": "hr", "type": "dataset", "owner": "ana",
                   "tier": "Tier.Gold", "score": top["score"], "matched": "name"}
    assert top["score"] > 0


def test_words_of_snake_and_camel_case_prefixes_and_tags(world: Catalog) -> None:
    assert urns(world.search("revenue")) == [f"{HR}/daily_revenue"]
    assert urns(world.search("daily_revenue")) == [f"{HR}/daily_revenue"]
    assert urns(world.search("contacts")) == [f"{HR}/employeeContacts"]
    assert urns(world.search("employeecontacts")) == [f"{HR}/employeeContacts"]
    prefixed = world.search("cust")["results"]
    assert {r["urn"] for r in prefixed[:2]} == {f"{HR}/customers", "resource://public/workflow/customer-sync"}
    assert [r["matched"] for r in prefixed] == ["name", "name", "column", "description"]
    assert urns(world.search("CUSTOMERS")) == [f"{HR}/customers", f"{CRM}/notes"]
    tagged = {f"{HR}/customers", f"{HR}/employeeContacts"}
    assert set(urns(world.search("PII.Email"))) == tagged
    assert set(urns(world.search("email"))) == tagged
    assert world.search("work email")["results"][0]["matched"] == "column"
    assert urns(world.search("nothing matches this")) == []


def test_usage_boosts_within_a_tier(catalog: Catalog) -> None:
    catalog.put(f"{HR}/orders_a", "schema", schema(("id", "BIGINT", False)), "s")
    catalog.put(f"{HR}/orders_b", "schema", schema(("id", "BIGINT", False)), "s")
    catalog.put(f"{HR}/orders_b", "usage", {"queries": 500, "last": "2025-01-01T00:00:00Z"}, "gateway")
    assert urns(catalog.search("orders")) == [f"{HR}/orders_b", f"{HR}/orders_a"]
    catalog.put(f"{HR}/orders_a", "usage", {"queries": 5000, "last": "2025-01-01T00:00:00Z"}, "gateway")
    assert urns(catalog.search("orders")) == [f"{HR}/orders_a", f"{HR}/orders_b"]


def test_facets_and_facet_filters(world: Catalog) -> None:
    found = world.search("", facets={})  # browse everything, by name
    assert [r["name"] for r in found["results"]] == ["customer-sync", "customers", "daily_revenue",
                                                     "employeeContacts", "notes", "orders"]
    assert found["facets"] == {
        "depot": {"hr": 3, "crm": 2}, "type": {"dataset": 5, "workflow": 1},
        "tag": {"PII.Email": 2, "PII.Phone": 1, "Tier.Gold": 1, "Tier.Silver": 1, "sync": 1},
        "owner": {"ana": 1, "bob": 1, "cy": 1}, "tier": {"Tier.Gold": 1, "Tier.Silver": 1}}
    assert urns(world.search("", facets={"tag": "PII.Email", "depot": "hr"})) == [f"{HR}/customers",
                                                                                 f"{HR}/employeeContacts"]
    assert urns(world.search("email", facets={"tag": "PII.Email", "owner": "ana"})) == [f"{HR}/customers"]
    assert urns(world.search("", facets={"tier": "Tier.Silver"})) == [f"{HR}/daily_revenue"]
    assert urns(world.search("", kind="resource")) == ["resource://public/workflow/customer-sync"]
    assert urns(world.search("customer", facets={"type": "workflow"})) == ["resource://public/workflow/customer-sync"]
    assert world.search("customer", facets={"depot": "nowhere"})["total"] == 0
    assert world.search("", facets={"colour": "red"})["results"] == []


def test_denied_entities_are_never_returned_nor_counted(world: Catalog) -> None:
    def allowed(urn: str) -> bool:
        return not urn.startswith("dataos://hr:")
    for text in ("", "customer", "email", "cust"):
        found = world.search(text, allowed=allowed)
        assert all(not u.startswith("dataos://hr:") for u in urns(found))
        assert "hr" not in found["facets"]["depot"]
        assert "Tier.Gold" not in found["facets"]["tag"] and "ana" not in found["facets"]["owner"]
        assert found["total"] == len(found["results"])
    assert world.search("", facets={"depot": "hr"}, allowed=allowed) == {
        "total": 0, "total_exact": True, "results": [], "facets_exact": True,
        "facets": {"depot": {}, "type": {}, "tag": {}, "owner": {}, "tier": {}}}


@pytest.mark.parametrize("text", ['"', "'", "*", "NEAR(", "NEAR(a b", '"unterminated', "-", "a - b", "a OR", "AND",
                                  "NOT customers", "()", ")(", "{name}: x", "name:customers", "^cust", "cust*",
                                  "\\", "+", "%_", "\x00", "日本語", "é", "customers\"; DROP TABLE entities; --",
                                  "¦", "a" * 500, " ".join(["customer"] * 50), "   "])
def test_hostile_queries_never_raise(world: Catalog, text: str) -> None:
    found = world.search(text)
    assert isinstance(found["total"], int)
    world.search(text, facets={"tag": text, "depot": text})
    assert world.exists(f"{HR}/customers")


def test_random_unicode_never_raises(world: Catalog) -> None:
    rng = random.Random(5)
    alphabet = [chr(i) for i in [*range(0x250), *range(0x300, 0x370), *range(0x2000, 0x2070), 0x4E00, 0x1F600,
                                 0xFE0F, 0x200D, 0xFFFF, 0x10FFFF]]
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        world.search(text, facets={"tag": text})


def test_diacritics_fold(catalog: Catalog) -> None:
    catalog.put(f"{HR}/café", "schema", schema(("naïve", "VARCHAR", True),), "s")
    assert [r["matched"] for r in catalog.search("cafe")["results"]] == ["name"]
    assert [r["matched"] for r in catalog.search("naive")["results"]] == ["column"]


def test_operators_are_plain_words(world: Catalog) -> None:
    assert urns(world.search("NOT customers")) == []  # "not" is a word here, found nowhere
    assert urns(world.search("customers\"")) == [f"{HR}/customers", f"{CRM}/notes"]


def test_paging_and_the_bounded_window(catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the ranking window every match still comes exactly once, name matches first."""
    for i in range(30):
        catalog.put_many(f"{CRM}/table{i:02}", {"schema": schema(("account_id", "BIGINT", False),),
                                                "usage": {"queries": i, "last": None}}, "s")
    for i in range(3):
        catalog.put(f"{CRM}/account{i}", "schema", schema(("id", "BIGINT", False)), "s")
    monkeypatch.setattr(store, "RANK_WINDOW", 4)
    monkeypatch.setattr(store, "PAGE", 3)
    monkeypatch.setattr(store, "FACET_SAMPLE", 10)
    first = catalog.search("account", limit=5)
    assert [r["matched"] for r in first["results"]] == ["name"] * 3 + ["column"] * 2
    assert urns(first)[3:] == [f"{CRM}/table29", f"{CRM}/table28"]  # most used first past the window
    assert not first["total_exact"] and not first["facets_exact"] and first["total"] == 10
    assert sum(first["facets"]["type"].values()) == 10
    seen = [u for offset in range(0, 40, 7) for u in urns(catalog.search("account", limit=7, offset=offset))]
    assert len(seen) == len(set(seen)) == 33
    everything = catalog.search("account", limit=100)
    assert everything["total"] == 33 and everything["total_exact"] and not everything["facets_exact"]
    assert [u for u in urns(catalog.search("", limit=100))] == sorted(catalog.urns(), key=lambda u: u.split("/")[-1])


def test_rebuild_index_gives_the_same_results(world: Catalog) -> None:
    world.delete(f"{CRM}/notes", "ana")
    queries = [("customer", {}), ("email", {}), ("", {"depot": "hr"}), ("cust", {"tag": "PII.Email"}), ("", {})]
    before = [world.search(text, facets=facets) for text, facets in queries]
    assert world.rebuild_index() == 5
    assert [world.search(text, facets=facets) for text, facets in queries] == before


def test_threads_putting_at_once(catalog: Catalog) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(25):
                catalog.put(f"{HR}/shared", "properties", {"rows": n * 100 + i}, f"t{n}")
                catalog.put_many(f"{HR}/t{n}_{i}", {"schema": schema(("id", "BIGINT", False)),
                                                    "ownership": {"owner": f"u{n}"}}, f"t{n}")
                catalog.search("t", allowed=lambda urn: True)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [h["version"] for h in catalog.history(f"{HR}/shared")] == list(range(1, 101))
    assert len(catalog.urns("dataos://hr:main/t")) == 100
    assert catalog.search("", facets={"owner": "u3"}, limit=100)["total"] == 25
