"""The shell's one command layer: a line is SQL, a builtin, or a CLI verb run in-process by the
same code as `dataos VERB` (cli.app.invoke), all on the session's one kernel client."""
from __future__ import annotations

import difflib
import inspect
import os
import re
import shlex
import sys
from pathlib import Path
from typing import Callable

from syscalls.errors import SyscallError
from userlib.completion.state import ShellState
from userlib.output import emit, failure

from .. import session
from . import fs, procs, sql

_VAR = re.compile(r"\$(\?|\w+|\{\w+\})")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ShellExit(Exception):
    """`exit [CODE]`: leave the shell."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class Shell:
    """One shell session: its state, and one command or SQL statement at a time."""

    def __init__(self, state: ShellState, history: Path | None = None) -> None:
        self.state = state
        self.history = history  # the history file, when interactive

    @property
    def client(self):
        return session.client()

    def run(self, text: str) -> int:
        """Run one command or statement: its exit code (errors print one line; `exit` raises ShellExit)."""
        try:
            code = self._dispatch(text)
        except ShellExit:
            raise
        except (Exception, KeyboardInterrupt) as e:
            code = failure(e)
        self.state.last_exit = code
        return code

    def _dispatch(self, text: str) -> int:
        text = sql.expand_alias(text, self.state.aliases)
        if sql.is_sql(text) or sql.is_meta(text):
            return sql.run(self, text)
        if text.lstrip().startswith("\\"):
            words = text.split()
        else:
            try:
                words = shlex.split(self.expand(text))
            except ValueError as e:
                raise SyscallError("EINVAL", f"{e}: {text.strip()}") from None
        if words[:1] == ["dataos"]:
            words = words[1:]
        if not words:
            return 0
        builtin = BUILTINS.get(words[0])
        if builtin is not None:
            return builtin(self, words[1:]) or 0
        if words[0] in verbs():
            return invoke(words)
        raise unknown(words[0])

    def expand(self, text: str) -> str:
        """`$NAME`, `${NAME}` and `$?` replaced, except inside single quotes (`\\$` is a `$`)."""
        out, i, single, double = [], 0, False, False
        while i < len(text):
            c = text[i]
            match = None if single else _VAR.match(text, i)
            if c == "\\" and not single:
                out.append(text[i:i + 2])
                i += 2
                continue
            if match:
                name = match.group(1).strip("{}")
                out.append(str(self.state.last_exit) if name == "?" else
                           self.state.env.get(name, os.environ.get(name, "")))
                i = match.end()
                continue
            if c == "'" and not double:
                single = not single
            elif c == '"' and not single:
                double = not double
            out.append(c)
            i += 1
        return "".join(out)


def invoke(args: list[str]) -> int:
    from ..cli.app import invoke
    return invoke(args)


_verbs: dict[str, str] = {}


def verbs() -> dict[str, str]:
    """The CLI's verbs and groups, name → one line of help."""
    if not _verbs:
        from ..cli.app import commands
        _verbs.update({name: command.get_short_help_str(limit=100) for name, command in commands().items()
                       if not command.hidden})
    return _verbs


def summary(builtin: Callable) -> str:
    return (inspect.getdoc(builtin) or "").split("\n", 1)[0]


def all_commands() -> dict[str, str]:
    """Every command of the shell, name → one line of help: the CLI's verbs and the builtins."""
    return {**verbs(), **{name: summary(builtin) for name, builtin in BUILTINS.items()}}


def unknown(name: str) -> SyscallError:
    near = difflib.get_close_matches(name, [*all_commands(), *sql.KEYWORDS], n=1, cutoff=0.6)
    hint = f" (did you mean {near[0]}?)" if near else ""
    return SyscallError("ENOSYS", f"{name}: command not found{hint}; `help` lists the commands")


# --- builtins of the shell itself ----------------------------------------------------------------

def alias(shell: Shell, args: list[str]) -> None:
    """Name a command line: alias ll='ls -l'; alone, list the aliases.

    The first word of a line is replaced by its alias (once), before it is run."""
    aliases = shell.state.aliases
    if not args and aliases:
        emit("\n".join(f"alias {name}={shlex.quote(value)}" for name, value in sorted(aliases.items())))
    for arg in args:
        name, eq, value = arg.partition("=")
        if not eq:
            if name not in aliases:
                raise SyscallError("ENOENT", f"alias: no alias {name!r}")
            print(f"alias {name}={shlex.quote(aliases[name])}")
        elif not re.fullmatch(r"[\w.-]+", name) or name == "alias":
            raise SyscallError("EINVAL", f"alias: {name!r} is not a name an alias can have", field="name")
        else:
            aliases[name] = value


