"""One result of the Workbench: its query's stream spooled to disk, its grid, its error and its
"more rows" line. Each run opens one of these in its own result tab; closing the tab (or the
screen) cancels the query if it still runs and deletes the spool.

The fetch limit: at most `limit` rows are fetched (`query.stream` with `limit + 1`, the extra row
a probe); when the probe row comes back the result has more rows than were fetched, and
`fetch_all()` re-runs the statement without a limit into a fresh spool."""
from __future__ import annotations

import os
import re
import time
import uuid
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

from syscalls.errors import SyscallError
from userlib.output import counted

from .grid import ResultGrid
from .spool import Spool

REFRESH_S = 0.2  # refresh the grid at most this often while rows arrive
DEFAULT_LIMIT = 100_000


def fetch_limit() -> int | None:
    """Rows fetched per run: $DATAOS_TUI_FETCH_LIMIT (0, `none` or `all`: no limit), else 100,000."""
    raw = os.environ.get("DATAOS_TUI_FETCH_LIMIT", "").strip().lower().replace("_", "").replace(",", "")
    if raw in ("0", "none", "all", "-1"):
        return None
    try:
        return max(1, int(raw)) if raw else DEFAULT_LIMIT
    except ValueError:
        return DEFAULT_LIMIT


def snippet(sql: str, width: int = 18) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= width else text[:width - 1] + "…"


def title(sql: str) -> str:
    """What a result tab is named after: the first table the statement reads from (`orders`), else
    `query`."""
    found = re.search(r"\bfrom\s+([\w.\"]+)", sql, re.IGNORECASE)
    name = found.group(1).replace('"', "").rsplit(".", 1)[-1] if found else ""
    return snippet(name) if name else "query"


