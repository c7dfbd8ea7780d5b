"""The banner shown while the kernel does not answer (the screens keep their last good data): it
wraps to the width it has."""
from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class KernelBanner(Static):
    DEFAULT_CSS = """
    KernelBanner { height: auto; background: $error; color: $text; display: none; padding: 0 1; }
    KernelBanner.-down { display: block; }
    """

    def show_health(self, ok: bool, why: str) -> None:
        self.set_class(not ok, "-down")
        if not ok:
            self.update(Text(f"Kernel not answering: {why.rstrip('.')}. Showing the last good data; retrying."))