def unalias(shell: Shell, args: list[str]) -> None:
    """Forget aliases: unalias NAME…"""
    for name in args:
        if shell.state.aliases.pop(name, None) is None:
            raise SyscallError("ENOENT", f"unalias: no alias {name!r}")


def export(shell: Shell, args: list[str]) -> None:
    """Set an environment variable: export NAME=VALUE; alone, list what the shell exported.

    $NAME in command lines and in manifests (`apply -f`) sees it."""
    if not args and shell.state.env:
        emit("\n".join(f"export {name}={shlex.quote(value)}" for name, value in sorted(shell.state.env.items())))
    for arg in args:
        name, eq, value = arg.partition("=")
        if not eq or not _NAME.fullmatch(name):
            raise SyscallError("EINVAL", f"export: {arg!r} is not NAME=VALUE", field="name")
        shell.state.env[name] = os.environ[name] = value


def history(shell: Shell, args: list[str]) -> int | None:
    """The lines typed at the prompt, oldest first (`history TYPE NAME`: a resource's generations)."""
    if args:
        return invoke(["history", *args])
    if shell.history is None or not shell.history.exists():
        return None
    from prompt_toolkit.history import FileHistory
    lines = list(FileHistory(str(shell.history)).load_history_strings())[::-1]
    emit("\n".join(f"{n:5}  " + line.replace("\n", "\n       ") for n, line in enumerate(lines, 1)))
    return None


def man(shell: Shell, args: list[str]) -> int | None:
    """Help on a command: man CMD [SUBCOMMAND]."""
    if not args:
        return help_(shell, [])
    name = args[0]
    if name not in BUILTINS and name not in verbs():
        raise unknown(name)
    if name in BUILTINS:
        emit(f"{name}: {inspect.getdoc(BUILTINS[name])}")
    if name in verbs():
        return invoke([*args, "--help"])
    return None


def help_(shell: Shell, args: list[str]) -> None:
    """What the shell understands: its builtins, every CLI verb, and SQL."""
    builtins = [(name, summary(b)) for name, b in BUILTINS.items() if name != "quit"]
    emit("\n".join([
        "Shell commands:", _listing(builtins), "",
        "dataos verbs (as `dataos VERB …`; `man VERB` for their options):", _listing(verbs().items()), "",
        "SQL, governed (masks and row filters apply), up to a `;`:",
        "  SELECT …, WITH …, VALUES …, FROM t SELECT …, PIVOT t ON … IN (…)",
        "  DESCRIBE t, SHOW COLUMNS FROM t   t's columns and types, the masked ones marked",
        "  SHOW TABLES, SHOW ALL TABLES      the datasets you may select (here, or everywhere)",
        "  SUMMARIZE t                       t's columns summarized as you may see them",
        "  \\d, \\dt / \\d t                    as SHOW TABLES / DESCRIBE t (pgcli's; no `;` needed)",
        "  Unqualified names resolve in the current directory (cd dataos://depot:collection);",
        "  Ctrl-C cancels a running query, \\timing shows times. $NAME is expanded outside single quotes."]))


def _listing(items) -> str:
    items = list(items)
    width = max(len(name) for name, _ in items)
    return "\n".join(f"  {name.ljust(width)}  {text}" for name, text in items)


def exit_(shell: Shell, args: list[str]) -> None:
    """Leave the shell: exit [CODE] (the last command's code by default; Ctrl-D too)."""
    try:
        code = int(args[0]) if args else shell.state.last_exit
    except ValueError:
        raise SyscallError("EINVAL", f"exit: {args[0]!r} is not a number", field="code") from None
    raise ShellExit(code)


def clear(shell: Shell, args: list[str]) -> None:
    """Clear the screen (Ctrl-L too)."""
    if sys.stdout.isatty():
        sys.stdout.write("\x1b[H\x1b[2J\x1b[3J")
        sys.stdout.flush()


def timing(shell: Shell, args: list[str]) -> None:
    """Show how long SQL statements take: \\timing [on|off] (alone, toggles)."""
    if args and args[0] not in ("on", "off"):
        raise SyscallError("EINVAL", "\\timing: on or off", field="timing")
    shell.state.timing = args[0] == "on" if args else not shell.state.timing
    print(f"Timing is {'on' if shell.state.timing else 'off'}.")


BUILTINS: dict[str, Callable[[Shell, list[str]], int | None]] = {
    "mount": fs.mount, "ls": fs.ls, "cd": fs.cd, "pwd": fs.pwd, "cat": fs.cat, "head": fs.head,
    "ps": procs.ps, "kill": procs.kill, "top": procs.top,
    "history": history, "alias": alias, "unalias": unalias, "export": export, "man": man, "help": help_,
    "exit": exit_, "quit": exit_, "clear": clear, "\\timing": timing,
}
