"""The catalog search: a box, facets (depot, type, tag with counts; select to filter) and results."""
from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from dataos_shell.output import short

from .common import DatasetChosen, error_text

FACETS = ("depot", "type", "tag")


class SearchPane(Vertical):
    DEFAULT_CSS = """
    SearchPane { height: auto; max-height: 60%; }
    SearchPane Input { height: 3; }
    SearchPane #facets { height: auto; max-height: 7; display: none; border: none; }
    SearchPane #results { height: auto; max-height: 12; display: none; border: none; }
    SearchPane.-searching #facets, SearchPane.-searching #results { display: block; }
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.filters: dict[str, str] = {}
        self.found: dict[str, Any] = {}

    def compose(self) -> ComposeResult:
        yield Input(placeholder="/ search the catalog", id="search")
        yield OptionList(id="facets")
        yield OptionList(id="results")

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.search()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        results = self.query_one("#results", OptionList)
        if results.option_count and results.get_option_at_index(0).id:
            results.focus()
            results.highlighted = 0

    @work(exclusive=True, group="search")
    async def search(self) -> None:
        text = self.query_one("#search", Input).value.strip()
        if not text and not self.filters:
            self.set_class(False, "-searching")
            self.found = {}
            return
        try:
            found = await self.app.link.call("catalog.search", text=text, limit=50, **self.filters)
        except Exception as e:
            self.notify(f"search: {error_text(e)}", severity="error")
            return
        self.found = found
        self.set_class(True, "-searching")
        self._show(found)

    def _show(self, found: dict[str, Any]) -> None:
        facets = self.query_one("#facets", OptionList)
        facets.clear_options()
        for name in FACETS:
            values = dict(found.get("facets", {}).get(name) or {})
            if name in self.filters:
                values.setdefault(self.filters[name], 0)
            for value, n in list(values.items())[:6]:
                on = self.filters.get(name) == value
                label = Text.assemble(("● " if on else "○ ", "bold green" if on else "dim"), (f"{name}: ", "dim"),
                                      value, (f" ({n})", "dim"))
                facets.add_option(Option(label, id=f"{name}\x00{value}"))
        results = self.query_one("#results", OptionList)
        results.clear_options()
        shown = found.get("results", [])
        for r in shown:
            label = Text.assemble((r.get("name") or r["urn"], "bold"), "  ", (short(r["urn"], 48), "dim"))
            if r.get("tags"):
                label.append("  " + ", ".join(r["tags"][:3]), "yellow")
            results.add_option(Option(label, id=r["urn"]))
        if not shown:
            results.add_option(Option(Text("no results", "dim"), disabled=True))
        elif found.get("total", 0) > len(shown):
            results.add_option(Option(Text(f"{len(shown)} of {found['total']}", "dim"), disabled=True))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if not event.option_id:
            return
        if event.option_list.id == "facets":
            name, _, value = event.option_id.partition("\x00")
            if self.filters.get(name) == value:
                del self.filters[name]
            else:
                self.filters[name] = value
            self.search()
        else:
            urn = event.option_id
            if urn.startswith("dataos://"):
                self.post_message(DatasetChosen(urn))
            else:
                self.notify(f"{urn} is not a dataset", severity="warning")
