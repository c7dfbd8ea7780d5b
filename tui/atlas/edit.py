"""The small modal that edits a tag or a description: an Input, and suggestions to pick from."""
from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList


class EditModal(ModalScreen[dict | None]):
    """Answers {"text": …, "remove": bool} (remove only for tags), or None when cancelled."""

    DEFAULT_CSS = """
    EditModal { align: center middle; }
    EditModal > Vertical { width: 70; height: auto; max-height: 24; border: thick $primary; background: $surface;
                           padding: 0 1; }
    EditModal OptionList { height: auto; max-height: 8; }
    EditModal Horizontal { height: auto; align-horizontal: right; }
    EditModal Button { margin-left: 1; min-width: 10; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, value: str = "", suggestions: list[str] | None = None,
                 removable: list[str] | None = None, tag: bool = True, **kw: Any) -> None:
        super().__init__(**kw)
        self.title_text = title
        self.value = value
        self.suggestions = suggestions or []
        self.removable = removable or []
        self.tag = tag

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, classes="title")
            yield Input(self.value, placeholder="PII.Email, Tier.Gold, …" if self.tag else "a description",
                        id="value")
            if self.tag and (self.suggestions or self.removable):
                yield Label("suggested / current (select to fill):", classes="muted")
                yield OptionList(*[f"{t}" for t in self.suggestions],
                                 *[f"{t} (current)" for t in self.removable], id="choices")
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
        text = self.query_one("#value", Input).value.strip()
        if self.tag and not text:
            self.notify("type a tag", severity="warning")
            return
        self.dismiss({"text": text, "remove": remove})

    def action_cancel(self) -> None:
        self.dismiss(None)
