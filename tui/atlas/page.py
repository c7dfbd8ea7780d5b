"""A dataset's page: a header (name, UDL, owner, tier, rows and size, tags, quality, description) and
tabs: Schema (a column's detail under the table: type, tags, mask, profile, description, where it
comes from), Profile, Lineage, Sample (a governed query, masks marked) and History (the change log,
newest first)."""
from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from userlib.output import (age, counted, distinct_exact, distinct_text, profile_summary, short, shown_column_tags,
                                 sql_address)

from ..columns import FittingTable
from ..link import error_text
from .common import sql_name
from .lineage import LineageTree

SAMPLE_ROWS = 100
NBSP = "\u00a0"
# each table's columns, and which a narrow page keeps, most important first
SCHEMA = ("column", "type", "tags", "masked", "description", "profile")
SCHEMA_KEEP = ("column", "type", "masked", "tags", "profile", "description")
PROFILE = ("column", "min", "max", "null %", "distinct", "top values")
PROFILE_KEEP = ("column", "distinct", "null %", "min", "max", "top values")
HISTORY = ("when", "age", "by", "change", "aspect", "version")
HISTORY_KEEP = ("when", "change", "by", "age", "aspect", "version")


class DatasetPage(Vertical):
    DEFAULT_CSS = """
    DatasetPage { width: 1fr; height: 1fr; }
    DatasetPage #page-header { height: auto; padding: 0 1; border-bottom: solid $primary-background; }
    DatasetPage TabbedContent { height: 1fr; }
    DatasetPage DataTable { height: 1fr; }
    DatasetPage #column-detail { height: auto; max-height: 9; padding: 0 1; border-top: solid $primary-background; }
    DatasetPage #column-detail.-empty { display: none; }
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.urn: str | None = None
        self.entity: dict[str, Any] = {}
        self.graph: dict[str, Any] = {}

    def compose(self) -> ComposeResult:
        yield Static("[dim]Select a dataset in the tree, or search with /[/dim]", id="page-header")
        with TabbedContent(id="tabs"):
            with TabPane("Schema", id="tab-schema"):
                yield FittingTable(id="schema", cursor_type="row", zebra_stripes=True)
                yield Static("", id="column-detail")
            with TabPane("Profile", id="tab-profile"):
                yield FittingTable(id="profile", cursor_type="row", zebra_stripes=True)
            with TabPane("Lineage", id="tab-lineage"):
                yield LineageTree(id="lineage")
            with TabPane("Sample", id="tab-sample"):
                yield Static("", id="sample-note", classes="muted")
                yield DataTable(id="sample", zebra_stripes=True)
            with TabPane("History", id="tab-history"):
                yield FittingTable(id="history", cursor_type="row", zebra_stripes=True)

    # --- loading ---------------------------------------------------------------------------------

    @work(exclusive=True, group="page")
    async def open(self, urn: str, column: str | None = None) -> None:
        link = self.app.link
        self.urn = urn
        try:
            entity = await link.call("catalog.get", ref=urn)
        except Exception as e:
            self.notify(f"{urn}: {error_text(e)}", severity="error")
            return
        if self.urn != urn:
            return
        self.entity = entity
        self._header(entity)
        self._schema(entity, column)
        self._profile(entity)
        self.load_sample(urn)
        self.load_rest(urn)

    async def refresh_entity(self) -> None:
        """Reload the header, schema and profile (after an edit)."""
        if not self.urn:
            return
        row = self.query_one("#schema", DataTable).cursor_row
        self.entity = await self.app.link.call("catalog.get", ref=self.urn)
        self._header(self.entity)
        self._schema(self.entity, None)
        self._profile(self.entity)
        table = self.query_one("#schema", DataTable)
        if table.row_count:
            table.move_cursor(row=min(row, table.row_count - 1))
        self.load_sample(self.urn)
        self.load_rest(self.urn)

    @work(exclusive=True, group="page-rest")
    async def load_rest(self, urn: str) -> None:
        link = self.app.link
        try:
            graph = await link.call("catalog.lineage", ref=urn, direction="both", depth=3)
            if self.urn != urn:
                return
            self.graph = graph
            self.query_one(LineageTree).show_graph(graph)
            self.show_column()
        except Exception as e:
            self.query_one(LineageTree).clear().root.set_label(f"lineage: {error_text(e)}")
        table = self.query_one("#history", FittingTable)
        try:
            history = await link.call("catalog.history", ref=urn)
        except Exception as e:
            table.fill_rows(HISTORY, [(("", "", "", error_text(e), "", ""), None)], HISTORY_KEEP)
            return
        if self.urn != urn:
            return
        rows = []
        for r in reversed(history):  # newest first, one row a change
            when = str(r.get("time", ""))
            for change in r.get("changes") or [f"{r.get('aspect', '')} changed"]:
                rows.append(((Text(when[:16].replace("T", " "), "dim"),
                              Text(f"{age(when)} ago" if when else "?", "dim", justify="right"),
                              r.get("by", ""), _change_text(change), Text(r.get("aspect", ""), "dim"),
                              Text(str(r.get("version", "")), justify="right")), None))
        table.fill_rows(HISTORY, rows, HISTORY_KEEP)

    @work(exclusive=True, group="page-sample")
    async def load_sample(self, urn: str) -> None:
        note = self.query_one("#sample-note", Static)
        table = self.query_one("#sample", DataTable)
        table.clear(columns=True)
        note.update("loading a governed sample…")
        sql = f"SELECT * FROM {sql_name(urn)} LIMIT {SAMPLE_ROWS}"
        try:
            result = await self.app.link.call("query.execute", sql=sql, limit=SAMPLE_ROWS)
        except Exception as e:
            note.update(f"no sample: {error_text(e)}")
            return
        if self.urn != urn:
            return
        for c in result["columns"]:
            label = Text(c["name"], "bold")
            if c.get("masked"):
                label.append(f" [masked: {c['masked']}]", "red")
            table.add_column(label, key=c["name"])
        for row in result["rows"]:
            table.add_row(*[Text(str(v)) if v is not None else Text("null", "dim") for v in row])
        policies = (result.get("governance") or {}).get("policies") or []
        note.update(f"{sql}  ·  {counted(result.get('row_count', len(result['rows'])), 'row')}" +
                    (f"  ·  policies: {', '.join(policies)}" if policies else ""))

    # --- rendering --------------------------------------------------------------------------------

    def _header(self, entity: dict[str, Any]) -> None:
        a = entity.get("aspects", {})
        tags = (a.get("tags") or {}).get("dataset", [])
        props = a.get("properties") or {}
        owner = (a.get("ownership") or {}).get("owner")
        tier = next((t for t in tags if t.startswith("Tier.")), None)
        if props.get("rows") is None and entity.get("filtered"):
            rows = "(filtered for you)"
        elif props.get("rows") is not None:
            rows = f"{props['rows']:,}"
        else:
            rows = "?"
        urn = entity["urn"]
        rest = urn.split("://", 1)[-1]
        text = Text(rest.rsplit("/", 1)[-1], "bold reverse")
        text.append(f"  {entity.get('kind', 'dataset')}  ", "dim")
        text.append(urn, "dim")
        text.append("\nowner ", "dim")
        text.append(owner or "none", "bold green" if owner else "dim italic")
        if not owner and not self.app.readonly:
            text.append(" (o sets one)", "dim")
        for name, value in (("tier", tier.removeprefix("Tier.") if tier else "—"), ("rows", rows),
                            ("size", _size(props.get("bytes"))), ("format", props.get("format")),
                            ("scanned", f"{age(props['scanned'])} ago" if props.get("scanned") else None)):
            if value is None:
                continue
            text.append(f"   {name}{NBSP}", "dim")  # a narrow page wraps between fields, not inside one
            text.append(str(value).replace(" ", NBSP), "bold" if name == "tier" and tier else "")
        text.append("\ntags ", "dim")
        text.append(", ".join(t for t in tags if t != tier) or "—", "yellow")
        quality = a.get("quality") or {}
        if quality.get("results") is not None:
            failed = quality.get("failed", 0)
            text.append("   quality ", "dim")
            text.append(f"{quality.get('passed', 0)} passed" + (f", {failed} failed" if failed else ""),
                        "bold red" if failed else "green")
            if quality.get("time"):
                text.append(f" {age(quality['time'])} ago", "dim")
        description = (a.get("description") or {}).get("dataset")
        text.append("\n")
        if description:
            text.append(description, "italic")
        else:
            text.append("no description" + ("" if self.app.readonly else " (e describes)"), "dim")
        self.query_one("#page-header", Static).update(text)

    def columns(self) -> list[str]:
        return [c["name"] for c in ((self.entity.get("aspects") or {}).get("schema") or {}).get("columns", [])]

    def _schema(self, entity: dict[str, Any], column: str | None) -> None:
        a = entity.get("aspects", {})
        column_tags = shown_column_tags(a.get("tags"))
        suggested = (a.get("suggestions") or {}).get("columns", {})
        descriptions = (a.get("description") or {}).get("columns", {})
        profile, exact = (a.get("profile") or {}).get("columns", {}), distinct_exact(a.get("profile"))
        masked = entity.get("masked") or {}
        rows = []
        for c in (a.get("schema") or {}).get("columns", []):
            name = c["name"]
            rows.append(((Text(name, "bold"), c["type"] + ("" if c.get("nullable", True) else " not null"),
                          _tags_cell(column_tags.get(name, []), suggested.get(name, [])),
                          Text(masked[name], "red") if name in masked else "",
                          short(descriptions.get(name, ""), 40), profile_summary(profile.get(name), 14, exact)),
                         name))
        table = self.query_one("#schema", FittingTable)
        table.fill_rows(SCHEMA, rows, SCHEMA_KEEP)
        if column and column in self.columns():
            table.move_cursor(row=self.columns().index(column))
        self.show_column()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "schema":
            self.show_column()

    def show_column(self) -> None:
        """The detail of the schema row under the cursor: type, tags, mask, profile, description, sources."""
        detail = self.query_one("#column-detail", Static)
        table = self.query_one("#schema", DataTable)
        names = self.columns()
        if not names and self.entity:
            depot = self.entity["urn"].split("://", 1)[-1].partition(":")[0]
            detail.set_class(False, "-empty")
            detail.update(Text(f"no schema in the catalog yet: `dataos catalog scan {depot}` reads it", "dim"))
            return
        empty = not names or not 0 <= table.cursor_row < len(names)
        detail.set_class(empty, "-empty")
        if empty:
            return
        name = names[table.cursor_row]
        a = self.entity.get("aspects", {})
        column = next(c for c in (a.get("schema") or {}).get("columns", []) if c["name"] == name)
        tagged = shown_column_tags(a.get("tags")).get(name, [])
        tags = [t for t, _ in tagged]
        suggested = [t for t in ((a.get("suggestions") or {}).get("columns") or {}).get(name, []) if t not in tags]
        masked = (self.entity.get("masked") or {}).get(name)
        text = Text(name, "bold")
        text.append(f"  {column['type']}{'' if column.get('nullable', True) else ' not null'}", "cyan")
        if masked:
            text.append(f"   masked for you by {masked}", "bold red")
        text.append("\ntags ", "dim")
        text.append(", ".join(t if source is None else f"{t} (from {sql_address(source)})" for t, source in tagged)
                    or "—", "yellow")
        if suggested:
            text.append("   suggested ", "dim")
            text.append(", ".join(suggested) + ("" if self.app.readonly else " (t tags)"), "yellow dim")
        description = ((a.get("description") or {}).get("columns") or {}).get(name)
        text.append("\n")
        text.append(description or "no description", "italic" if description else "dim")
        stats = ((a.get("profile") or {}).get("columns") or {}).get(name)
        if stats:
            text.append("\nprofile ", "dim")
            text.append(profile_summary(stats, 24, distinct_exact(a.get("profile"))))
            top = _top(stats, 3)
            if top:
                text.append("   top ", "dim")
                text.append(top)
        edges = self.graph.get("edges", [])
        sources = [f"{_short_urn(src)}.{col}" for edge in edges if edge.get("to") == self.urn
                   for src, col in (edge.get("columns") or {}).get(name, [])]
        targets = [f"{_short_urn(edge['to'])}.{target}" for edge in edges if edge.get("from") == self.urn
                   for target, mapped in (edge.get("columns") or {}).items()
                   if any(src == self.urn and col == name for src, col in mapped)]
        for label, ends in (("from ", sources), ("feeds ", targets)):
            if ends:
                text.append("\n" + label, "dim")
                text.append(short(", ".join(ends), 200))
        detail.update(text)

    def _profile(self, entity: dict[str, Any]) -> None:
        aspect = (entity.get("aspects") or {}).get("profile")
        profile, exact = (aspect or {}).get("columns", {}), distinct_exact(aspect)
        rows = []
        for name in self.columns():
            s = profile.get(name) or {}
            rows.append(((name, short(s.get("min", ""), 20), short(s.get("max", ""), 20),
                          Text("" if s.get("null_pct") is None else f"{s['null_pct']:.1f}", justify="right"),
                          Text(distinct_text(s.get("distinct"), exact), justify="right"), short(_top(s, 5), 40)), None))
        self.query_one("#profile", FittingTable).fill_rows(PROFILE, rows, PROFILE_KEEP)

    def selected_column(self) -> str | None:
        """The schema row under the cursor, when the schema table has the focus."""
        table = self.query_one("#schema", DataTable)
        if self.screen.focused is table and table.row_count:
            names = self.columns()
            if 0 <= table.cursor_row < len(names):
                return names[table.cursor_row]
        return None


def _top(stats: dict[str, Any], n: int) -> str:
    """A profile's most frequent values: `a (3), b (2)`."""
    return ", ".join(f"{t[0]} ({t[1]})" if isinstance(t, (list, tuple)) and len(t) == 2 else
                     f"{t.get('value')} ({t.get('count')})" if isinstance(t, dict) else str(t)
                     for t in (stats.get("top") or [])[:n])


def _size(n: Any) -> str | None:
    if not isinstance(n, (int, float)):
        return None
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return "—"


def _change_text(change: str) -> Text:
    """A change log line, coloured by what it did."""
    style = ("green" if " added" in change or "recorded" in change or "set to" in change else
             "red" if " removed" in change or "failed" in change else "yellow" if "changed" in change else "")
    return Text(change, style)


def _short_urn(urn: str) -> str:
    """dataos://lake:crm/orders → lake:crm/orders."""
    return urn.split("://", 1)[-1]


def _tags_cell(tags: list[tuple[str, str | None]], suggested: list[str]) -> Text:
    """A column's tags (those propagated from an input column italic, with a ↑), then the scan's
    suggestions not taken yet, dim with a `?`."""
    text = Text()
    for tag, source in tags:
        text.append((", " if text else "") + tag + ("↑" if source else ""), "yellow" if source is None else "italic yellow")
    for tag in (t for t in suggested if t not in {t for t, _ in tags}):
        text.append((", " if text else "") + f"{tag}?", "dim yellow")
    return text
