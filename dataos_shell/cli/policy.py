"""`dataos policy check`: ask Heimdall for a decision, and see which policy decides."""
from __future__ import annotations

import typer

from userlib.output import Format, paint, render
from ..session import client
from .options import OUTPUT

app = typer.Typer(help="Access policies: check decisions. (Policies are resources: `dataos apply`, "
                  "`dataos get policy`.)", no_args_is_help=True)


@app.command()
def check(user: str = typer.Option(..., "--user", help="The user asking."),
          predicate: str = typer.Option(..., "--predicate", help="read, create, update, delete, select, …"),
          obj: str = typer.Option(..., "--object", help="A path: dataos://depot:collection/dataset or /poros/…"),
          object_tags: list[str] = typer.Option([], "--object-tag", help="Tags of the object (repeatable)."),
          output: Format = OUTPUT) -> None:
    """Would USER be allowed PREDICATE on OBJECT? Names the deciding policy."""
    decision = client().policy.check(user=user, predicate=predicate, object=obj, object_tags=object_tags)
    verdict = paint("allow", "green") if decision["allow"] else paint("deny", "red")
    render(decision, output, ["decision", "policy", "reason"],
           [[verdict, decision["policy"], decision["reason"]]], ["allow" if decision["allow"] else "deny"])
