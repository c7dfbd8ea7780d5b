"""The small modal that edits a tag, a description or an owner: an Input, and choices to pick from.

With `submit` (an async function of the answer) the modal runs the change itself and stays open
when it fails: the error shows in one line and what was typed is still there to fix or cancel."""
from __future__ import annotations

from typing import Any, Awaitable, Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static

from ..link import error_text

KINDS = {  # kind: (placeholder, label over the choices, what an empty answer lacks)
    "tag": ("PII.Email, Tier.Gold, …", "suggested / current (select to fill):", "a tag"),
    "text": ("a description", "", ""),
    "owner": ("a user id", "users (select to fill):", "a user"),
}


class EditModal(ModalScreen[dict | None]):
    """Answers {"text": …, "remove": bool} (remove only for tags), or None when cancelled."""

    DEFAULT_CSS = """
    EditModal { align: center middle; }
    EditModal > Vertical { width: 70; height: auto; max-height: 26; border: thick $primary; background: $surface;
                           padding: 0 1; }
    EditModal OptionList { height: auto; max-height: 8; }
    EditModal #error { color: $error; height: auto; }
    EditModal Horizontal { height: auto; align-horizontal: right; }
    EditModal Button { margin-left: 1; min-width: 10; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, value: str = "", suggestions: list[str] | None = None,
                 removable: list[str] | None = None, tag: bool = True, kind: str | None = None,
                 submit: Callable[[dict], Awaitable[Any]] | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.title_text = title
        self.value = value
        self.suggestions = suggestions or []
        self.removable = removable or []
        self.kind = kind or ("tag" if tag else "text")
        self.tag = self.kind == "tag"
        self.submit = submit
        self.busy = False

    def compose(self) -> ComposeResult:
        placeholder, choices, _ = KINDS[self.kind]
        with Vertical():
            yield Label(self.title_text, classes="title")
            yield Input(self.value, placeholder=placeholder, id="value")
            if choices and (self.suggestions or self.removable):
                yield Label(choices, classes="muted")
                yield OptionList(*[f"{t}" for t in self.suggestions],
                                 *[f"{t} (current)" for t in self.removable], id="choices")
            yield Static("", id="error")
            with Horizontal():
                if self.tag:
                    yield Button("Add", variant="primary", id="add")
                    yield Button("Remove", variant="error", id="remove")
                else:
                    yield Button("Save", variant="primary", id="add")
                yield Button("Cancel", id="cancel")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        text = str(event.option.prompt).removesuffix(" (current)")
        box = self.query_one("#value", Input)
        box.value = text
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._answer(False)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "cancel":
            self.dismiss(None)
        else:
            self._answer(event.button.id == "remove")

    def _answer(self, remove: bool) -> None:
        if self.busy:
            return
        text = self.query_one("#value", Input).value.strip()
        lacks = KINDS[self.kind][2]
        if lacks and not text:
            self.notify(f"type {lacks}", severity="warning")
            return
        answer = {"text": text, "remove": remove}
        if self.submit is None:
            self.dismiss(answer)
        else:
            self.busy = True
            self.run_worker(self._submit(answer), group="edit-submit")

    async def _submit(self, answer: dict) -> None:
        error = self.query_one("#error", Static)
        error.update(Text("saving…", "dim"))
        try:
            await self.submit(answer)
        except Exception as e:
            line = error_text(e)
            error.update(Text(line, "bold red", overflow="ellipsis", no_wrap=True))
            self.notify(line, title="not changed", severity="error")
            self.query_one("#value", Input).focus()
            return
        finally:
            self.busy = False
        self.dismiss(answer)

    def action_cancel(self) -> None:
        self.dismiss(None)
