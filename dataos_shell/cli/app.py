"""The Typer app: global options, the command groups, and errors turned into exit codes."""
from __future__ import annotations

import os
import sys

import typer

from syscalls.errors import SyscallError
from userlib.output import failure

from .. import session
from .groups import OneLineGroup

BUILTIN = {  # command -> (module of this package, what of it adds the command), in `dataos --help` order
    **dict.fromkeys(("apply", "get", "describe", "delete", "history", "diff", "api-resources"),
                    ("resources", "register")),
    **dict.fromkeys(("pods", "logs", "top"), ("runtime", "register")),
    **dict.fromkeys(("login", "logout", "whoami"), ("contexts", "register")),
    **{name: (name, name) for name in ("edit", "explain", "tui", "syscall", "audit", "shell")},
    "query": ("query", "register"),
    "runtime": ("runtime", "register"), "context": ("contexts", "register"),
    "user": ("users", "app"), "policy": ("policy", "app"), "kernel": ("kernel", "app"), "demo": ("demo", "app"),
    "catalog": ("catalog", "app"), "plugins": ("plugins", "app"),
}

class PluginGroup(OneLineGroup):
    """The built-in commands, then the commands of installed plugins. A command's module is
    imported only when it runs, or when every command is listed (help, completion); a plugin's
    only when a name is not built in, or when every command is listed."""

    def get_command(self, ctx, name):
        return (super().get_command(ctx, name) or builtin_command(name)
                or (plugin_command(name) if plugins_on(ctx) else None))

    def list_commands(self, ctx):
        names = builtin_names()
        return names + sorted(set(plugin_commands()) - set(names)) if plugins_on(ctx) else names



app = typer.Typer(
    name="dataos", cls=PluginGroup, no_args_is_help=False, add_completion=True, pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    help="dataos: a terminal-first data operating system. Resources, users, policies and the kernel.",
)


@app.callback(invoke_without_command=True)
def main(ctx: typer.Context,
         context: str = typer.Option(None, "--context", help="Use this context instead of the current one.",
                                     envvar="DATAOS_CONTEXT"),
         no_plugins: bool = typer.Option(False, "--no-plugins", help="Don't load installed plugins.",
                                         envvar="DATAOS_NO_PLUGINS")) -> None:
    if no_plugins:
        os.environ["DATAOS_NO_PLUGINS"] = "1"
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


_builtin: dict = {}  # name -> click command of the built-in commands loaded so far


def builtin_names() -> list[str]:
    """Every built-in command's name: those registered on `app`, then those of BUILTIN."""
    return list(dict.fromkeys([*group().commands, *BUILTIN]))


def builtin_command(name: str):
    """The click command of built-in command `name` (its module imported now), or None."""
    if name not in _builtin and name in BUILTIN:
        import importlib
        module, what = BUILTIN[name]
        adds = getattr(importlib.import_module(f"{__package__}.{module}"), what)
        part = typer.Typer()
        if isinstance(adds, typer.Typer):
            part.add_typer(adds, name=name, cls=OneLineGroup)
        elif what == "register":
            adds(part)
        else:
            part.command(name=name)(adds)
        _builtin.update(typer.main.get_group(part).commands)
    return _builtin.get(name)


def invoke(args: list[str]) -> int:
    """Run one command line in this process, keeping the session: its exit code. Errors print one
    line with their errno code, usage errors too (the shell runs every CLI verb through here)."""
    from typer._click import exceptions as click  # Typer vendors click; these are not re-exported
    try:
        code = group().main(args=args, prog_name=os.environ.get("DATAOS_PROG", "dataos"), standalone_mode=False)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    except click.NoArgsIsHelpError as e:  # a group given no sub-command: its help, as before
        e.show()
        return e.exit_code
    except click.UsageError as e:
        from .usage import usage_error
        return failure(usage_error(e))
    except click.ClickException as e:
        return failure(SyscallError("EINVAL", e.format_message()))
    except typer.Abort:
        return failure(KeyboardInterrupt())
    except (Exception, KeyboardInterrupt) as e:
        return failure(e)
    return code if isinstance(code, int) else 0


_group = None


def plugins_on(ctx=None) -> bool:
    """Plugins load unless `--no-plugins` or DATAOS_NO_PLUGINS=1 (the option is parsed before the
    sub-command is looked up)."""
    from plugins.loader import disabled
    return not (ctx is not None and ctx.find_root().params.get("no_plugins")) and not disabled()


_plugin_commands: dict | None = None


def plugin_commands() -> dict:
    """Name -> click command of every loaded plugin's commands (their load problems print once)."""
    global _plugin_commands
    if _plugin_commands is None:
        from plugins.loader import registry
        _plugin_commands = {}
        for name, (plugin, cli) in registry.commands(builtin_names()).items():
            command = _click_command(plugin, name, cli)
            if command is not None:
                _plugin_commands[name] = command
        _warn_once()
    return _plugin_commands


def plugin_command(name: str):
    """The click command `name` of a plugin: a plugin named like its command is imported alone
    (the others stay unimported); any other name loads them all."""
    from plugins.loader import registry
    if _plugin_commands is None:
        found = registry.command_of(name, builtin_names())
        if found is not None:
            command = _click_command(found[0], name, found[1])
            _warn_once()
            return command
    return plugin_commands().get(name)


def _click_command(plugin, name: str, cli):
    from plugins.loader import registry
    try:
        command = typer.main.get_command(cli)
    except Exception as e:  # noqa: BLE001 — e.g. a parameter type Typer cannot build
        why = f"command {name!r} of plugin {plugin.name}: {type(e).__name__}: {e}"
        plugin.error = why
        registry.problems.append(why)
        return None
    command.name = name
    return command


def _warn_once() -> None:
    from plugins.loader import registry, unseen
    from userlib.output import warn
    for line in unseen(registry.problems):
        warn(f"{line} (shown once; see `dataos plugins doctor`)")


def commands() -> dict:
    """Every command's name -> click command: the built-in ones, then the plugins' (when on)."""
    builtin = {name: group().commands.get(name) or builtin_command(name) for name in builtin_names()}
    return {**builtin, **(plugin_commands() if plugins_on() else {})}


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
