"""The quality plugin's TUI screen: a dataset's last recorded check, and a form to run rules.

Type a dataset (`depot.collection.dataset` or its UDL) and press Enter to see its last run; write
rules one per line and press ctrl+r (or the button) to check them as you. The run is recorded in the
catalog, unless the app is read-only (then it is only checked). Syscalls run in a thread worker
through the app's link (`app.link.client`), never on the UI thread.
"""
from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Header, Input, Static, TextArea

from syscalls.errors import SyscallError


class QualityScreen(Screen):
    DEFAULT_CSS = """
    QualityScreen #quality-form { height: auto; padding: 0 1; }
    QualityScreen #quality-rules { height: 6; }
    QualityScreen #quality-buttons { height: auto; }
    QualityScreen #quality-status { height: auto; padding: 0 1; }
    QualityScreen #quality-results { height: 1fr; }
    """
    BINDINGS = [Binding("ctrl+r", "check", "Check"), Binding("f5", "check", "Check", show=False),
                Binding("escape", "app.pop_screen", "Back")]

    def __init__(self, dataset: str | None = None) -> None:
        super().__init__()
        self.initial = dataset or ""

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="quality-form"):
            yield Input(placeholder="dataset: depot.collection.dataset or dataos://depot:collection/dataset",
                        id="quality-dataset")
            yield TextArea("not_null(id)\n", id="quality-rules")
            with Horizontal(id="quality-buttons"):
                yield Button("Last results", id="quality-show")
                yield Button("Check (ctrl+r)", id="quality-check", variant="primary")
        yield Static("Type a dataset, Enter shows its last recorded check.", id="quality-status")
        yield DataTable(id="quality-results", zebra_stripes=True, cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("rule", "status", "failed", "rows", "detail")
        self.query_one("#quality-dataset", Input).value = self.initial
        self.query_one("#quality-dataset", Input).focus()
        if self.initial:
            self.action_show()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_show()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_check() if event.button.id == "quality-check" else self.action_show()

    @property
    def dataset(self) -> str:
        return self.query_one("#quality-dataset", Input).value.strip()

    def action_show(self) -> None:
        if self.dataset:
            self._status(f"loading {self.dataset}…")
            self.run_worker(lambda: self._work(self.dataset, None), thread=True, exclusive=True, group="quality")

    def action_check(self) -> None:
        rules = [line.strip() for line in self.query_one("#quality-rules", TextArea).text.splitlines() if line.strip()]
        if not self.dataset or not rules:
            self._status("give a dataset and at least one rule (one per line)")
            return
        self._status(f"checking {self.dataset}…")
        self.run_worker(lambda: self._work(self.dataset, rules), thread=True, exclusive=True, group="quality")

    def _work(self, dataset: str, rules: list[str] | None) -> None:
        from .check import check, last
        try:
            client = self.app.link.client
            if rules is None:
                found = last(client, dataset)
            else:
                found = check(client, dataset, rules, save=not getattr(self.app, "readonly", False))
        except SyscallError as e:
            self.app.call_from_thread(self._status, f"{e.code}: {e.message}")
            return
        self.app.call_from_thread(self._show, dataset, found, rules is not None)

    def _show(self, dataset: str, found: dict[str, Any] | None, ran: bool) -> None:
        from .check import rows
        grid = self.query_one(DataTable)
        grid.clear()
        if not found:
            self._status(f"{dataset}: no check recorded yet; write rules and press ctrl+r")
            return
        for row, result in zip(rows(found["results"]), found["results"]):
            grid.add_row(*(Text(str(cell)) for cell in (*row, result.get("detail", ""))))
        passed = sum(1 for r in found["results"] if r["passed"])
        failed = len(found["results"]) - passed
        when = "just now" if ran else f"at {found.get('time')} by {found.get('by')}"
        recorded = "" if not ran else " · recorded" if found.get("recorded") else " · not recorded (read-only)"
        self._status(f"{dataset}: {passed} passed, {failed} failed — checked {when}{recorded}")
        if ran:
            self.app.notify(f"quality: {passed} passed, {failed} failed", severity="error" if failed else "information")

    def _status(self, text: str) -> None:
        self.query_one("#quality-status", Static).update(Text(text))


def current_dataset(app: Any) -> str | None:
    """The dataset open on the current screen (Atlas's page), if any."""
    try:
        urn = getattr(app.screen.query_one("#page"), "urn", None)
    except Exception:  # noqa: BLE001 — not Atlas, or no page: nothing to prefill
        return None
    return urn if isinstance(urn, str) and urn.startswith("dataos://") else None
