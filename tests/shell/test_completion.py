"""Completion and highlighting of the interactive shell: what fits at the cursor (`suggest`, a pure
function), which names match (the completer through prompt_toolkit), the background catalog source
(errors keep the last snapshot; a real kernel's depots, collections, datasets and columns appear),
and the lexer."""
from __future__ import annotations

import threading
import time
import uuid

import duckdb
import pytest
from clitools import wait_for
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from dataos_shell.shell.completion import ShellCompleter
from dataos_shell.shell.lexer import ShellLexer
from syscalls import SyscallError
from userlib.completion.candidates import match
from userlib.completion.source import (
    RefreshingSource,
    Snapshot,
    SnapshotSource,
    start_source,
)
from userlib.completion.state import ShellState
from userlib.completion.suggest import (
    NEXT_KEYWORDS,
    Choice,
    Collection,
    Column,
    Command,
    Dataset,
    Depot,
    Flag,
    Function,
    Keyword,
    LocalFile,
    Pod,
    ResourceName,
    ResourceType,
    Scheme,
    Subcommand,
    Variable,
    Workspace,
    suggest,
)
from userlib.sqltext import is_sql

ORDERS = "dataos://lake:crm/orders"
PEOPLE = "dataos://lake:crm/people"


class FakeSource:
    """A CatalogSource from dicts (no snapshot machinery)."""

    def __init__(self) -> None:
        self.tree = {"lake": {"crm": {"orders": [("order_id", "BIGINT"), ("person_id", "BIGINT"),
                                                ("amount", "DOUBLE"), ("created_at", "TIMESTAMP")],
                                     "people": [("id", "BIGINT"), ("email", "VARCHAR"), ("city", "VARCHAR")],
                                     "order_items": [("order_id", "BIGINT"), ("sku", "VARCHAR")]},
                             "sales": {"invoices": [("invoice_id", "BIGINT")]}},
                     "warehouse": {"dw": {"facts": [("f", "INT")]}},
                     "crm-db": {"public": {"users": [("user id", "INT")]}}}
        self.names = {"workflow": ["orders-daily", "people-sync", "audit-nightly"], "depot": ["lake", "warehouse"]}

    def depots(self):
        return sorted(self.tree)

    def collections(self, depot):
        return sorted(self.tree.get(depot, {}))

    def datasets(self, depot, collection):
        return sorted(self.tree.get(depot, {}).get(collection, {}))

    def columns(self, urn):
        return [n for n, _ in self.column_types(urn)]

    def column_types(self, urn):
        depot, _, rest = urn.removeprefix("dataos://").partition(":")
        collection, _, dataset = rest.partition("/")
        return self.tree.get(depot, {}).get(collection, {}).get(dataset, [])

    def resources(self, type_name):
        return self.names.get(type_name, [])

    def pods(self):
        return ["orders-daily-7f3a", "orders-daily-9b21", "people-sync-0001"]


COMMANDS = {"ls": "List depots, collections or datasets.", "cd": "Change the directory.",
            "cat": "Show a dataset (governed).", "head": "The first rows of a dataset.", "kill": "Stop a pod.",
            "pwd": "Print the directory.", "man": "A command's manual."}


def at(cwd: str = "", **kw) -> ShellState:
    return ShellState(cwd=cwd, **kw)


def complete(text: str, state: ShellState | None = None, source=None) -> list:
    before, _, after = text.partition("|")  # `|` marks the cursor (none: at the end)
    completer = ShellCompleter(state or at("dataos://lake:crm"), source or FakeSource(), COMMANDS)
    return list(completer.get_completions(Document(before + after, len(before)), CompleteEvent()))


def texts(text: str, state: ShellState | None = None, source=None) -> list[str]:
    return [c.text for c in complete(text, state, source)]


# --- (a) suggest: what fits here ----------------------------------------------------------------

def test_suggest_command_names():
    assert suggest("", at()) == [Command(word="")]
    assert suggest("  ge", at()) == [Command(word="ge")]
    assert suggest("man ca", at()) == [Command(word="ca", sql=False)]


def test_suggest_subcommands_from_the_typer_app():
    assert suggest("catalog ", at()) == [Subcommand(word="", path=("catalog",))]
    assert suggest("runtime pa", at()) == [Subcommand(word="pa", path=("runtime",))]
    assert suggest("user apikey ", at()) == [Subcommand(word="", path=("user", "apikey"))]


