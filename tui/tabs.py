"""Tab keys shared by the screens: `]` and `[` step through a TabbedContent's panes."""
from __future__ import annotations

from textual.binding import Binding
from textual.widgets import TabbedContent, TabPane

BINDINGS = [
    Binding("right_square_bracket", "tab(1)", "Tabs", key_display="]"),
    Binding("left_square_bracket", "tab(-1)", "Previous tab", show=False, key_display="["),
]


def step(tabs: TabbedContent, by: int) -> None:
    """Show the pane `by` places after (or before) the active one, wrapping around."""
    panes = [pane.id for pane in tabs.query(TabPane)]
    if tabs.active in panes:
        tabs.active = panes[(panes.index(tabs.active) + by) % len(panes)]
