"""Workbench: a data catalog sidebar, a SQL editor, result tabs (grid, governance, chart), history,
cancel and export.

Keys: ctrl+j (what terminals send for ctrl+enter) / ctrl+enter / f5 / ctrl+r run the statement
under the cursor (or the selection) in a new result tab, named after the table it reads; escape /
ctrl+c cancel the current tab's query; escape leaves the editor (then 1/2/3 switch screens: in the
editor they are typed); f2 / f3 focus the editor / the results; ctrl+b / f9 show or hide the
catalog; ctrl+w closes the current result tab; alt+left / alt+right (ctrl+pageup / ctrl+pagedown)
switch result tabs; ctrl+l fetches every row of a result cut at the fetch limit; tab / ctrl+space
complete tables and columns (a popup when there are several); ctrl+s saves the query under a name
(the command palette opens it again); ctrl+e export; ctrl+g chart; f6 history."""
from __future__ import annotations

from contextlib import suppress
from dataclasses import replace
from itertools import pairwise
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import (
    Footer,
    Header,
    Input,
    OptionList,
    Static,
    TabbedContent,
    TabPane,
    TextArea,
)

from syscalls.errors import SyscallError

from ..banner import KernelBanner
from .catalog import WIDE, CatalogSidebar
from .chartview import ChartView
from .completion import CompletionList
from .editor import SqlEditor
from .export import ExportModal
from .grid import ResultGrid
from .prompt import PromptModal
from .result import ResultView, fetch_limit
from .saved import OpenQuery
from .spool import Spool

MAX_RESULTS = 10  # result tabs kept; the oldest is closed (its spool deleted) past this
CHART_ROWS = 1000  # the chart draws a result's first rows
READY = "ready — ctrl+j / f5 runs the statement under the cursor in a new result tab"
SCREEN_KEYS = ("1", "2", "3")  # the app's: typed in a text input, so not offered there
SCREENS = Binding.Group("Screens")
FOOTER_FIRST = ("ctrl+j", "escape", "f2", "f3", "ctrl+b", *SCREEN_KEYS, "ctrl+c")  # what fits at 80 columns


def statement_at(text: str, offset: int) -> str:
    """The `;`-separated statement around `offset` (quotes respected)."""
    starts, quote = [0], None
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == ";":
            starts.append(i + 1)
    starts.append(len(text) + 1)
    for a, b in pairwise(starts):
        if a <= offset <= b - 1 or (offset == b - 1):
            stmt = text[a:b - 1].strip()
            if stmt:
                return stmt
    # the cursor after the last `;`: the last non-empty statement
    parts = [p.strip() for p in text.split(";") if p.strip()]
    return parts[-1] if parts else ""


