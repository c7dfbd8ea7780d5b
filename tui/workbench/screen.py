"""Workbench: a SQL editor, result tabs (grid, governance, chart), history, cancel and export.

Keys: ctrl+enter / f5 / ctrl+r run the statement under the cursor (or the selection); escape /
ctrl+c cancel a running query; tab completes tables and columns (the shell's completer); ctrl+e
export; ctrl+g chart; f6 history."""
from __future__ import annotations

import time
import uuid

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, OptionList, Static, TabbedContent, TabPane

from syscalls.errors import SyscallError

from ..banner import KernelBanner
from .editor import SqlEditor
from .export import ExportModal
from .grid import ResultGrid
from .spool import Spool

FIRST_PAGE_S = 0.2  # refresh the grid at most this often while rows arrive


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
    for a, b in zip(starts, starts[1:]):
        if a <= offset <= b - 1 or (offset == b - 1):
            stmt = text[a:b - 1].strip()
            if stmt:
                return stmt
    # the cursor after the last `;`: the last non-empty statement
    parts = [p.strip() for p in text.split(";") if p.strip()]
    return parts[-1] if parts else ""


class WorkbenchScreen(Screen):
    DEFAULT_CSS = """
    WorkbenchScreen #editor { height: 12; }
    WorkbenchScreen #status { height: 1; padding: 0 1; background: $boost; }
    WorkbenchScreen #status.-error { background: $error 40%; }
    WorkbenchScreen #error { display: none; padding: 0 1; color: $error; }
    WorkbenchScreen #error.-shown { display: block; }
    WorkbenchScreen #governance, WorkbenchScreen #chart { padding: 0 1; }
    """
    BINDINGS = [
        Binding("ctrl+enter", "run", "Run", priority=True),
        Binding("f5,ctrl+r", "run", "Run", priority=True),
        Binding("escape", "cancel", "Cancel", show=False),
        Binding("ctrl+c", "cancel", "Cancel", priority=True),
        Binding("ctrl+e", "export", "Export", priority=True),
        Binding("ctrl+g", "chart", "Chart", priority=True),
        Binding("f6,ctrl+y", "history", "History", priority=True),
        Binding("f2", "focus_editor", "Editor", show=False),
        Binding("f3", "focus_grid", "Grid", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.spool: Spool | None = None
        self.sql = ""
        self.query_id: str | None = None
        self.running = False
        self.header: dict = {}
        self.footer: dict = {}
        self.error: SyscallError | None = None
        self.first_batch_at: float | None = None
        self.first_page_at: float | None = None
        self._runs = 0

    def compose(self) -> ComposeResult:
        yield Header()
        yield KernelBanner()
        yield SqlEditor("", language="sql", id="editor")
        with TabbedContent(id="tabs"):
            with TabPane("Results", id="results"):
                with Vertical():
                    yield Static("", id="error")
                    yield ResultGrid(id="grid")
            with TabPane("Governance", id="gov"):
                yield Static("run a query to see the policies applied", id="governance")
            with TabPane("Chart", id="chart-tab"):
                yield Static("ctrl+g charts the result", id="chart")
            with TabPane("History", id="history-tab"):
                yield OptionList(id="history")
        yield Static("ready — ctrl+enter / f5 runs the statement under the cursor", id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.editor = self.query_one(SqlEditor)
        self.editor.focus()
        self.editor.start_completion(self.app.link)

    def on_unmount(self) -> None:
        self.editor.stop_completion()
        if self.spool is not None:
            self.spool.close()

    # --- running
    def status(self, text: str, error: bool = False) -> None:
        bar = self.query_one("#status", Static)
        bar.update(text)
        bar.set_class(error, "-error")

    def action_run(self) -> None:
        editor = self.query_one(SqlEditor)
        sql = editor.selected_text.strip()
        if not sql:
            offset = len(editor.get_text_range((0, 0), editor.cursor_location))
            sql = statement_at(editor.text, offset)
        if sql:
            self.run_sql(sql)

    def run_sql(self, sql: str) -> None:
        if self.running and self.query_id:
            self.action_cancel()
        self._runs += 1
        self.sql, self.query_id, self.running = sql, f"wb-{uuid.uuid4().hex[:12]}", True
        self.refresh_bindings()
        self.header, self.footer, self.error = {}, {}, None
        self.first_batch_at = self.first_page_at = None
        err = self.query_one("#error", Static)
        err.remove_class("-shown")
        self.query_one(TabbedContent).active = "results"
        self.status(f"running… (escape cancels)  {sql[:80]}")
        self._stream(sql, self.query_id, self._runs)

    @work(thread=True, group="query")
    def _stream(self, sql: str, qid: str, run: int) -> None:
        spool = None
        last = 0.0
        try:
            for item in self.app.link.stream("query.stream", sql=sql, id=qid):
                if run != self._runs:
                    break
                kind = type(item).__name__
                if kind == "Schema":
                    spool = Spool(item)
                    self.app.call_from_thread(self._started, spool, run)
                elif kind == "RecordBatch":
                    assert spool is not None
                    spool.append(item)
                    now = time.monotonic()
                    if self.first_batch_at is None:
                        self.first_batch_at = now
                    if now - last >= FIRST_PAGE_S:
                        last = now
                        self.app.call_from_thread(self._grow, run)
                elif isinstance(item, dict) and not self.header:
                    self.header = item
                elif isinstance(item, dict):
                    self.footer = item
            if spool is not None:
                spool.finish()
            self.app.call_from_thread(self._done, run, None)
        except SyscallError as e:
            if spool is not None:
                spool.finish()
            self.app.call_from_thread(self._done, run, e)
        except Exception as e:  # noqa: BLE001 — nothing crashes the screen
            self.app.call_from_thread(self._done, run, SyscallError("EIO", str(e)))

    def _started(self, spool: Spool, run: int) -> None:
        if run != self._runs:
            spool.close()
            return
        if self.spool is not None:
            self.spool.close()
        self.spool = spool
        self.query_one(ResultGrid).attach(spool, self.header.get("columns") or
                                          [{"name": f.name, "type": str(f.type)} for f in spool.schema])
        self._governance()

    def _grow(self, run: int) -> None:
        if run != self._runs:
            return
        grid = self.query_one(ResultGrid)
        grid.grow()
        if self.first_page_at is None and grid.rows:
            self.first_page_at = time.monotonic()
        self.status(f"running… {grid.rows:,} rows so far (escape cancels)")

    def _done(self, run: int, error: SyscallError | None) -> None:
        if run != self._runs:
            return
        self.running = False
        self.refresh_bindings()
        grid = self.query_one(ResultGrid)
        grid.grow()
        if self.first_page_at is None and grid.rows:
            self.first_page_at = time.monotonic()
        if error is not None:
            self.error = error
            where = f" at position {error.details.get('position')}" if getattr(error, "details", None) and \
                error.details.get("position") is not None else ""
            err = self.query_one("#error", Static)
            err.update(f"{error.code}: {error.message}{where}")
            err.add_class("-shown")
            self.status(f"{error.code}: {error.message}", error=True)
            return
        rows = self.footer.get("row_count", grid.rows)
        ms = self.footer.get("elapsed_ms")
        self.status(f"{rows:,} rows" + (f" in {ms:,.0f} ms" if isinstance(ms, (int, float)) else "")
                    + "  — end/G jumps to the last row, ctrl+e exports, ctrl+g charts")

    def _governance(self) -> None:
        gov = self.header.get("governance") or {}
        lines = [f"query {self.header.get('id', self.query_id)}", ""]
        pols = gov.get("policies") or []
        lines.append("policies applied: " + (", ".join(map(str, pols)) if pols else "none"))
        lines.append("datasets: " + (", ".join(map(str, gov.get("datasets") or [])) or "none"))
        masked = [f"{c['name']} ⊘{c['masked']}" for c in self.header.get("columns", []) if c.get("masked")]
        if masked:
            lines.append("masked columns: " + ", ".join(masked))
        lines += ["", "rewritten SQL:", str(gov.get("sql") or self.sql)]
        self.query_one("#governance", Static).update("\n".join(lines))

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "cancel":  # ctrl+c / escape mean cancel only while a query runs
            return self.running
        return True

    def action_cancel(self) -> None:
        if self.running and self.query_id:
            self.status("cancelling…")
            self._cancel(self.query_id)

    @work(thread=True, group="cancel")
    def _cancel(self, qid: str) -> None:
        try:
            self.app.link.call_sync("query.cancel", id=qid)
        except SyscallError:
            pass

    # --- export, chart, history
    def action_export(self) -> None:
        if not self.sql or self.running:
            return

        def chosen(path: str | None) -> None:
            if path:
                self._export(self.sql, path)
        self.app.push_screen(ExportModal(), chosen)

    @work(thread=True, group="export")
    def _export(self, sql: str, path: str) -> None:
        from dataos_shell import export
        try:
            self.app.call_from_thread(self.status, f"exporting to {path}…")
            _, footer = export.write(self.app.link.stream("query.stream", sql=sql), path)
            self.app.call_from_thread(self.status, f"exported {footer.get('row_count', '?')} rows to {path}")
        except SyscallError as e:
            self.app.call_from_thread(self.status, f"export failed: {e.code}: {e.message}", True)
        except Exception as e:  # noqa: BLE001
            self.app.call_from_thread(self.status, f"export failed: {e}", True)

    def action_chart(self) -> None:
        from .chart import chart
        if self.spool is None or not self.spool.rows:
            return
        box = self.query_one("#chart", Static)
        self.query_one(TabbedContent).active = "chart-tab"
        size = self.query_one(TabbedContent).size
        box.update(chart(self.spool.window(0, 1000), size.width - 4, max(8, size.height - 4)))

    async def action_history(self) -> None:
        self.query_one(TabbedContent).active = "history-tab"
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
        sql = self._history[event.option_index]
        editor = self.query_one(SqlEditor)
        editor.text = sql
        editor.focus()

    def action_focus_editor(self) -> None:
        self.query_one(SqlEditor).focus()

    def action_focus_grid(self) -> None:
        self.query_one(ResultGrid).focus()
