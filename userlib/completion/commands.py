"""The command tree completion walks: commands, sub-commands, options and arguments.

The CLI owns the tree (it is made from its Typer app); it registers a provider with `provide()`,
so that this library never imports a front end. Without one, the tree is empty (SQL only, as in
the TUI's editor)."""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable, Mapping


@dataclass(frozen=True)
class Opt:
    names: tuple[str, ...]
    help: str
    takes_value: bool
    choices: tuple[str, ...]
    dest: str
    multiple: bool = False


@dataclass(frozen=True)
class Cmd:
    path: tuple[str, ...]
    help: str
    commands: Mapping[str, "Cmd"] = field(default_factory=dict)
    options: Mapping[str, Opt] = field(default_factory=dict)      # every spelling → its option
    arguments: tuple[tuple[str, int], ...] = ()                   # (name, nargs)
    multiple: frozenset[str] = frozenset()                        # spellings of repeatable options
    default: "Cmd | None" = None  # what runs when the first word is no sub-command (`query "SQL"`)

    def sub(self, name: str) -> "Cmd | None":
        """The sub-command `name` (the default one too, though hidden)."""
        if self.default is not None and self.default.path[-1:] == (name,):
            return self.default
        return self.commands.get(name)


_tree: Cmd | None = None
_tree_lock = threading.Lock()
HELP = Opt(("--help", "-h"), "Show the help and exit.", False, (), "help")


_provider: Callable[[], Cmd] | None = None


def provide(provider: Callable[[], Cmd]) -> None:
    """Make `provider` build the tree (once, on first use)."""
    global _provider, _tree
    with _tree_lock:
        _provider, _tree = provider, None


def command_tree() -> Cmd:
    """The registered provider's tree (built on first use), or an empty one."""
    global _tree
    if _tree is None:
        with _tree_lock:
            if _tree is None:
                try:
                    _tree = _provider() if _provider is not None else Cmd((), "")
                except Exception:  # noqa: BLE001 — completion without the CLI tree, rather than none
                    _tree = Cmd((), "")
    return _tree


def built() -> bool:
    return _tree is not None


def first_line(text: str | None) -> str:
    text = (text or "").strip()
    line = text.split("\n", 1)[0].strip()
    return line if len(line) <= 80 else line[:79] + "…"
