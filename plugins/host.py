"""The host API a plugin's `register(host)` receives (version 1, documented in docs/plugins.md).

A plugin adds CLI/shell commands, TUI palette commands and screens, and output formats. It reaches
data only through `host.client()`, the syscalls client of the user running dataos: a plugin can do
nothing its user could not."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

API_VERSION = 1


@dataclass
class Registrations:
    """What one plugin registered."""
    commands: dict[str, Any] = field(default_factory=dict)  # name -> typer.Typer (group or one command)
    palette: list[tuple[str, str, Callable[[Any], Any]]] = field(default_factory=list)  # (title, help, fn(app))
    screens: dict[str, tuple[str, Callable[[], Any]]] = field(default_factory=dict)  # name -> (title, factory)
    formats: dict[str, tuple[str, Callable[[list[str], list[list[Any]]], str]]] = field(default_factory=dict)

    def names(self) -> list[str]:
        return [*self.commands, *(f"palette: {t}" for t, _, _ in self.palette),
                *(f"screen: {n}" for n in self.screens), *(f"format: {n}" for n in self.formats)]


class Host:
    """Passed to `register(host)`; records what the plugin adds."""
    api_version = API_VERSION

    def __init__(self, plugin: str) -> None:
        self.plugin = plugin
        self.added = Registrations()

    def command(self, name: str | None = None, *, help: str | None = None) -> Callable:
        """Decorate a Typer-style annotated function: it becomes `dataos NAME …` and the shell's `NAME`."""
        def add(fn: Callable) -> Callable:
            import typer
            cli = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
            command = name or fn.__name__.replace("_", "-")
            cli.command(name=command, help=help)(fn)
            self._claim(command, cli)
            return fn
        return add

    def group(self, name: str, *, help: str | None = None) -> Any:
        """A Typer app whose sub-commands become `dataos NAME SUB …` (and the shell's `NAME SUB`)."""
        import typer
        from dataos_shell.cli.groups import OneLineGroup
        cli = typer.Typer(name=name, help=help, no_args_is_help=True, add_completion=False,
                          pretty_exceptions_enable=False, cls=OneLineGroup)
        cli.callback()(_group)  # a group even with one sub-command
        self._claim(name, cli)
        return cli

    def palette(self, title: str, *, help: str = "") -> Callable:
        """Decorate `fn(app)`: a TUI command palette entry (`app.link.call(...)` reaches syscalls)."""
        def add(fn: Callable) -> Callable:
            self.added.palette.append((title, help, fn))
            return fn
        return add

    def screen(self, name: str, *, title: str) -> Callable:
        """Decorate a factory returning a Textual Screen: the palette offers `Open TITLE`."""
        def add(factory: Callable[[], Any]) -> Callable[[], Any]:
            self.added.screens[name] = (title, factory)
            return factory
        return add

    def output_format(self, name: str, *, help: str = "") -> Callable:
        """Decorate `fn(columns, rows) -> str`: `dataos query -o NAME` prints what it returns."""
        def add(fn: Callable) -> Callable:
            self.added.formats[name] = (help, fn)
            return fn
        return add

    def client(self) -> Any:
        """The syscalls client of the current user (the same session the CLI and shell use)."""
        from dataos_shell import session
        return session.client()

    def _claim(self, name: str, cli: Any) -> None:
        if name in self.added.commands:
            raise ValueError(f"command {name!r} registered twice")
        self.added.commands[name] = cli


def _group() -> None:
    """(A plugin's command group.)"""