def test_suggest_flags_and_their_values():
    assert suggest("get -", at()) == [Flag(word="-", path=("get",))]
    assert suggest("get workflow x -o json --a", at()) == [
        Flag(word="--a", path=("get",), used=frozenset({"-o", "--output"}))]
    assert suggest("get -o ", at()) == [Choice(word="", values=("table", "wide", "json", "yaml", "name"),
                                               meta="--output")]
    assert suggest("get --output=ya", at())[0].word == "ya"
    assert suggest("get workflow -w ", at()) == [Workspace(word="")]
    assert suggest("apply -f manif", at()) == [LocalFile(word="manif")]
    assert suggest("catalog search x --depot l", at()) == [Depot(word="l")]


def test_suggest_resource_types_and_names():
    for verb in ("get", "describe", "delete", "history"):
        assert suggest(f"{verb} ", at()) == [ResourceType(word="")]
        assert suggest(f"{verb} workflow or", at()) == [ResourceName(word="or", type="workflow")]
    assert suggest("get workflows ", at()) == [ResourceName(word="", type="workflow")]  # plural
    assert suggest("get policy/ac", at()) == [ResourceName(word="ac", type="policy")]  # TYPE/NAME
    assert suggest("get -t workflow -n ", at()) == [ResourceName(word="", type="workflow")]
    assert suggest("runtime pause workflow ", at()) == [ResourceName(word="", type="workflow")]
    assert suggest("get runtime workflow o", at()) == [ResourceName(word="o", type="workflow")]
    assert suggest("get workflow orders-daily ", at()) == []


def test_suggest_pods():
    assert suggest("logs ", at()) == [Pod(word="")]
    assert suggest("kill ord", at()) == [Pod(word="ord")]


def test_suggest_paths_absolute_and_relative():
    assert suggest("cd dataos://", at()) == [Depot(word="", suffix=":")]
    assert suggest("cd dataos://la", at("dataos://lake:crm")) == [Depot(word="la", suffix=":")]
    assert suggest("ls dataos://lake:", at()) == [Collection(word="", depot="lake")]
    assert suggest("cat dataos://lake:crm/or", at()) == [Dataset(word="or", depot="lake", collection="crm")]
    assert suggest("cat lake:crm/", at()) == [Dataset(word="", depot="lake", collection="crm")]
    assert suggest("cat dataos://lake:c", at()) == [Collection(word="c", depot="lake", suffix="/")]
    # relative to the current directory
    assert suggest("ls ", at()) == [Depot(word="", suffix=":")]
    assert suggest("cd c", at("dataos://lake")) == [Collection(word="c", depot="lake")]
    assert suggest("head crm/p", at("dataos://lake")) == [Dataset(word="p", depot="lake", collection="crm")]
    assert suggest("cat p", at("dataos://lake:crm")) == [Dataset(word="p", depot="lake", collection="crm")]
    assert suggest("cd p", at("dataos://lake:crm")) == []  # cd goes to collections, not datasets
    assert suggest("ls da", at()) == [Scheme(word="da"), Depot(word="da", suffix=":")]
    assert suggest("catalog show dataos://lake:crm/", at()) == [Dataset(word="", depot="lake", collection="crm")]


def test_suggest_paths_as_the_shell_resolves_them():
    crm = at("dataos://lake:crm")
    assert suggest("cd ../s", crm) == [Collection(word="s", depot="lake")]
    assert suggest("cat ../sales/in", crm) == [Dataset(word="in", depot="lake", collection="sales")]
    assert suggest("cd /", crm) == [Depot(word="", suffix=":")]
    assert suggest("ls /lake/", crm) == [Collection(word="", depot="lake")]
    assert suggest("cat /warehouse:dw/f", crm) == [Dataset(word="f", depot="warehouse", collection="dw")]
    assert suggest("cat orders/x", crm) == []  # nothing under a dataset
    assert texts("cd ../s", crm) == ["sales"]


def test_suggest_man_and_describe():
    assert suggest("man catalog s", at()) == [Subcommand(word="s", path=("catalog",))]
    assert suggest("man get x", at()) == []
    crm = at("dataos://lake:crm")
    assert suggest("describe ", crm) == [ResourceType(word=""), Dataset(word="", depot="lake", collection="crm",
                                                                       sql=True)]
    assert suggest("describe workflow o", crm) == [ResourceName(word="o", type="workflow")]
    assert suggest("describe orders ", crm)[0] == Keyword(word="", lower=True, likely=NEXT_KEYWORDS[None])
    assert is_sql("describe orders") and not is_sql("describe workflows x") and not is_sql("describe")


