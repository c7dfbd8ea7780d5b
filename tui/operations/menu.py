"""The resource menu: every type with how many resources of it the caller may read."""
from __future__ import annotations

from textual.widgets import OptionList
from textual.widgets.option_list import Option


class ResourceMenu(OptionList):
    DEFAULT_CSS = """
    ResourceMenu { width: 22; height: 1fr; border: round $panel; }
    ResourceMenu:focus { border: round $accent; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.border_title = "types"
        self.counts: dict[str, int] = {}
        self.name_width = 8  # the longest type's

    def show(self, types: list[str], counts: dict[str, int]) -> None:
        """Update labels in place; the options are rebuilt only when the set of types changes."""
        if types == [o.id for o in self.options] and counts == self.counts:
            return
        self.counts = dict(counts)
        if types != [o.id for o in self.options]:
            self.name_width = max(map(len, types), default=8)
            self.styles.width = self.name_width + 8  # the count, the options' padding, the border
            highlighted = self.highlighted
            self.clear_options()
            self.add_options([Option(self._label(t), id=t) for t in types])
            self.highlighted = highlighted if highlighted is not None and highlighted < len(types) else 0
        else:
            for t in types:
                self.replace_option_prompt(t, self._label(t))

    def _label(self, t: str) -> str:
        return f"{t:<{self.name_width}}{self.counts.get(t, 0):>4}"

    @property
    def selected_type(self) -> str | None:
        if self.highlighted is None or not self.option_count:
            return None
        return self.get_option_at_index(self.highlighted).id

    def select_type(self, t: str) -> None:
        for i, o in enumerate(self.options):
            if o.id == t:
                self.highlighted = i
