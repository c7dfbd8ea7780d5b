"""The banner shown while the kernel does not answer (the screens keep their last good data)."""
from __future__ import annotations

from textual.widgets import Static


class KernelBanner(Static):
    DEFAULT_CSS = """
    KernelBanner { dock: top; height: 1; background: $error; color: $text; display: none; padding: 0 1; }
    KernelBanner.-down { display: block; }
    """

    def show_health(self, ok: bool, why: str) -> None:
        self.set_class(not ok, "-down")
        if not ok:
            self.update(f"kernel not answering ({why}); showing the last good data — retrying")
