"""`dataos` and `python -m dataos_shell`: the command line's entry point.

`dataos version` is answered before Typer is imported: the cold start is a feature.
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
    from .cli.app import run
    run(args)


if __name__ == "__main__":
    os.environ.setdefault("DATAOS_PROG", "python -m dataos_shell")
    main()