class WorkbenchScreen(Screen):
    DEFAULT_CSS = """
    WorkbenchScreen #body { height: 1fr; }
    WorkbenchScreen #editor { height: 40%; min-height: 5; max-height: 14; }
    WorkbenchScreen Footer.-compact FooterLabel { margin: 0 1 0 0; }
    WorkbenchScreen Footer.-compact FooterKey.-grouped { margin: 0 1 0 0; }
    WorkbenchScreen Footer.-compact FooterKey.-command-palette { padding-right: 1; offset-x: 1; }
    WorkbenchScreen #results-tabs > ContentTabs { height: 1; }
    WorkbenchScreen #results-tabs > ContentTabs Underline { display: none; }
    WorkbenchScreen #status { height: 1; padding: 0 1; background: $boost; }
    WorkbenchScreen #status.-error { background: $error 40%; }
    WorkbenchScreen #governance, WorkbenchScreen #no-results { padding: 0 1; }
    WorkbenchScreen TabbedContent, WorkbenchScreen TabbedContent > ContentSwitcher { height: 1fr; }
    WorkbenchScreen TabPane { height: 1fr; padding: 0; }
    WorkbenchScreen #results-tabs.-empty, WorkbenchScreen #no-results.-hidden { display: none; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+j,ctrl+enter,f5,ctrl+r", "run", "Run", priority=True),  # ctrl+j: what terminals send
        Binding("f2", "focus_editor", "Editor", priority=True),
        Binding("f3", "focus_grid", "Results", priority=True),
        Binding("ctrl+b,f9", "toggle_catalog", "Catalog", priority=True),
        Binding("escape", "cancel", "Cancel", show=False),
        Binding("ctrl+c", "cancel", "Cancel", priority=True),
        Binding("ctrl+l", "fetch_all", "Fetch all", priority=True),
        Binding("ctrl+w", "close_result", "Close tab", priority=True),
        Binding("alt+left,ctrl+pageup", "next_result(-1)", "Prev tab", show=False, priority=True),
        Binding("alt+right,ctrl+pagedown", "next_result(1)", "Next tab", show=False, priority=True),
        Binding("ctrl+e", "export", "Export", priority=True),
        Binding("ctrl+g", "chart", "Chart", priority=True),
        Binding("ctrl+s", "save", "Save", priority=True),
        Binding("f4", "governance", "Policies", priority=True),
        Binding("f6,ctrl+y", "history", "History", priority=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.fetch_limit = fetch_limit()
        self.results: list[ResultView] = []  # oldest first
        self._runs = 0
        self._charted = False
        self._history: list[str] = []
        self.saved_name = ""
        self._catalog_auto = True  # the sidebar follows the width until ctrl+b says otherwise

    def compose(self) -> ComposeResult:
        yield Header()
        yield KernelBanner()
        with Horizontal(id="body"):
            yield CatalogSidebar(id="catalog")
            with Vertical(id="main"):
                yield SqlEditor("", language="sql", id="editor")
                with TabbedContent(id="tabs"):
                    with TabPane("Results", id="results"):
                        yield Static("run a query: its result opens in a tab here", id="no-results")
                        yield TabbedContent(id="results-tabs", classes="-empty")
                    with TabPane("Governance", id="gov"), VerticalScroll():
                        yield Static("run a query to see the policies applied", id="governance")
                    with TabPane("Chart", id="chart-tab"):
                        yield ChartView(id="chart-view")
                    with TabPane("History", id="history-tab"):
                        yield OptionList(id="history")
        yield Static(READY, id="status")
        yield Footer(compact=True)
        yield CompletionList()

    def on_mount(self) -> None:
        self.editor = self.query_one(SqlEditor)
        self._fit_catalog()
        self.editor.focus()
        self.editor.start_completion(self.app.link)

    # --- the footer: the keys that matter first (the footer cuts what does not fit)
    @property
    def active_bindings(self) -> dict:
        found = super().active_bindings
        typing = isinstance(self.focused, (TextArea, Input))  # digits are typed there
        for key in SCREEN_KEYS:
            if key in found and typing:
                del found[key]
            elif key in found:  # "1 2 3 Screens"
                found[key] = found[key]._replace(binding=replace(found[key].binding, group=SCREENS))
        return {k: found[k] for k in FOOTER_FIRST if k in found} | found

    # --- the catalog sidebar
    def on_resize(self) -> None:
        if self._catalog_auto:
            self._fit_catalog()

    def _fit_catalog(self) -> None:
        sidebar = self.query_one(CatalogSidebar)
        sidebar.set_class(self.app.size.width < WIDE, "-hidden")
        if sidebar.has_focus and sidebar.has_class("-hidden"):
            self.set_focus(self.editor)

    def action_toggle_catalog(self) -> None:
        self._catalog_auto = False
        sidebar = self.query_one(CatalogSidebar)
        sidebar.toggle_class("-hidden")
        if sidebar.has_class("-hidden"):
            if self.focused is None or self.focused is sidebar:
                self.set_focus(self.editor)
        else:
            self.set_focus(sidebar)

    def on_catalog_sidebar_insert(self, event: CatalogSidebar.Insert) -> None:
        """Enter in the catalog: the name goes in at the editor's cursor (over its selection)."""
        editor = self.editor
        editor.replace(event.name, *editor.selection, maintain_selection_offset=False)
        editor.focus()

    def on_unmount(self) -> None:
        self.editor.stop_completion()
        for view in self.results:
            view.close()

    # --- the current result (the active result tab) and what follows it
    @property
    def current(self) -> ResultView | None:
        pane = self.query_one("#results-tabs", TabbedContent).active_pane
        if pane is None:
            return None
        views = pane.query(ResultView)
        return views.first() if views else None

    @property
    def running(self) -> bool:
        view = self.current
        return view is not None and view.running

    @property
    def error(self) -> SyscallError | None:
        view = self.current
        return view.error if view else None

    @property
    def spool(self) -> Spool | None:
        view = self.current
        return view.spool if view else None

    @property
    def grid(self) -> ResultGrid | None:
        view = self.current
        return view.grid if view else None

    @property
    def sql(self) -> str:
        view = self.current
        return view.sql if view else ""

    def status(self, text: str, error: bool = False) -> None:
        bar = self.query_one("#status", Static)
        bar.update(text)
        bar.set_class(error, "-error")

    def _show(self, view: ResultView | None, chart: bool = True) -> None:
        """The status line, Governance and Chart follow the active result tab."""
        if view is None:
            self.status(READY)
            self.query_one("#governance", Static).update("run a query to see the policies applied")
            self.query_one(ChartView).show(None)
            return
        self.status(view.status_text, view.status_error)
        self.query_one("#governance", Static).update(view.governance())
        if self._charted and chart:
            self._draw_chart(view)

    def on_result_view_updated(self, event: ResultView.Updated) -> None:
        view = event.view
        if view.closed or view not in self.results:
            return
        tabs = self.query_one("#results-tabs", TabbedContent)
        with suppress(Exception):  # the tab is being removed
            tabs.get_tab(f"result-{view.number}").label = view.label
        if view is self.current:
            self._show(view, chart=not view.running)
        self.refresh_bindings()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.tabbed_content.id == "results-tabs":
            self._show(self.current)
            self.refresh_bindings()

    # --- running
    def action_run(self) -> None:
        # ctrl+enter is a priority binding: the keys typed before it may still be queued for the
        # editor (a paste, a fast typist); read its text once it has handled them
        self.editor.call_later(self._run_statement)

    def _run_statement(self) -> None:
        editor = self.editor
        editor.close_completion()
        sql = editor.selected_text.strip()
        if not sql:
            offset = len(editor.get_text_range((0, 0), editor.cursor_location))
            sql = statement_at(editor.text, offset)
        if sql:
            self.run_sql(sql)

    def run_sql(self, sql: str) -> ResultView:
        """Run `sql` in a new result tab (a query running in another tab goes on)."""
        self._runs += 1
        view = ResultView(self._runs, sql, self.fetch_limit)
        pane = TabPane(view.label, view, id=f"result-{view.number}")
        tabs = self.query_one("#results-tabs", TabbedContent)
        self.results.append(view)
        while len(self.results) > MAX_RESULTS:
            self._close(self.results[0])
        tabs.remove_class("-empty")
        self.query_one("#no-results").add_class("-hidden")
        self.query_one("#tabs", TabbedContent).active = "results"

        async def opened() -> None:
            await tabs.add_pane(pane)
            tabs.active = pane.id
            view.start()
        self.call_later(opened)
        return view

    def _close(self, view: ResultView) -> None:
        view.close()
        self.results.remove(view)
        tabs = self.query_one("#results-tabs", TabbedContent)
        tabs.remove_pane(f"result-{view.number}")
        if not self.results:
            tabs.add_class("-empty")
            self.query_one("#no-results").remove_class("-hidden")
            self._show(None)

    def action_close_result(self) -> None:
        view = self.current
        if view is not None:
            self._close(view)

    def action_next_result(self, delta: int) -> None:
        view = self.current
        if view is None or len(self.results) < 2:
            return
        i = (self.results.index(view) + delta) % len(self.results)
        # Governance and Chart, when shown, follow: the outer tab stays where it is
        self.query_one("#results-tabs", TabbedContent).active = f"result-{self.results[i].number}"

    def action_fetch_all(self) -> None:
        view = self.current
        if view is not None and view.overflow and not view.running:
            view.start(all_rows=True)

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "cancel":  # ctrl+c / escape mean cancel only while a query runs
            return self.running
        if action == "fetch_all":
            view = self.current
            return view is not None and view.overflow and not view.running
        if action == "close_result":
            return bool(self.results)
        return True

    def action_cancel(self) -> None:
        view = self.current
        if view is not None:
            view.cancel()

    # --- export, chart, history, saved queries
    def action_export(self) -> None:
        view = self.current
        if view is None or view.running:
            return

        def chosen(path: str | None) -> None:
            if path:
                self._export(view.sql, path)
        self.app.push_screen(ExportModal(), chosen)

    @work(thread=True, group="export")
    def _export(self, sql: str, path: str) -> None:
        from userlib import export
        try:
            self.app.call_from_thread(self.status, f"exporting to {path}…")
            _, footer = export.write(self.app.link.stream("query.stream", sql=sql), path)
            self.app.call_from_thread(self.status, f"exported {footer.get('row_count', '?')} rows to {path}")
        except SyscallError as e:
            self.app.call_from_thread(self.status, f"export failed: {e.code}: {e.message}", True)
        except Exception as e:  # noqa: BLE001
            self.app.call_from_thread(self.status, f"export failed: {e}", True)

    def action_chart(self) -> None:
        view = self.current
        if view is None or view.spool is None or not view.spool.rows:
            return
        self._charted = True
        self.query_one("#tabs", TabbedContent).active = "chart-tab"
        self._draw_chart(view)

    def _draw_chart(self, view: ResultView) -> None:
        chart = self.query_one(ChartView)
        if view.spool is None or not view.spool.rows:
            chart.show(None, f"result {view.number} has no rows to chart")
        else:
            chart.show(view.spool.window(0, CHART_ROWS), total=view.spool.rows)

    def action_governance(self) -> None:
        """The Governance tab: the policies applied to the current result and its rewritten SQL."""
        self.query_one("#tabs", TabbedContent).active = "gov"

    async def action_history(self) -> None:
        self.query_one("#tabs", TabbedContent).active = "history-tab"
        ol = self.query_one("#history", OptionList)
        try:
            entries = await self.app.link.call("query.history", limit=50)
        except SyscallError as e:
            self.status(f"history: {e.code}: {e.message}", True)
            return
        self._history = [e.get("sql", "") for e in entries]
        ol.clear_options()
        ol.add_options([" ".join(s.split())[:110] for s in self._history])
        if self._history:
            ol.highlighted = 0
        ol.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        if isinstance(event.option_list, CompletionList):  # a click in the completion popup
            event.option_list.highlighted = event.option_index
            self.editor.accept_completion()
            self.editor.focus()
            return
        if event.option_list.id != "history":
            return
        self.open_query(self._history[event.option_index])

    def open_query(self, sql: str) -> None:
        editor = self.query_one(SqlEditor)
        editor.text = sql
        editor.move_cursor((editor.document.line_count - 1, len(editor.document.lines[-1])))
        editor.focus()

    def on_open_query(self, message: OpenQuery) -> None:
        self.open_query(message.sql)
        if message.name:
            self.saved_name = message.name
            self.status(f"saved query {message.name!r} — ctrl+enter runs it")

    def action_save(self) -> None:
        sql = self.query_one(SqlEditor).text
        if not sql.strip():
            self.status("nothing to save: the editor is empty", True)
            return

        def named(name: str | None) -> None:
            if not name:
                return
            from . import saved
            try:
                saved.save(name, sql)
            except (OSError, ValueError) as e:
                self.status(f"not saved: {e}", True)
                return
            self.saved_name = name
            self.status(f"saved as {name!r} — ctrl+p finds it (saved query …)")
        self.app.push_screen(PromptModal("Save the query as:", self.saved_name), named)

    # f2 / f3 are priority keys that move the focus at once: the keys typed after them go there
    def action_focus_editor(self) -> None:
        self.set_focus(self.editor)

    def action_focus_grid(self) -> None:
        grid = self.grid
        if grid is not None:
            self.set_focus(grid)
