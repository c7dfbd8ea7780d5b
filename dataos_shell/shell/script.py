"""`dataos shell -c "cmd; cmd"`, `dataos shell FILE` (or a script on standard input): the shell's
commands without a terminal. The first failing command stops the script (unless keep_going) and
its exit code, the errno's, is the script's."""
from __future__ import annotations

import sys
from pathlib import Path

from syscalls.errors import SyscallError

from . import sql
from .commands import Shell, ShellExit
from userlib.completion.state import ShellState


def main(file: str | None, command: str | None, keep_going: bool) -> int:
    """`dataos shell`: the interactive shell on a terminal, else a script."""
    if command is not None and file is not None:
        raise SyscallError("EINVAL", "give a FILE or -c COMMANDS, not both", field="file")
    if command is not None:
        return run(command, keep_going)
    if file is None and sys.stdin.isatty():
        from .repl import interactive
        return interactive()
    if file in (None, "-"):
        return run(sys.stdin.read(), keep_going)
    try:
        text = Path(file).read_text()
    except OSError as e:
        raise SyscallError("ENOENT" if isinstance(e, FileNotFoundError) else "EINVAL",
                           f"{file}: {e.strerror or e}", field="file") from None
    return run(text, keep_going)


def run(text: str, keep_going: bool = False) -> int:
    """Run every command and statement of `text`: 0, or the exit code of the (last) failing one."""
    shell = Shell(ShellState())
    failed = 0
    try:
        for unit, _ in sql.statements(text, shell.state.aliases):
            code = shell.run(unit)
            if code:
                failed = code
                if not keep_going:
                    break
    except ShellExit as e:
        return e.code
    return failed
