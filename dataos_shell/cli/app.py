"""The Typer app: global options, the command groups, and errors turned into exit codes."""
from __future__ import annotations

import os
import sys

import typer

from syscalls.errors import SyscallError

from .. import session
from ..output import error_line, paint
from . import audit, catalog, contexts, demo, kernel, policy, query, resources, runtime, syscall, users

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
        _welcome()
        typer.echo(ctx.get_help())


@app.command()
def version() -> None:
    """Print the client version."""
    from syscalls import __version__
    typer.echo(f"dataos {__version__} (python {sys.version.split()[0]})")


def _welcome() -> None:
    """Bare `dataos` on a terminal: start the local kernel and say who you are."""
    if not sys.stdout.isatty():
        return
    me = session.client().auth.whoami()
    c = session.client()
    typer.echo(f"{paint('dataos', 'bold')} · context {c.context or c.url} · user {me['id']} "
               f"({', '.join(t for t in me['tags'] if not t.startswith('users:id:'))})\n")


resources.register(app)
runtime.register(app)
contexts.register(app)
app.add_typer(users.app, name="user")
app.add_typer(policy.app, name="policy")
app.add_typer(kernel.app, name="kernel")
app.add_typer(demo.app, name="demo")
app.add_typer(catalog.app, name="catalog")
app.command(name="syscall")(syscall.syscall)
app.command(name="audit")(audit.audit)
app.command(name="query")(query.query)


def run(args: list[str]) -> None:
    """Run the CLI; errors print one line with their errno code and exit with its code."""
    code = 0
    try:
        app(args=args, prog_name=os.environ.get("DATAOS_PROG", "dataos"))
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except SyscallError as e:
        if e.code == "EAUTH":
            e.message += " (run `dataos login`, or set DATAOS_TOKEN)"
        print(error_line(e), file=sys.stderr)
        code = e.exit_code
    except KeyboardInterrupt:
        print(file=sys.stderr)
        code = 130
    except BrokenPipeError:
        code = 0
        sys.stderr.close()
    except Exception as e:  # a bug: one line, the traceback only on request
        if os.environ.get("DATAOS_DEBUG"):
            raise
        bug = SyscallError("EIO", f"internal error: {type(e).__name__}: {e} (set DATAOS_DEBUG=1 for the traceback)")
        print(error_line(bug), file=sys.stderr)
        code = bug.exit_code
    finally:
        session.close()
    sys.exit(code)
