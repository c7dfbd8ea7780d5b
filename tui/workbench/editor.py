"""The SQL editor: a TextArea with SQL highlighting; tab (or ctrl+space) completes tables and
columns through the shell's completer over its background-refreshed catalog snapshot. One
candidate is inserted at once; several open a popup under the cursor (up/down move, enter or tab
accept, escape closes, typing narrows it).

Everything typed goes into the editor, digits included (1/2/3 switch screens only outside it):
escape leaves the editor (or cancels the running query), ctrl+a selects all. The editor's own
keys (backspace, arrows, …) run as they arrive, in order with the characters typed around them:
Textual runs them only once the key has bubbled up to the app, after the characters that follow
(Textual issue 6605), so "3, backspace, 1" typed fast gave "3"."""
from __future__ import annotations

from typing import Any, ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.widgets import TextArea

from .completion import CompletionList

OPEN_KEYS = ("tab", "ctrl+space", "ctrl+@")
MAX_CANDIDATES = 200
RETRIES, RETRY_S = 20, 0.25  # a miss asks again for 5 s: the snapshot may be loading what it needs
LATE = 8                     # an open popup looks again for 2 s


class SqlEditor(TextArea):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+a", "select_all", "Select all", show=False),
        Binding("escape", "leave", "Leave editor"),
    ]
    source: Any = None
    completer: Any = None

    def start_completion(self, link: Any) -> None:
        """Start the catalog snapshot (in the background) on the link's client."""
        try:
            from userlib.completion.candidates import Completer
            from userlib.completion.source import start_source
            from userlib.completion.state import ShellState
            state = ShellState()
            self.source = start_source(link.client, state)
            self.completer = Completer(state, self.source)
        except Exception:  # noqa: BLE001 — no completion, still an editor
            self.completer = None

    def stop_completion(self) -> None:
        if self.source is not None:
            try:
                self.source.close()
            except Exception:  # noqa: BLE001
                pass
            self.source = None

    def candidates(self) -> list[tuple[str, int, str]]:
        """(text, start position, kind) of what may be typed at the cursor, best first. The
        completer reads an in-memory catalog snapshot, so this is fast enough for the UI thread."""
        if self.completer is None:
            return []
        before = self.get_text_range((0, 0), self.cursor_location)
        out: list[tuple[str, int, str]] = []
        try:
            for c in self.completer.complete(before, self.text[len(before):]):
                out.append((c.text, c.start, c.meta))
                if len(out) >= MAX_CANDIDATES:
                    break
        except Exception:  # noqa: BLE001
            return []
        return out

    def completions(self) -> list[tuple[str, int]]:
        return [(text, start) for text, start, _ in self.candidates()]

    # --- the popup
    @property
    def popup(self) -> CompletionList:
        try:
            return self.screen.query_one(CompletionList)
        except Exception:  # noqa: BLE001 — a screen without one gets one
            popup = CompletionList()
            self.screen.mount(popup)
            return popup

    def insert_completion(self, text: str, start: int) -> None:
        row, col = self.cursor_location
        self.replace(text, (row, max(0, col + start)), (row, col))

    def complete(self, tries: int = RETRIES) -> None:
        """Tab / ctrl+space: one candidate goes in, several open the popup. The catalog snapshot
        loads a collection's tables or a table's columns when first asked: while nothing is found
        it asks again a few times (until the text or the cursor moves)."""
        found = self.candidates()
        if len(found) == 1:
            self.insert_completion(found[0][0], found[0][1])
        elif found:
            self._popup_row = self.cursor_location[0]
            self.popup.show(found, self.cursor_screen_offset)
            for i in range(1, LATE + 1):  # a table's columns may arrive a moment later: they join the list
                self.set_timer(i * RETRY_S, self._refilter)
        elif tries > 0:
            where = (self.text, self.cursor_location)

            def again() -> None:
                if (self.text, self.cursor_location) == where and self.has_focus:
                    self.complete(tries - 1)
            self.set_timer(RETRY_S, again)

    def accept_completion(self) -> None:
        popup = self.popup
        chosen = popup.chosen()
        popup.hide()
        if chosen is not None:
            self.insert_completion(*chosen)

    def close_completion(self) -> None:
        self.popup.hide()

    def _refilter(self) -> None:
        popup = self.popup
        if not popup.shown:
            return
        if self.cursor_location[0] != getattr(self, "_popup_row", -1) or not self.selection.is_empty:
            popup.hide()
            return
        found = self.candidates()
        if found:
            popup.show(found, self.cursor_screen_offset)
        else:
            popup.hide()

    async def _on_key(self, event: events.Key) -> None:
        popup = self.popup
        shown = popup.shown
        if (shown and self._drive_popup(popup, event.key)) or (not shown and event.key in OPEN_KEYS):
            event.stop()
            event.prevent_default()
            if not shown:
                self.complete()
            return
        if not event.is_printable and await self._run_own_binding(event.key):
            event.stop()
            event.prevent_default()
        else:
            await super()._on_key(event)
        if shown:
            self.call_after_refresh(self._refilter)  # typing (or backspace, a binding) narrows it

    def _drive_popup(self, popup: CompletionList, key: str) -> bool:
        """The keys of an open popup: move, accept, close. False: the key is the editor's."""
        if key in ("up", "down"):
            popup.move(-1 if key == "up" else 1)
        elif key in ("pageup", "pagedown"):
            popup.move(-8 if key == "pageup" else 8)
        elif key in ("enter", "tab"):
            self.accept_completion()
        elif key == "escape":
            popup.hide()
        else:
            return False
        return True

    async def _run_own_binding(self, key: str) -> bool:
        """Run the editor's binding for `key` now (what the app would do once the key bubbled up:
        the focused widget is the first place it looks; priority bindings ran before)."""
        for binding in self._bindings.key_to_bindings.get(key, ()):
            if not binding.priority and await self.app.run_action(binding.action, self):
                return True
        return False

    def action_leave(self) -> None:
        """Escape: cancel the running query, else leave the editor (so 1/2/3 switch screens)."""
        screen = self.screen
        if getattr(screen, "running", False):
            screen.action_cancel()
        else:
            screen.focus_next()

    def on_blur(self, event: events.Blur) -> None:
        self.close_completion()