def test_suggest_aliases_and_variables():
    state = at(aliases={"ll": "ls -l"}, env={"HOME_DEPOT": "lake"})
    assert suggest("ll dataos://", state) == [Depot(word="", suffix=":")]
    assert suggest("cd $HO", state) == [Variable(word="HO")]


def test_suggest_sql_keywords_tables_and_columns():
    crm = at("dataos://lake:crm")
    assert suggest("select * fr", crm)[0] == Keyword(word="fr", lower=True, likely=("FROM", "AS"))
    assert suggest("SELECT * FROM orders WH", crm) == [Keyword(word="WH", lower=False, likely=NEXT_KEYWORDS["from"])]
    assert suggest("select * from ", crm) == [Dataset(word="", depot="lake", collection="crm", sql=True),
                                              Depot(word="", suffix=".", sql=True)]
    assert suggest("select * from lake.", crm)[0] == Collection(word="", depot="lake", suffix=".", sql=True)
    assert suggest("select * from lake.crm.or", crm) == [Dataset(word="or", depot="lake", collection="crm",
                                                                 sql=True)]
    assert suggest("select * from a join ", crm)[0] == Dataset(word="", depot="lake", collection="crm", sql=True)
    assert suggest("select * from a, ", crm)[0].__class__ is Dataset
    # columns of the statement's tables, even when FROM follows the cursor
    assert suggest("select c", crm, " from orders o join people p on o.person_id = p.id") == [
        Column(word="c", urns=(ORDERS, PEOPLE)), Function(word="c"), Keyword(word="c", lower=True)]
    for clause in ("where ", "where a = 1 and ", "group by ", "order by ", "having ", "join people p on "):
        found = suggest(f"select * from orders {clause}", crm)
        assert Column(word="", urns=(ORDERS,) if "people" not in clause else (ORDERS, PEOPLE)) in found, clause
    assert suggest("select o.", crm, " from lake.crm.orders as o") == [Column(word="", urns=(ORDERS,))]
    assert suggest("select orders.am", crm, " from orders") == [Column(word="am", urns=(ORDERS,))]
    assert suggest("select 'unfinished", crm) == []
    assert suggest("select x as ", crm) == []


def test_suggest_multi_line_sql_uses_the_whole_statement():
    crm = at("dataos://lake:crm")
    text = "select 1;\nselect o.order_id,\n       p.em"
    assert suggest(text, crm, "\n  from orders o\n  join people p on p.id = o.person_id;\nselect 2") == [
        Column(word="em", urns=(PEOPLE,))]


def test_suggest_after_a_semicolon_classifies_the_next_statement():
    crm = at("dataos://lake:crm")
    assert suggest("select 1; sel", crm) == [Command(word="sel")]
    assert suggest("select 1;\nget workflow o", crm) == [ResourceName(word="o", type="workflow")]
    assert suggest("ls; select * from lake.", crm)[0] == Collection(word="", depot="lake", suffix=".", sql=True)
    assert suggest("select ';' from ", crm)[0] == Dataset(word="", depot="lake", collection="crm", sql=True)


def test_is_sql():
    assert is_sql("select 1") and is_sql("  WITH x as (select 1) select * from x") and is_sql("(select 1)")
    assert not is_sql("get workflow") and not is_sql("selection") and not is_sql("")


# --- (b) the completer: which candidates match, ranked --------------------------------------------

def test_complete_commands_with_help():
    found = {c.text: c.display_meta_text for c in complete("c", at())}
    assert found["cd"] == "Change the directory." and found["catalog"].startswith("The catalog")
    assert texts("ge", at())[0] == "get"
    assert "select" in texts("sel", at())


def test_complete_subcommands_and_flags():
    assert texts("catalog s") == ["scan", "search", "show"] + texts("catalog s")[3:]
    assert texts("runtime re")[:2] == ["rerun", "resume"]
    flags = texts("get --o")
    assert flags[0] == "--output"
    assert texts("get -o ") == ["json", "name", "table", "wide", "yaml"]
    meta = {c.text: c.display_meta_text for c in complete("get --")}
    assert meta["--workspace"].startswith("Workspace")


