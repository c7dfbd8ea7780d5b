"""Shell completion of resource types and names (asks the kernel; silent when it can't)."""
from __future__ import annotations

import typer

from ..session import client
from userlib.plurals import singular


def types(incomplete: str) -> list[str]:
    try:
        names = [t["type"] for t in client().resource.types()]
    except Exception:  # completion must never print an error into the user's prompt
        return []
    return [n for n in names if n.startswith(incomplete)]


def names(ctx: typer.Context, incomplete: str) -> list[str]:
    kind = ctx.params.get("kind") or ctx.params.get("type_opt")
    if not kind:
        return []
    try:
        found = client().resource.list(type=singular(kind), workspace=ctx.params.get("workspace"))
    except Exception:
        return []
    return [r["name"] for r in found if r["name"].startswith(incomplete)]
