"""Contexts and credentials: `dataos context …`, `login`, `logout`, `whoami`."""
from __future__ import annotations

import sys
from typing import Optional

import typer

from syscalls.contexts import Contexts
from syscalls.errors import SyscallError

from userlib.output import Format, emit, notice, render
from .options import OUTPUT
from .views import show_whoami
from .groups import OneLineGroup

context_app = typer.Typer(help="Which kernel to talk to: the local one, or a cluster over HTTPS.",
                          no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(context_app, name="context", cls=OneLineGroup)
    app.command()(login)
    app.command()(logout)
    app.command()(whoami)


@context_app.command("list")
def context_list(output: Format = OUTPUT) -> None:
    """The contexts, the current one starred."""
    contexts = Contexts().list()
    rows = [["*" if c.current else "", c.name, c.url] for c in contexts]
    render([{"name": c.name, "url": c.url, "current": c.current} for c in contexts], output,
           ["current", "name", "url"], rows, (c.name for c in contexts))


@context_app.command("use")
def context_use(name: str) -> None:
    """Make NAME the current context."""
    Contexts().use(name)
    emit(f"switched to context {name!r}")


@context_app.command("add")
def context_add(name: str, url: str = typer.Option(..., "--url", help="https://HOST, unix://SOCKET, "
                                                   "embedded://DIR or local://"),
                use: bool = typer.Option(False, "--use", help="Also make it the current context.")) -> None:
    """Add a context (then `dataos login --context NAME`)."""
    contexts = Contexts()
    contexts.add(name, url)
    if use:
        contexts.use(name)
    emit(f"context {name!r} added" + (" and in use" if use else ""))


@context_app.command("delete")
def context_delete(name: str) -> None:
    """Remove a context and its stored token."""
    Contexts().remove(name)
    emit(f"context {name!r} deleted")


def login(token_stdin: bool = typer.Option(False, "--token-stdin", help="Read the token from standard input."),
          context: Optional[str] = typer.Option(None, "--context", help="Log in to this context.")) -> None:
    """Store an API token for the current context, after checking it with the kernel."""
    contexts = Contexts()
    ctx = contexts.get(context)
    if token_stdin:
        token = sys.stdin.readline().strip()
    elif sys.stdin.isatty():
        import getpass
        token = getpass.getpass(f"API token for {ctx.name} ({ctx.url}): ").strip()
    else:
        raise SyscallError("EINVAL", "no terminal to ask for the token: use --token-stdin")
    if not token:
        raise SyscallError("EINVAL", "empty token", field="token")
    from syscalls import connect
    with connect(ctx.url, token) as c:
        me = c.auth.whoami()
    message = contexts.save_token(ctx.name, token)
    if message:
        notice(message)
    emit(f"logged in to {ctx.name} as {me['id']}")


def logout(context: Optional[str] = typer.Option(None, "--context", help="Log out of this context.")) -> None:
    """Forget the stored token of the current context."""
    contexts = Contexts()
    ctx = contexts.get(context)
    had = contexts.forget_token(ctx.name)
    emit(f"logged out of {ctx.name}" if had else f"no stored credential for {ctx.name}")


def whoami(output: Format = OUTPUT) -> None:
    """Who you are on the current context: user, type, tags."""
    show_whoami(output)
