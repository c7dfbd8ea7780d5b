"""Pods and queries as processes: `ps`, `kill`, and a live `top`."""
from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING

from syscalls.errors import SyscallError

from userlib.output import age, emit, paint, table

if TYPE_CHECKING:
    from .commands import Shell

LIVE = ("Pending", "Running", "Unknown")
PHASE_STYLE = {"Running": "green", "Failed": "red", "Pending": "yellow", "Unknown": "yellow"}
REFRESH = 2.0  # seconds between two frames of `top`


def ps(shell: "Shell", args: list[str]) -> None:
    """Pods and running queries: kind, name or id, phase, age or elapsed, resource or SQL.

    ps -a: finished pods too."""
    if args not in ([], ["-a"]):
        raise SyscallError("EINVAL", "usage: ps [-a]", field="args")
    rows = [["pod", p["name"], paint(p["phase"], PHASE_STYLE.get(p["phase"], "dim")), age(p["created"]),
             p["resource"] or "-"]
            for p in shell.client.pod.list() if args or p["phase"] in LIVE]
    rows += [["query", q["id"], paint("Running", "green"), f"{q['elapsed_ms'] / 1000:.1f}s",
              " ".join(q["sql"].split())[:80]] for q in shell.client.query.list()]
    if rows:
        emit(table(["kind", "name/id", "phase", "age/elapsed", "resource/sql"], rows))
    else:
        print("no pods or queries running", file=sys.stderr)


def kill(shell: "Shell", args: list[str]) -> None:
    """Stop a pod, or cancel a running query: kill NAME|QUERY_ID… (a unique prefix of an id will do)."""
    if not args:
        raise SyscallError("EINVAL", "usage: kill NAME|QUERY_ID…", field="args")
    client = shell.client
    for target in args:
        try:
            client.pod.kill(name=target)
            print(f"pod {target} killed")
            continue
        except SyscallError as e:
            if e.code != "ENOENT":
                raise
        ids = [q["id"] for q in client.query.list() if q["id"].startswith(target)]
        if len(ids) != 1:
            raise SyscallError("ENOENT", f"kill: no pod or running query {target!r}"
                               + (" (the prefix is not unique)" if ids else ""))
        client.query.cancel(id=ids[0])
        print(f"query {ids[0]} cancelled")


def top(shell: "Shell", args: list[str]) -> int:
    """Pods by phase and the busiest resources (`dataos top`), redrawn every 2 s until a key is pressed.

    With options (top -o json), or without a terminal: printed once."""
    from ..cli.app import invoke
    if args or not (sys.stdin.isatty() and sys.stdout.isatty()):
        return invoke(["top", *args])
    import select
    import termios
    import tty
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    pager = os.environ.get("DATAOS_NO_PAGER")
    os.environ["DATAOS_NO_PAGER"] = "1"
    try:
        tty.setcbreak(fd)
        while True:
            sys.stdout.write("\x1b[H\x1b[2J")
            code = invoke(["top"])
            print(paint(f"\n{time.strftime('%H:%M:%S')} · every {REFRESH:.0f} s · any key stops", "dim"), flush=True)
            if code:
                return 0 if code == 130 else code
            if select.select([fd], [], [], REFRESH)[0]:
                os.read(fd, 1024)
                return 0
    except KeyboardInterrupt:
        return 0
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        if pager is None:
            os.environ.pop("DATAOS_NO_PAGER", None)
        else:
            os.environ["DATAOS_NO_PAGER"] = pager
