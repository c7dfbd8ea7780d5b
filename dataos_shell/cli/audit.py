"""`dataos audit`: who called what, on which object, with which decision."""
from __future__ import annotations

from typing import Optional

import typer

from userlib.output import Format, paint, render
from ..session import client
from .options import OUTPUT


def audit(user: Optional[str] = typer.Option(None, "--user", help="Only this user's calls."),
          since: Optional[str] = typer.Option(None, "--since", help="ISO time, or a duration such as 1h."),
          syscall: Optional[str] = typer.Option(None, "--syscall", help="Only these syscalls (glob: resource.*)."),
          errors: bool = typer.Option(False, "--errors", help="Only calls that failed."),
          limit: int = typer.Option(100, "--limit", help="At most this many records, newest first."),
          output: Format = OUTPUT) -> None:
    """The audit log: every syscall with its caller, object, decision, errno and duration."""
    records = client().audit.list(user=user, since=since, syscall=syscall, errors_only=errors, limit=limit)
    headers = ["time", "user", "syscall", "object", "decision", "errno", "duration"]
    if output is Format.wide:
        headers.insert(5, "policy")
    rows = []
    for r in records:
        decision = {"deny": paint("deny", "red"), "allow": "allow"}.get(r["decision"], "-")
        row = [r["time"], r["user"], r["syscall"], r["object"], decision, r["errno"], f"{r['duration_us']}µs"]
        if output is Format.wide:
            row.insert(5, r["policy"])
        rows.append(row)
    render(records, output, headers, rows, (f"{r['time']} {r['syscall']}" for r in records))
