"""The editor's completion popup: a list of candidates drawn over the screen under the cursor.
It never takes the focus — the editor keeps it and drives the list (up/down, enter/tab, escape)."""
from __future__ import annotations

from rich.text import Text
from textual.geometry import Offset
from textual.widgets import OptionList
from textual.widgets.option_list import Option


class CompletionList(OptionList, can_focus=False):
    DEFAULT_CSS = """
    CompletionList {
        overlay: screen;
        position: absolute;
        constrain: inside inside;
        display: none;
        width: auto;
        min-width: 24;
        max-width: 64;
        height: auto;
        max-height: 10;
        border: round $accent;
        background: $surface;
        padding: 0;
    }
    CompletionList.-shown { display: block; }
    """

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.candidates: list[tuple[str, int]] = []
        self.moved = False  # the user moved the highlight

    @property
    def shown(self) -> bool:
        return self.has_class("-shown")

    def show(self, candidates: list[tuple[str, int, str]], at: Offset) -> None:
        """Candidates as (text, start position relative to the cursor, kind); `at`: the cursor."""
        if not self.shown:
            self.moved = False
        chosen = self.chosen() if self.moved else None
        fresh = [(text, start) for text, start, _ in candidates]
        if fresh != self.candidates or not self.shown:
            self.candidates = fresh
            self.clear_options()
            self.add_options([Option(Text.assemble(text, ("  " + meta if meta else "", "dim")))
                              for text, _, meta in candidates])
            # what the user moved to stays chosen when the list changes; else the best candidate
            self.highlighted = fresh.index(chosen) if chosen in fresh else 0
        start = candidates[0][1] if candidates else 0
        self.styles.offset = (max(0, at.x + start - 1), at.y + 1)
        self.add_class("-shown")

    def hide(self) -> None:
        self.remove_class("-shown")  # the candidates stay: a click may still choose one

    def move(self, delta: int) -> None:
        self.moved = True
        if self.candidates:
            self.highlighted = ((self.highlighted or 0) + delta) % len(self.candidates)

    def chosen(self) -> tuple[str, int] | None:
        if not self.candidates or self.highlighted is None:
            return None
        return self.candidates[self.highlighted]
