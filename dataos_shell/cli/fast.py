"""`dataos get` and `dataos whoami` without importing Typer, for a strict grammar:

    get [TYPE [NAME]] [-w|--workspace WS] [-o|--output table|wide|json|yaml|name]
    whoami [-o|--output table|wide|json|yaml|name]

They call what the Typer commands call (`views`), so they print the same bytes and exit codes.
Any other command line (another option, one given twice, help, shell completion, `get pods`,
`get runtime`) is Typer's.
"""
from __future__ import annotations

import os
import sys

from userlib.output import Format, failure

ARITY = {"get": 2, "whoami": 0}  # positional words each command takes here
OPTIONS = {"get": {"-w": "workspace", "--workspace": "workspace", "-o": "output", "--output": "output"},
           "whoami": {"-o": "output", "--output": "output"}}


def parse(args: list[str]) -> tuple[str, list[str], dict[str, str]] | None:
    """(command, positional words, options) of a command line in the grammar above, else None."""
    if not args or args[0] not in ARITY:
        return None
    command, rest = args[0], args[1:]
    words: list[str] = []
    options: dict[str, str] = {}
    while rest:
        word, rest = rest[0], rest[1:]
        key = OPTIONS[command].get(word)
        if key is not None:
            if key in options or not rest or rest[0].startswith("-"):
                return None
            options[key], rest = rest[0], rest[1:]
        elif word.startswith("-"):
            return None
        else:
            words.append(word)
    if len(words) > ARITY[command] or options.get("output", "table") not in {f.value for f in Format}:
        return None
    return command, words, options


def run(args: list[str]) -> int | None:
    """Run a command line of the grammar: its exit code (after its one error line, if it failed);
    None, having done nothing, when Typer must run it."""
    parsed = parse(args)
    if parsed is None or any(k.startswith("_") and k.endswith("_COMPLETE") for k in os.environ):
        return None
    command, words, options = parsed
    if command == "get" and words[:1] == ["runtime"]:
        return None
    from .. import session
    from . import views
    from .refs import resolve
    output = Format(options.get("output", "table"))
    try:
        if command == "whoami":
            views.show_whoami(output)
            return 0
        ref = resolve(*words, workspace=options.get("workspace"))
        if ref.type == "pod":
            return None
        views.show_resources(ref, False, output)
        return 0
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    except (Exception, KeyboardInterrupt) as e:  # noqa: BLE001 — one line, as under Typer
        return failure(e)
    finally:
        session.close()