def test_complete_resource_types_names_and_pods():
    assert "workflow" in texts("get wor")
    assert texts("get workflow or")[0] == "orders-daily"
    assert complete("get workflow or")[0].display_meta_text == "workflow"
    assert complete("get workflow or")[0].start_position == -2
    assert texts("logs ord") == ["orders-daily-7f3a", "orders-daily-9b21"]
    assert texts("kill peo") == ["people-sync-0001"]


def test_complete_paths():
    root = at()
    assert texts("cd dataos://", root) == ["crm-db:", "lake:", "warehouse:"]
    assert texts("cd dataos://lake:", root) == ["crm", "sales"]
    assert texts("cat dataos://lake:c", root) == ["crm/"]
    assert texts("cat dataos://lake:crm/pe", root) == ["people"]
    c = complete("cat dataos://lake:crm/pe", root)[0]
    assert c.start_position == -2 and c.display_meta_text == "dataset"
    # relative to the current directory
    assert texts("ls l", root) == ["lake:"]
    assert texts("cd s", at("dataos://lake")) == ["sales"]
    assert texts("head ord", at("dataos://lake:crm")) == ["order_items", "orders"]
    assert "dataos://" in texts("ls dat", root)


def test_complete_sql_keywords_tables_and_columns():
    assert texts("select * from orders wh")[0] == "where"
    assert texts("SELECT * FROM orders WH")[0] == "WHERE"
    assert texts("select * from ") [:3] == ["order_items", "orders", "people"]
    assert '"crm-db".' in texts("select * from ")  # a name SQL must quote
    assert texts("select * from lake.") == ["crm.", "sales."]
    assert texts("select * from lake.crm.pe") == ["people"]
    found = complete("select * from orders where am")
    assert (found[0].text, found[0].display_meta_text) == ("amount", "column DOUBLE")
    assert texts("select p.| from orders o join people p") == ["city", "email", "id"]
    assert texts("select o.cr| from orders o join people p") == ["created_at"]
    by_alias = complete("select x.| from lake.crm.people x")
    assert [(c.text, c.display_meta_text) for c in by_alias][0] == ("city", "column VARCHAR")
    assert texts('select u| from "crm-db"."public".users', at())[0] == '"user id"'
    first = texts("select c| from orders o join people p")
    assert first[:2] == ["city", "created_at"] and "count" in first and "case" in first
    assert first.index("count") < first.index("case")  # columns, then functions, then keywords


def test_complete_multi_line_sql():
    text = "select o.order_id,\n       p.em|\n  from orders o\n  join people p on p.id = o.person_id"
    assert texts(text) == ["email"]
    assert texts("select *\nfrom orders\nwhere ord") [0] == "order_id"


def test_fuzzy_matches_come_after_prefix_matches_and_tight_ones_first():
    ranked = [n for _, n in sorted(match("ordr", ["order_items", "orders", "x_ordinary_r", "o_r_d_r", "abc"]))]
    assert ranked == ["order_items", "orders", "o_r_d_r", "x_ordinary_r"]
    assert texts("cat ordr") == ["orders", "order_items"]  # fuzzy: the shorter first at equal tightness
    assert texts("get workflow ody") == ["orders-daily"]  # o…d…y
    assert texts("cat PEO") == ["people"]  # case-insensitive
    assert texts("get workflow sy")[0] == "people-sync"
    prefix_then_fuzzy = texts("get workflow o")
    assert prefix_then_fuzzy[0] == "orders-daily" and set(prefix_then_fuzzy[1:]) == {"people-sync"}


def test_completion_never_raises():
    class Broken(FakeSource):
        def datasets(self, depot, collection):
            raise RuntimeError("boom")
    assert texts("select * from ", source=Broken()) == ['"crm-db".', "lake.", "warehouse."]
    for text in ('select "unfinished', "get \"workflow", "select * from (select", "((", "cd '", "-x", "--"):
        complete(text)


# --- the source: a snapshot refreshed in the background -------------------------------------------

