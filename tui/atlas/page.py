"""A dataset's page: a header (UDL, owner, tier, tags, description, rows) and tabs: Schema,
Profile, Lineage, Sample (a governed query, masks marked) and History."""
from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from dataos_shell.output import profile_summary, short

from .common import error_text, sql_name
from .lineage import LineageTree

SAMPLE_ROWS = 100


class DatasetPage(Vertical):
    DEFAULT_CSS = """
    DatasetPage { width: 1fr; height: 1fr; }
    DatasetPage #page-header { height: auto; padding: 0 1; border-bottom: solid $primary-background; }
    DatasetPage TabbedContent { height: 1fr; }
    DatasetPage DataTable { height: 1fr; }
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.urn: str | None = None
        self.entity: dict[str, Any] = {}

    def compose(self) -> ComposeResult:
        yield Static("[dim]Select a dataset in the tree, or search with /[/dim]", id="page-header")
        with TabbedContent(id="tabs"):
            with TabPane("Schema", id="tab-schema"):
                yield DataTable(id="schema", cursor_type="row", zebra_stripes=True)
            with TabPane("Profile", id="tab-profile"):
                yield DataTable(id="profile", cursor_type="row", zebra_stripes=True)
            with TabPane("Lineage", id="tab-lineage"):
                yield LineageTree(id="lineage")
            with TabPane("Sample", id="tab-sample"):
                yield Static("", id="sample-note", classes="muted")
                yield DataTable(id="sample", zebra_stripes=True)
            with TabPane("History", id="tab-history"):
                yield DataTable(id="history", cursor_type="row", zebra_stripes=True)

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
            self.query_one(LineageTree).show_graph(graph)
        except Exception as e:
            self.query_one(LineageTree).clear().root.set_label(f"lineage: {error_text(e)}")
        table = self.query_one("#history", DataTable)
        table.clear(columns=True)
        table.add_columns("time", "aspect", "version", "by", "changes")
        try:
            for r in await link.call("catalog.history", ref=urn):
                table.add_row(str(r.get("time", ""))[:19].replace("T", " "), r.get("aspect", ""),
                              str(r.get("version", "")), r.get("by", ""), "; ".join(r.get("changes", [])))
        except Exception as e:
            table.add_row("", "", "", "", error_text(e))

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
        note.update(f"{sql}  ·  {result.get('row_count', len(result['rows']))} rows" +
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
        text = Text(entity["urn"], "bold")
        text.append("\n")
        for name, value in (("owner", owner or "—"), ("tier", tier or "—"), ("rows", rows),
                            ("tags", ", ".join(tags) or "—")):
            text.append(f"{name}: ", "dim")
            text.append(str(value) + "   ")
        description = (a.get("description") or {}).get("dataset")
        text.append("\n")
        text.append(description or "(no description)", "italic" if description else "dim")
        self.query_one("#page-header", Static).update(text)

    def columns(self) -> list[str]:
        return [c["name"] for c in ((self.entity.get("aspects") or {}).get("schema") or {}).get("columns", [])]

    def _schema(self, entity: dict[str, Any], column: str | None) -> None:
        a = entity.get("aspects", {})
        column_tags = (a.get("tags") or {}).get("columns", {})
        descriptions = (a.get("description") or {}).get("columns", {})
        profile = (a.get("profile") or {}).get("columns", {})
        masked = entity.get("masked") or {}
        table = self.query_one("#schema", DataTable)
        table.clear(columns=True)
        table.add_columns("column", "type", "tags", "masked", "profile", "description")
        for c in (a.get("schema") or {}).get("columns", []):
            name = c["name"]
            table.add_row(Text(name, "bold"), c["type"] + ("" if c.get("nullable", True) else " not null"),
                          Text(", ".join(column_tags.get(name, [])), "yellow"),
                          Text(f"masked: {masked[name]}", "red") if name in masked else "",
                          profile_summary(profile.get(name), 14), short(descriptions.get(name, ""), 40), key=name)
        if column and column in self.columns():
            table.move_cursor(row=self.columns().index(column))

    def _profile(self, entity: dict[str, Any]) -> None:
        profile = ((entity.get("aspects") or {}).get("profile") or {}).get("columns", {})
        table = self.query_one("#profile", DataTable)
        table.clear(columns=True)
        table.add_columns("column", "min", "max", "null %", "distinct", "top values")
        for name in self.columns():
            s = profile.get(name) or {}
            top = s.get("top") or []
            top_text = ", ".join(f"{t[0]} ({t[1]})" if isinstance(t, (list, tuple)) and len(t) == 2 else
                                 f"{t.get('value')} ({t.get('count')})" if isinstance(t, dict) else str(t)
                                 for t in top[:5])
            table.add_row(name, short(s.get("min", ""), 20), short(s.get("max", ""), 20),
                          "" if s.get("null_pct") is None else f"{s['null_pct']:.1f}",
                          "" if s.get("distinct") is None else f"{s['distinct']:,}", short(top_text, 40))

    def selected_column(self) -> str | None:
        """The schema row under the cursor, when the schema table has the focus."""
        table = self.query_one("#schema", DataTable)
        if self.screen.focused is table and table.row_count:
            names = self.columns()
            if 0 <= table.cursor_row < len(names):
                return names[table.cursor_row]
        return None
