"""The catalog search: a box, facets (depot, type, tag, owner, tier with counts; select to filter) and
results (a dataset opens its page, a resource opens in Operations), a page at a time: the count line says "50 of 1,234", and the last row loads the next page
(catalog.search's offset) when it is selected or the cursor reaches it. Escape clears the search,
and pressed again goes back to the tree."""
from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from userlib.output import short

from ..link import error_text
from ..messages import OpenResource
from .common import DatasetChosen

FACETS = ("depot", "type", "tag", "owner", "tier")
PAGE = 50  # results a page
MORE = "\x00more"  # the id of the row that loads the next page


class SearchPane(Vertical):
    DEFAULT_CSS = """
    SearchPane { height: auto; max-height: 60%; }
    SearchPane Input { height: 3; }
    SearchPane #facets { height: auto; max-height: 7; display: none; border: none; }
    SearchPane #count { height: 1; display: none; padding: 0 1; color: $text-muted; }
    SearchPane #results { height: auto; max-height: 12; display: none; border: none; }
    SearchPane.-searching #facets, SearchPane.-searching #results, SearchPane.-searching #count { display: block; }
    """

    BINDINGS = [Binding("escape", "leave", "Clear search", show=False)]

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.filters: dict[str, str] = {}
        self.found: dict[str, Any] = {}
        self.loading_more = False

    def compose(self) -> ComposeResult:
        yield Input(placeholder="/ search the catalog", id="search")
        yield OptionList(id="facets")
        yield Static("", id="count")
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

    def action_leave(self) -> None:
        """Escape: clear the search (words and facets); pressed again, back to the tree."""
        box = self.query_one("#search", Input)
        if box.value or self.filters:
            self.filters.clear()
            box.value = ""
            box.focus()
            self.search()  # of nothing: the results close
        else:
            self.screen.query_one("#catalog-tree").focus()

    def _request(self) -> dict[str, Any]:
        return {"text": self.query_one("#search", Input).value.strip(), **self.filters}

    @work(exclusive=True, group="search")
    async def search(self) -> None:
        request = self._request()
        if not request["text"] and not self.filters:
            self.set_class(False, "-searching")
            self.found = {}
            return
        try:
            found = await self.app.link.call("catalog.search", limit=PAGE, **request)
        except Exception as e:
            self.notify(f"search: {error_text(e)}", severity="error")
            return
        self.found = found
        self.loading_more = False
        self.set_class(True, "-searching")
        self._show(found)

    @work(exclusive=True, group="search-more")
    async def more(self) -> None:
        """The next page of the same search, added under what is shown."""
        if self.loading_more or not self.found:
            return
        self.loading_more = True
        request, shown = self._request(), len(self.found.get("results", []))
        try:
            found = await self.app.link.call("catalog.search", limit=PAGE, offset=shown, **request)
        except Exception as e:
            self.notify(f"search: {error_text(e)}", severity="error")
            self.loading_more = False
            return
        if request != self._request() or shown != len(self.found.get("results", [])):
            return  # the search changed meanwhile: its own answer is on the way
        self.found = {**found, "results": self.found["results"] + found.get("results", [])}
        self.loading_more = False
        self._show_results(self.found, keep=shown)

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
        self._show_results(found)

    def _show_results(self, found: dict[str, Any], keep: int = 0) -> None:
        """Rows for the results past the first `keep` (already shown), the count, and the "more" row."""
        results = self.query_one("#results", OptionList)
        highlighted = results.highlighted
        if keep:
            results.remove_option(MORE)
        else:
            results.clear_options()
        shown = found.get("results", [])
        width = max(24, self.size.width - 6)  # a result is one line of the pane
        for r in shown[keep:]:
            name = r.get("name") or r["urn"]
            label = Text.assemble((name, "bold"), "  ", (short(_where(r), max(10, width - len(name) - 2)), "dim"))
            room = width - len(label) - 2
            if r.get("tags") and room >= 6:  # tags only where they fit: a result is one line
                label.append("  " + short(", ".join(r["tags"][:3]), room), "yellow")
            results.add_option(Option(label, id=r["urn"]))
        total = max(found.get("total", 0), len(shown))
        of = f"{total:,}" + ("" if found.get("total_exact", True) else "+")
        plural = "" if total == 1 else "s"
        self.query_one("#count", Static).update(
            f"{total:,} result{plural}" if total == len(shown) and found.get("total_exact", True) else
            f"{len(shown):,} of {of} result{plural}")
        if not shown:
            results.add_option(Option(Text("no results", "dim"), disabled=True))
        elif total > len(shown):
            left = f"{total - len(shown):,}" + ("" if found.get("total_exact", True) else "+")
            results.add_option(Option(Text(f"… load the next {min(PAGE, total - len(shown)):,} ({left} more)",
                                           "bold dim"), id=MORE))
        if keep and highlighted is not None:
            results.highlighted = min(highlighted, results.option_count - 1)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_id == MORE:  # the cursor reached the end: the next page comes
            event.stop()
            self.more()

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
        elif event.option_id == MORE:
            self.more()
        else:
            urn = event.option_id
            if urn.startswith("dataos://"):
                self.post_message(DatasetChosen(urn))
            elif urn.startswith("resource://"):  # a workflow, a policy…: Operations shows it
                workspace, kind, name = (urn.removeprefix("resource://").split("/", 2) + ["", ""])[:3]
                self.app.switch_mode("operations")
                self.app.screen.post_message(OpenResource({"type": kind, "name": name,
                                                           "workspace": None if workspace == "instance" else workspace}))


def _where(result: dict[str, Any]) -> str:
    """Where a result lives: `lakehouse:retail` for a dataset, `policy in instance` for a resource."""
    urn = result["urn"]
    if urn.startswith("dataos://"):
        return urn.split("://", 1)[1].rsplit("/", 1)[0]
    workspace, _, rest = urn.split("://", 1)[-1].partition("/")
    return f"{rest.split('/', 1)[0]} in {workspace}"
