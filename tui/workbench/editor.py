"""The SQL editor: a TextArea with SQL highlighting; tab completes tables and columns through the
shell's completer over its background-refreshed catalog snapshot."""
from __future__ import annotations

from typing import Any

from textual import events
from textual.widgets import TextArea


class SqlEditor(TextArea):
    source: Any = None
    completer: Any = None

    def start_completion(self, link: Any) -> None:
        """Start the catalog snapshot (in the background) on the link's client."""
        try:
            from dataos_shell.shell.completion import ShellCompleter
            from dataos_shell.shell.source import start_source
            from dataos_shell.shell.state import ShellState
            state = ShellState()
            self.source = start_source(link.client, state)
            self.completer = ShellCompleter(state, self.source, {})
        except Exception:  # noqa: BLE001 — no completion, still an editor
            self.completer = None

    def stop_completion(self) -> None:
        if self.source is not None:
            try:
                self.source.close()
            except Exception:  # noqa: BLE001
                pass
            self.source = None

    def completions(self) -> list[tuple[str, int]]:
        """(text, start_position) of what may be typed at the cursor, best first."""
        if self.completer is None:
            return []
        from prompt_toolkit.completion import CompleteEvent
        from prompt_toolkit.document import Document
        before = self.get_text_range((0, 0), self.cursor_location)
        doc = Document(self.text, len(before))
        try:
            return [(c.text, c.start_position) for c in self.completer.get_completions(doc, CompleteEvent())]
        except Exception:  # noqa: BLE001
            return []

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "tab":
            found = self.completions()
            event.stop()
            event.prevent_default()
            if found:
                text, start = found[0]
                row, col = self.cursor_location
                self.replace(text, (row, max(0, col + start)), (row, col))
            return
        await super()._on_key(event)
