"""`dataos` and `python -m dataos_shell`: the command line's entry point.

`dataos version`, plain `dataos get …` and `dataos whoami` (see `cli.fast`) are answered without
importing Typer, and the interactive shell (`dataos shell`, or bare `dataos` on a terminal) shows its
prompt before Typer is imported: the cold start is a feature.
"""
from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args in (["version"], ["--version"]):
        from syscalls import __version__
        print(f"dataos {__version__} (python {sys.version.split()[0]})")
        return
    if (args == ["shell"] and sys.stdin.isatty()) or (args == [] and sys.stdin.isatty() and sys.stdout.isatty()):
        from userlib.output import failure

        from . import session
        from .shell.repl import interactive
        try:
            code = interactive()
        except Exception as e:  # a bug: one line, never a traceback on the terminal
            code = failure(e)
        finally:
            session.close()
        sys.exit(code)
    from .cli import fast
    code = fast.run(args)
    if code is not None:
        sys.exit(code)
    from .cli.app import run
    run(args)


if __name__ == "__main__":
    os.environ.setdefault("DATAOS_PROG", "python -m dataos_shell")
    main()
