"""Progress on stderr: a spinner on a terminal, else one plain line per step."""
from __future__ import annotations

import sys

from userlib.output import color_enabled, notice


class Progress:
    """`progress(message)` shows a step (transient on a terminal); `progress.say(message)` prints a
    line that stays."""

    def __init__(self) -> None:
        self.console = None
        self.status = None
        if sys.stderr.isatty():
            from rich.console import Console
            self.console = Console(stderr=True, no_color=not color_enabled(sys.stderr), highlight=False)

    def __call__(self, message: str) -> None:
        if self.console is None:
            notice(message)
        elif self.status is None:
            self.status = self.console.status(message)
            self.status.start()
        else:
            self.status.update(message)

    def say(self, message: str) -> None:
        self.close()
        notice(message)

    def close(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
