"""`dataos demo install|status|uninstall`: the demo lakehouse."""
from __future__ import annotations

from typing import Any, Optional

import typer

from syscalls.contexts import Contexts

from .. import session
from ..demo import install as demo
from ..demo.analyst import CONTEXT, USER
from ..demo.progress import Progress
from userlib.output import Format, emit, notice, render
from .options import OUTPUT

app = typer.Typer(help="The demo lakehouse: retail data (fake PII), a depot, policies, a workflow and an analyst.",
                  no_args_is_help=True)


@app.callback()
def _demo() -> None:
    session.auto_demo = False  # these commands install (or not) the demo themselves


@app.command()
def install(orders: Optional[int] = typer.Option(None, "--orders", min=1, help="Orders to generate "
                                                 "(default: $DATAOS_DEMO_ORDERS, else 1,000,000); a count other "
                                                 "than the installed one regenerates the data."),
            force: bool = typer.Option(False, "--force", help="Regenerate the data even when present.")) -> None:
    """Install the demo (again: only what is missing or changed)."""
    c = session.client()
    with Progress() as progress:
        lines = demo.install(c, _url(c), orders, force, say=progress.say, step=progress)
    emit("\n".join(lines))
    notice(f'try: {session.prog()} --context {CONTEXT} query "select * from lakehouse.retail.customers limit 5"')


@app.command()
def status(output: Format = OUTPUT) -> None:
    """What of the demo is installed: data, resources, the analyst user and context."""
    info = demo.status(session.client())
    render(info, output, ["component", "state"], _rows(info), [k for k, v in info["resources"].items() if v])


@app.command()
def uninstall() -> None:
    """Remove the demo: its resources, the analyst user and context, and the data."""
    lines = demo.uninstall(session.client())
    emit("\n".join(lines) if lines else "the demo is not installed")


def _url(c) -> str:
    """The URL the analyst's context gets: the current context's (local:// stays local://)."""
    return Contexts().get(c.context).url if c.context else c.url


def _rows(info: dict[str, Any]) -> list[list[Any]]:
    marker = info["data"]
    rows: list[list[Any]] = [["data", f"{info['path']}: {demo.summary(marker) if marker else 'missing'}"]]
    rows += [[name, state or "missing"] for name, state in info["resources"].items()]
    who = info["analyst"]
    rows.append([f"user/{USER}", ("installed" if who["demo"] else "exists (not the demo's)") if who["user"]
                 else "missing"])
    rows.append([f"context/{CONTEXT}", "missing" if who["context"] is None
                 else f"{who['context']} ({'token works' if who['token'] else 'no working token'})"])
    return rows