class Fake:
    """A client with the syscalls the source uses, answering from dicts; `fail` makes every call raise."""

    def __init__(self) -> None:
        self.fail = False
        self.calls: list[str] = []
        self.lake = {"crm": {"orders": [{"name": "id", "type": "BIGINT"}]}}
        outer = self

        class NS:
            def __init__(self, prefix):
                self.prefix = prefix

            def __getattr__(self, name):
                def call(**kw):
                    outer.calls.append(f"{self.prefix}.{name}")
                    if outer.fail:
                        raise SyscallError("EUNAVAIL", "the kernel is down")
                    return outer.answer(f"{self.prefix}.{name}", kw)
                return call
        for ns in ("resource", "pod", "dataset", "catalog"):
            setattr(self, ns, NS(ns))

    def answer(self, name, kw):
        if name == "resource.list":
            return [{"name": "lake", "type": "depot"}, {"name": "orders-daily", "type": "workflow",
                                                        "workspace": "public"}]
        if name == "resource.types":
            return [{"type": "workflow"}, {"type": "depot"}]
        if name == "pod.list":
            return [{"name": "orders-daily-1", "created": "2025-01-01"}]
        if name == "dataset.list":
            depot, _, collection = kw["address"].removeprefix("dataos://").partition(":")
            if depot != "lake":
                raise SyscallError("ENOENT", f"no depot {depot}")
            names = self.lake[collection] if collection else self.lake
            return [{"name": n} for n in names]
        if name == "catalog.get":
            dataset = kw["ref"].rpartition("/")[2]
            return {"aspects": {"schema": {"columns": self.lake["crm"][dataset]}}}
        raise AssertionError(name)


@pytest.fixture
def fake_source():
    source = RefreshingSource(Fake(), ShellState(), interval=0.05)
    source.start()
    yield source
    source.close()
    assert not source._thread.is_alive()


def test_the_source_loads_lazily_without_blocking(fake_source):
    s = fake_source
    wait_for(lambda: s.depots() == ["lake"])
    assert s.resources("workflow") == ["orders-daily"] and s.pods() == ["orders-daily-1"]
    assert s.types() == ["depot", "workflow"] and s.workspaces() == ["public"]
    started = time.perf_counter()
    first = s.collections("lake")  # what is cached now (nothing), the load queued
    assert time.perf_counter() - started < 0.01
    assert first in ([], ["crm"])
    wait_for(lambda: s.collections("lake") == ["crm"])
    wait_for(lambda: s.datasets("lake", "crm") == ["orders"])
    wait_for(lambda: s.columns("dataos://lake:crm/orders") == ["id"])
    assert s.column_types("dataos://lake:crm/orders") == [("id", "BIGINT")]
    s.collections("gone")  # ENOENT: remembered as empty, not retried on every keystroke
    wait_for(lambda: ("collections", "gone") in s.snapshot.loaded)
    assert s.collections("gone") == []


def test_a_failing_refresh_keeps_the_last_snapshot(fake_source):
    s = fake_source
    wait_for(lambda: s.depots() == ["lake"])
    wait_for(lambda: s.collections("lake") == ["crm"])
    before = s.snapshot
    errors = s.errors
    s.client.fail = True
    s.refresh()
    wait_for(lambda: s.errors > errors + 2)  # several refreshes failed (interval 0.05 s)
    assert s.snapshot is before
    assert s.depots() == ["lake"] and s.collections("lake") == ["crm"] and s.pods() == ["orders-daily-1"]
    s.client.fail = False
    s.client.lake["sales"] = {}
    wait_for(lambda: s.snapshot is not before)


def test_readers_see_whole_snapshots_while_it_changes():
    source = SnapshotSource(Snapshot(depots=("a",)))
    stop = threading.Event()
    seen = []

    def writer():
        i = 0
        while not stop.is_set():
            i += 1
            source.snapshot = Snapshot(depots=(f"d{i}",), collections={f"d{i}": (f"c{i}",)})
    t = threading.Thread(target=writer)
    t.start()
    try:
        for _ in range(2000):
            snap = source.snapshot
            for depot in snap.depots:
                seen.append(snap.collections.get(depot, ("c" + depot[1:],)) == ("c" + depot[1:],))
    finally:
        stop.set()
        t.join()
    assert all(seen)


def test_the_source_notices_a_new_directory():
    state = ShellState()
    source = RefreshingSource(Fake(), state, interval=60).start()
    try:
        wait_for(lambda: source.depots())
        state.cwd = "dataos://lake:crm"
        wait_for(lambda: source.snapshot.datasets.get(("lake", "crm")) == ("orders",), timeout=5)
        assert source.snapshot.collections.get("lake") == ("crm",)
    finally:
        source.close()


