"""Options shared by many commands."""
from __future__ import annotations

import typer

from userlib.output import Format

OUTPUT = typer.Option(Format.table, "--output", "-o", help="table, wide, json, yaml or name.",
                      case_sensitive=False)
WORKSPACE = typer.Option(None, "--workspace", "-w", help="Workspace of workspace-level resources [default: public].")
