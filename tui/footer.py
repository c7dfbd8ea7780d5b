"""The footer: as many key hints as fit the width, the screen's own first (in the order its
BINDINGS declare them: the ones that matter most come first), then the app's; compact when narrow.
A hint left out is still a working key (k9s does the same with its key hints)."""
from __future__ import annotations

from rich.cells import cell_len
from textual import events
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

COMPACT_BELOW = 120  # columns


class FittingFooter(Footer):
    def compose(self):
        keys = list(super().compose())
        width = self.size.width
        if not width:
            yield from keys
            return
        pad = 2 if width < COMPACT_BELOW else 3
        docked = [k for k in keys if k.has_class("-command-palette")]
        room = width - sum(_width(k, 4) for k in docked)
        for key in keys:
            if key in docked:
                continue
            room -= _width(key, pad)
            if room < 0:
                break
            yield key
        yield from docked

    def on_resize(self, event: events.Resize) -> None:
        compact = event.size.width < COMPACT_BELOW
        if compact != self.compact:
            self.compact = compact
        self.call_after_refresh(self.recompose)


def _width(key: FooterKey, pad: int) -> int:
    return cell_len(key.key_display) + cell_len(key.description) + pad