# --- against a real kernel -------------------------------------------------------------------------

def test_a_real_kernel_depots_collections_datasets_and_columns_appear(unix, tmp_path):
    root = tmp_path / "lake"
    (root / "crm").mkdir(parents=True)
    duckdb.sql(f"COPY (SELECT i AS id, 'p' || i AS name, i * 1.5::DOUBLE AS score FROM range(10) t(i)) "
               f"TO '{root}/crm/people.parquet'")
    depot = f"lake{uuid.uuid4().hex[:6]}"
    unix.op.resource.apply(manifests=[{"name": depot, "version": "v1", "type": "depot",
                                       "depot": {"type": "file", "file": {"path": str(root)}}}])
    state = ShellState()
    source = start_source(unix.op, state)
    try:
        wait_for(lambda: depot in source.depots())
        assert depot in source.resources("depot")
        wait_for(lambda: source.collections(depot) == ["crm"])
        wait_for(lambda: source.datasets(depot, "crm") == ["people"])
        urn = f"dataos://{depot}:crm/people"
        wait_for(lambda: source.columns(urn) == ["id", "name", "score"], timeout=30)  # after the first scan
        completer = ShellCompleter(state, source, COMMANDS)
        assert f"{depot}:" in texts(f"cd dataos://{depot[:5]}", state, source)
        state.cwd = f"dataos://{depot}:crm"
        source.refresh()
        found = complete("select * from people where sc", state, source)
        assert [(c.text, c.display_meta_text) for c in found][:1] == [("score", "column DOUBLE")]
        assert completer is not None
    finally:
        source.close()


# --- the lexer -------------------------------------------------------------------------------------

def test_the_lexer_highlights_sql_through_pygments():
    doc = Document("select id, 'x'\nfrom lake.crm.orders where id = 1")
    lines = ShellLexer().lex_document(doc)
    first, second = lines(0), lines(1)
    assert ("class:pygments.keyword", "select") in [(s, t) for s, t, *_ in first]
    assert any("string" in s for s, t, *_ in first if t == "'x'")
    assert any("keyword" in s and t.lower() == "where" for s, t, *_ in second)
    assert "".join(t for _, t, *_ in first) == "select id, 'x'"


def test_the_lexer_highlights_command_lines():
    line = 'get workflow orders -w public --output=json "a b" dataos://lake:crm/x $HOME # note'
    fragments = ShellLexer().lex_document(Document(line))(0)
    styles = {t: s for s, t, *_ in fragments}
    assert "shell.command" in styles["get"]
    assert "shell.flag" in styles["-w"] and "shell.flag" in styles["--output="]
    assert "shell.string" in styles['"a b"'] and "shell.path" in styles["dataos://lake:crm/x"]
    assert "shell.variable" in styles["$HOME"] and "shell.comment" in styles["# note"]
    assert styles["workflow"] == ""
    assert "".join(t for _, t, *_ in fragments) == line


def test_no_menu_opens_on_an_empty_continuation_line_while_typing_but_tab_completes():
    completer = ShellCompleter(at("dataos://lake:crm"), FakeSource(), COMMANDS)
    text = "select 1 +\n"
    typing = list(completer.get_completions(Document(text, len(text)), CompleteEvent(text_inserted=True)))
    tab = list(completer.get_completions(Document(text, len(text)), CompleteEvent(completion_requested=True)))
    assert typing == [] and tab


def test_suggest_the_sql_meta_commands_and_query_history():
    crm = at("dataos://lake:crm")
    for line in ("\\d or", "\\dt or", "summarize or", "SHOW COLUMNS FROM or", "desc or"):
        assert suggest(line, crm) == [Dataset(word="or", depot="lake", collection="crm", sql=True),
                                      Depot(word="or", suffix=".", sql=True)], line
    assert suggest("describe lake.crm.pe", crm) == [Dataset(word="pe", depot="lake", collection="crm", sql=True)]
    assert "orders" in texts("\\d or") and "order_items" in texts("\\d or")
    assert texts("query h")[:1] == ["history"]
    assert texts("query history --li") == ["--limit"]
    assert texts("query --dia") == ["--dialect"]           # the SQL's options: the group's default command
    assert texts('query "select 1" --clu') == ["--cluster"]