class ResultView(Vertical):
    DEFAULT_CSS = """
    ResultView { height: 1fr; }
    ResultView > .error { display: none; padding: 0 1; color: $error; }
    ResultView > .more { display: none; padding: 0 1; background: $warning 30%; }
    ResultView.-error > .error, ResultView.-more > .more { display: block; }
    """

    class Updated(Message):
        """The view's state changed (rows, status, done): the screen refreshes what shows it."""

        def __init__(self, view: ResultView) -> None:
            super().__init__()
            self.view = view

    def __init__(self, number: int, sql: str, limit: int | None, **kw: Any) -> None:
        super().__init__(**kw)
        self.number, self.sql, self.limit = number, sql, limit
        self.spool: Spool | None = None
        self.query_id: str | None = None
        self.running = False
        self.closed = False
        self.overflow = False   # the probe row came back: the result has more rows than fetched
        self.header: dict = {}
        self.footer: dict = {}
        self.error: SyscallError | None = None
        self.first_batch_at: float | None = None
        self.first_page_at: float | None = None
        self.status_text = ""
        self.status_error = False
        self._generation = 0

    def compose(self) -> ComposeResult:
        yield Static("", classes="error")
        yield Static("", classes="more")
        yield ResultGrid()

    @property
    def grid(self) -> ResultGrid:
        return self.query_one(ResultGrid)

    @property
    def label(self) -> str:
        mark = " …" if self.running else " ✗" if self.error is not None else \
            f" · {self.grid.rows:,}+ rows" if self.overflow else ""
        return f"{title(self.sql)} {self.number}{mark}"

    def _status(self, text: str, error: bool = False) -> None:
        self.status_text, self.status_error = text, error
        self.post_message(self.Updated(self))

    # --- running
    def start(self, limit: int | None = None, *, all_rows: bool = False) -> None:
        """Run (or re-run, e.g. to fetch every row) this view's statement into a fresh spool."""
        if all_rows:
            self.limit = None
        elif limit is not None:
            self.limit = limit
        self._generation += 1
        self.query_id, self.running = f"wb-{uuid.uuid4().hex[:12]}", True
        self.header, self.footer, self.error, self.overflow = {}, {}, None, False
        self.first_batch_at = self.first_page_at = None
        self.remove_class("-error", "-more")
        what = "fetching every row" if all_rows else "running"
        self._status(f"{what}… (escape cancels)  {snippet(self.sql, 80)}")
        self._stream(self.app.link, self.sql, self.query_id, self.limit, self._generation)

    def _current(self, generation: int) -> bool:
        return not self.closed and generation == self._generation

    @work(thread=True, group="query")
    def _stream(self, link: Any, sql: str, qid: str, limit: int | None, generation: int) -> None:
        spool = None
        last, fetched, overflow = 0.0, 0, False
        app = self.app
        request: dict = {"sql": sql, "id": qid}
        if limit is not None:
            request["limit"] = limit + 1  # the probe: one more row than shown says "there are more"
        try:
            for item in link.stream("query.stream", **request):
                if not self._current(generation):
                    break
                kind = type(item).__name__
                if kind == "Schema":
                    spool = Spool(item)
                    app.call_from_thread(self._started, spool, generation)
                elif kind == "RecordBatch":
                    assert spool is not None
                    if limit is not None and fetched + item.num_rows > limit:
                        overflow = True
                        item = item.slice(0, limit - fetched)
                    fetched += item.num_rows
                    spool.append(item)
                    now = time.monotonic()
                    if self.first_batch_at is None:
                        self.first_batch_at = now
                    if now - last >= REFRESH_S:
                        last = now
                        app.call_from_thread(self._grow, generation)
                elif isinstance(item, dict) and not self.header:
                    self.header = item
                elif isinstance(item, dict):
                    self.footer = item
            if spool is not None:
                spool.finish()
            app.call_from_thread(self._done, generation, None, overflow)
        except SyscallError as e:
            if spool is not None:
                spool.finish()
            app.call_from_thread(self._done, generation, e, False)
        except Exception as e:  # noqa: BLE001 — nothing crashes the screen
            if spool is not None and not self._current(generation):
                spool.close()
            app.call_from_thread(self._done, generation, SyscallError("EIO", str(e)), False)

    def _started(self, spool: Spool, generation: int) -> None:
        if not self._current(generation):
            spool.close()
            return
        if self.spool is not None:
            self.spool.close()
        self.spool = spool
        self.grid.attach(spool, self.header.get("columns") or
                         [{"name": f.name, "type": str(f.type)} for f in spool.schema])
        self.post_message(self.Updated(self))

    def _grow(self, generation: int) -> None:
        if not self._current(generation):
            return
        grid = self.grid
        grid.grow()
        if self.first_page_at is None and grid.rows:
            self.first_page_at = time.monotonic()
        self._status(f"running… {grid.rows:,} rows so far (escape cancels)")

    def _done(self, generation: int, error: SyscallError | None, overflow: bool) -> None:
        if not self._current(generation):
            return
        self.running = False
        grid = self.grid
        grid.grow()
        if self.first_page_at is None and grid.rows:
            self.first_page_at = time.monotonic()
        if error is not None:
            self.error = error
            self.query_one(".error", Static).update(f"{error.code}: {error.message}")
            self.add_class("-error")
            self._status(f"{error.code}: {error.message}", error=True)
            return
        self.overflow = overflow
        ms = self.footer.get("elapsed_ms")
        took = f" in {ms:,.0f} ms" if isinstance(ms, (int, float)) else ""
        policies = (self.header.get("governance") or {}).get("policies") or []
        if policies:
            took += f" · {len(policies)} {'policy' if len(policies) == 1 else 'policies'} applied (f4)"
        if overflow:
            more = f"first {grid.rows:,} rows — more not fetched (limit {self.limit:,}); ctrl+l fetches all"
            self.query_one(".more", Static).update(f"▸ {more}")
            self.add_class("-more")
            self._status(f"{grid.rows:,}+ rows{took}: {more}")
            return
        rows = grid.rows
        self._status(f"{counted(rows, 'row')}{took}  — end/G jumps to the last row, ctrl+e exports, ctrl+g charts")

    def cancel(self) -> None:
        if self.running and self.query_id:
            self._status("cancelling…")
            self._cancel(self.app.link, self.query_id)

    @work(thread=True, group="cancel")
    def _cancel(self, link: Any, qid: str) -> None:
        try:
            link.call_sync("query.cancel", id=qid)
        except SyscallError:
            pass

    def close(self) -> None:
        """Stop caring about this result: cancel its query if it runs, delete its spool."""
        if self.closed:
            return
        if self.running and self.query_id:
            self._cancel(self.app.link, self.query_id)
        self.closed, self.running = True, False
        if self.spool is not None:
            self.spool.close()

    # --- what the Governance tab shows
    def governance(self) -> str:
        if not self.header:
            return "running…" if self.running else "no governance information (the query did not start)"
        gov = self.header.get("governance") or {}
        lines = [f"result {self.number}: query {self.header.get('id', self.query_id)}", ""]
        pols = gov.get("policies") or []
        lines.append("policies applied: " + (", ".join(map(str, pols)) if pols else "none"))
        lines.append("datasets: " + (", ".join(map(str, gov.get("datasets") or [])) or "none"))
        masked = [f"{c['name']} ⊘{c['masked']}" for c in self.header.get("columns", []) if c.get("masked")]
        if masked:
            lines.append("masked columns: " + ", ".join(masked))
        lines += ["", "rewritten SQL:", str(gov.get("sql") or self.sql)]
        return "\n".join(lines)
