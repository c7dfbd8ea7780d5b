"""`dataos syscall`: the syscall table, and any syscall run with a JSON request."""
from __future__ import annotations

import json
import sys
from typing import Optional

import typer

from syscalls.errors import SyscallError

from userlib.output import Format, render, to_json
from ..session import client


def syscall(name: Optional[str] = typer.Argument(None, help="A syscall name such as auth.whoami."),
            request: Optional[str] = typer.Argument(None, help="The request as JSON, or - to read it from stdin."),
            list_: bool = typer.Option(False, "--list", "-l", help="Print the syscall table."),
            output: Format = typer.Option(Format.table, "--output", "-o", help="For --list: table or json.")) -> None:
    """Run one syscall and print its JSON envelope; the exit code is the errno's."""
    from syscalls.table import TABLE
    if list_ or name is None:
        specs = list(TABLE.values())
        render([s.describe() for s in specs], output, ["name", "summary"], [[s.name, s.summary] for s in specs],
               (s.name for s in specs))
        return
    try:
        text = sys.stdin.read() if request == "-" else (request or "{}")
        try:
            payload = json.loads(text) if text.strip() else {}
        except ValueError as e:
            raise SyscallError("EINVAL", f"the request is not valid JSON: {e}") from None
        spec = TABLE.get(name)
        if spec is not None and spec.binary:
            raise SyscallError("EINVAL", f"{name} streams Arrow data: use `dataos query --out FILE` or the Python "
                               "client", field="name")
        result = client().call(name, payload)
        envelope = {"ok": True, "result": list(result) if spec is not None and spec.stream else result}
        code = 0
    except SyscallError as e:
        envelope, code = {"ok": False, "error": e.to_dict()}, e.exit_code
    print(to_json(envelope))
    raise typer.Exit(code)
