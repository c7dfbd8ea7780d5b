"""`dataos shell`: the interactive shell, or a script (FILE, -c, or standard input) run through it."""
from __future__ import annotations

from typing import Optional

import typer


def shell(file: Optional[str] = typer.Argument(None, help="A script to run (- for standard input); "
                                               "`#!/usr/bin/env -S dataos shell` makes one executable."),
          command: Optional[str] = typer.Option(None, "-c", "--command", help='Run these commands: "cmd; cmd; '
                                                'select …;".'),
          keep_going: bool = typer.Option(False, "--keep-going", "-k",
                                          help="Run every command even after one fails.")) -> None:
    """The interactive shell: every verb, plus ls, cd, cat, ps, kill… and SQL typed directly (ends with ;)."""
    from ..shell import script
    raise typer.Exit(script.main(file, command, keep_going))
