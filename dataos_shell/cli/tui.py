"""`dataos tui`: the full-screen app (Textual is imported only here, when asked for)."""
from __future__ import annotations

import typer

SCREENS = ("operations", "workbench", "atlas")


def tui(screen: str = typer.Option("operations", "--screen", help="operations, workbench or atlas."),
        readonly: bool = typer.Option(False, "--readonly", help="Hide every action that changes something.")) -> None:
    """The full-screen app: Operations (resources, pods, logs), Workbench (SQL), Atlas (the catalog)."""
    from syscalls.errors import SyscallError
    if screen not in SCREENS:
        raise SyscallError("EINVAL", f"--screen: {screen!r} is not one of {', '.join(SCREENS)}", field="screen")
    from tui.app import run

    from ..session import client
    client()  # connect (and start the local kernel) before the screen takes the terminal
    raise typer.Exit(run(client, screen, readonly))
