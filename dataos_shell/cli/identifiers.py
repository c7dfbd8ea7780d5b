"""The options that spell a resource identifier the dataos-ctl way (`refs` merges every form)."""
from __future__ import annotations

import typer

from userlib.plurals import singular  # noqa: F401 (where the commands find it)

from .refs import Ref, require, resolve  # noqa: F401 (where the commands find them)

TYPE = typer.Option(None, "--type", "-t", help="Resource type (dataos-ctl form).")
NAME = typer.Option(None, "--name", "-n", help="Resource name (dataos-ctl form).")
IDENT = typer.Option(None, "--identifier", "-i", help='"NAME | VERSION | TYPE | WORKSPACE" (dataos-ctl form).')
ID = typer.Option(None, "--id", help="TYPE:VERSION:NAME[:WORKSPACE] (dataos-ctl form).")
