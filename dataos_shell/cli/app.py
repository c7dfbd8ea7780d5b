"""The Typer app: global options, the command groups, and errors turned into exit codes."""
from __future__ import annotations

import os
import sys

import typer

from .. import session
from ..output import failure
from . import audit, catalog, contexts, demo, kernel, policy, query, resources, runtime, shell, syscall, tui, users

app = typer.Typer(
    name="dataos", no_args_is_help=False, add_completion=True, pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="dataos: a terminal-first data operating system. Resources, users, policies and the kernel.",
)


@app.callback(invoke_without_command=True)
def main(ctx: typer.Context,
         context: str = typer.Option(None, "--context", help="Use this context instead of the current one.",
                                     envvar="DATAOS_CONTEXT")) -> None:
    if context:
        os.environ["DATAOS_CONTEXT"] = context
    if ctx.invoked_subcommand is None:
        if sys.stdin.isatty() and sys.stdout.isatty():
            from ..shell import repl
            raise typer.Exit(repl.interactive())
        typer.echo(ctx.get_help())


@app.command()
def version() -> None:
    """Print the client version."""
    from syscalls import __version__
    typer.echo(f"dataos {__version__} (python {sys.version.split()[0]})")


resources.register(app)
runtime.register(app)
contexts.register(app)
app.add_typer(users.app, name="user")
app.add_typer(policy.app, name="policy")
app.add_typer(kernel.app, name="kernel")
app.add_typer(demo.app, name="demo")
app.add_typer(catalog.app, name="catalog")
app.command(name="tui")(tui.tui)
app.command(name="syscall")(syscall.syscall)
app.command(name="audit")(audit.audit)
app.command(name="query")(query.query)
app.command(name="shell")(shell.shell)


def invoke(args: list[str]) -> int:
    """Run one command line in this process, keeping the session: its exit code. Errors print one
    line with their errno code (the shell runs every CLI verb through here)."""
    try:
        group().main(args=args, prog_name=os.environ.get("DATAOS_PROG", "dataos"))
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    except (Exception, KeyboardInterrupt) as e:
        return failure(e)
    return 0


_group = None


def group():
    """The app as a click group, built once per process."""
    global _group
    if _group is None:
        _group = typer.main.get_command(app)
    return _group


def run(args: list[str]) -> None:
    """Run the CLI and exit with the command's code."""
    try:
        code = invoke(args)
    finally:
        session.close()
    sys.exit(code)
