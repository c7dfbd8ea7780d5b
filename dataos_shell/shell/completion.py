"""The shell's completion: the user-layer library's `Completer` adapted to prompt-toolkit, and the
command tree made from the Typer app (the library walks it without importing the CLI)."""
from __future__ import annotations

import threading
from typing import Any, Iterator, Mapping

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from userlib.completion import commands as tree
from userlib.completion.candidates import Completer as Candidates
from userlib.completion.commands import HELP, Cmd, Opt, first_line
from userlib.completion.state import CatalogSource, ShellState

TAB_WAIT = 1.5  # seconds a Tab waits for the catalog it completes from (typing never waits)


class ShellCompleter(Completer):
    """prompt-toolkit's view of the library's completer."""

    def __init__(self, state: ShellState, source: CatalogSource, commands: Mapping[str, str]) -> None:
        self.candidates = Candidates(state, source, commands)
        warm()

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterator[Completion]:
        if complete_event.text_inserted and not document.current_line_before_cursor.strip():
            return  # a new (continuation) line opens no menu while typing; Tab still completes
        wait = TAB_WAIT if complete_event.completion_requested else 0.0
        for c in self.candidates.complete(document.text_before_cursor, document.text_after_cursor, wait):
            yield Completion(c.text, c.start, display=c.display, display_meta=c.meta)


def cli_tree() -> Cmd:
    """Sub-commands, options and arguments of the Typer app."""
    from ..cli.app import commands, group
    return _from_click(group(), (), commands())


def _from_click(command: Any, path: tuple[str, ...], children: Mapping[str, Any] | None = None) -> Cmd:
    subs = {}
    for name, sub in (children if children is not None else getattr(command, "commands", None) or {}).items():
        if not getattr(sub, "hidden", False):
            subs[name] = _from_click(sub, path + (name,))
    options: dict[str, Opt] = {}
    arguments = []
    multiple: set[str] = set()
    if path:  # the root's options (--context, --install-completion) mean nothing in the shell
        for p in getattr(command, "params", ()):
            if getattr(p, "param_type_name", "") == "argument":
                arguments.append((p.name, p.nargs))
                continue
            if getattr(p, "hidden", False):
                continue
            names = tuple(sorted([*p.opts, *p.secondary_opts], key=lambda s: (not s.startswith("--"), s)))
            choices = tuple(str(c) for c in (getattr(p.type, "choices", None) or ()))
            opt = Opt(names, first_line(getattr(p, "help", "")), not getattr(p, "is_flag", False)
                      and not getattr(p, "count", False), choices, p.name or "", bool(getattr(p, "multiple", False)))
            for n in names:
                options[n] = opt
            if opt.multiple:
                multiple.update(names)
        for n in HELP.names:
            options.setdefault(n, HELP)
    help_text = getattr(command, "short_help", None) or getattr(command, "help", None)
    default = getattr(command, "default_command", None)
    default = _from_click(command.commands[default], path + (default,)) if default else None
    return Cmd(path, first_line(help_text), subs, options, tuple(arguments), frozenset(multiple), default)


def warm() -> None:
    """Build the command tree in a background thread (importing the CLI takes ~0.2 s)."""
    if not tree.built():
        threading.Thread(target=tree.command_tree, name="dataos-completion-warm", daemon=True).start()


tree.provide(cli_tree)
