"""`dataos kernel start|stop|status|logs`: the local kernel daemon."""
from __future__ import annotations

import time
from collections import deque
from typing import Optional

import typer

from syscalls.daemon import LocalKernel

from syscalls import connect
from syscalls.errors import SyscallError

from .. import demo
from userlib.output import Format, emit, notice, render
from .options import OUTPUT

app = typer.Typer(help="The local kernel daemon (started on demand by any command that needs it).",
                  no_args_is_help=True)


@app.command()
def start(cloud: Optional[str] = typer.Option(None, "--cloud", help="Where workloads run: local (processes) or "
                                              "kubernetes. Remembered for later starts."),
          kubeconfig: Optional[str] = typer.Option(None, "--kubeconfig", help="With --cloud kubernetes."),
          kube_context: Optional[str] = typer.Option(None, "--kube-context", help="With --cloud kubernetes."),
          namespace_prefix: Optional[str] = typer.Option(None, "--namespace-prefix",
                                                         help="With --cloud kubernetes: prefix of namespaces."),
          database: Optional[str] = typer.Option(None, "--database", help="postgresql://…: keep the services' "
                                                 "state in PostgreSQL (local: SQLite files in the state directory). "
                                                 "Remembered for later starts; also: DATAOS_DATABASE."),
          no_demo: bool = typer.Option(False, "--no-demo", help="Do not install the demo lakehouse on the first "
                                       "start of a new kernel (also: DATAOS_NO_DEMO=1).")) -> None:
    """Start the local kernel if it is not running; its first start installs the demo lakehouse."""
    local = LocalKernel()
    options = [flag for name, value in (("--cloud", cloud), ("--kubeconfig", kubeconfig),
                                        ("--kube-context", kube_context), ("--namespace-prefix", namespace_prefix))
               if value for flag in (name, value)]
    before = local.health()
    if before and (options or database):
        raise SyscallError("EINVAL", "the kernel is running: `dataos kernel stop` first to change its "
                           + ("cloud" if options else "database"))
    first = not before and not no_demo and demo.wanted() and demo.new_state(local.locations)
    notices: list[str] = []
    health = before or local.start(options, notices=notices, env={"DATAOS_DATABASE": database} if database else None)
    for line in notices:  # e.g. a file at the socket path, moved aside
        notice(line)
    with connect("local://") as c:  # a new kernel hands its first operator token over: store it now
        state = "already running" if before else "started"
        where = c.kernel.info().get("database", "sqlite")
        emit(f"kernel {state} (pid {health['pid']}, version {health['version']}, socket {local.locations.socket}"
             + (f", database {where})" if where != "sqlite" else ")"))
        if first:
            demo.first_start(c, "local://")


@app.command()
def stop() -> None:
    """Stop the local kernel (its workloads keep running)."""
    pid = LocalKernel().stop()
    emit(f"kernel stopped (pid {pid})" if pid else "kernel is not running")


@app.command()
def status(output: Format = OUTPUT) -> None:
    """Is the local kernel running? Its pid, version, socket, state and log."""
    local = LocalKernel()
    health = local.health()
    loc = local.locations
    info = {"running": health is not None, "pid": health and health["pid"], "version": health and health["version"],
            "started": health and health["started"], "socket": str(loc.socket), "state": str(loc.state),
            "log": str(loc.kernel_log)}
    render(info, output, ["status", "pid", "version", "started", "socket"],
           [["running" if health else "stopped", info["pid"], info["version"], info["started"], info["socket"]]],
           ["running" if health else "stopped"])
    if health is None:
        raise typer.Exit(7)


@app.command()
def logs(follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines."),
         tail: int = typer.Option(50, "--tail", help="Lines from the end to start with (-1: all).")) -> None:
    """The local kernel's log."""
    path = LocalKernel().locations.kernel_log
    if not path.exists():
        emit(f"no kernel log yet ({path})")
        return
    with open(path, errors="replace") as f:
        lines = f.readlines() if tail < 0 else deque(f, maxlen=tail)
        typer.echo("".join(lines), nl=False)
        while follow:
            line = f.readline()
            if line:
                typer.echo(line, nl=False)
            else:
                time.sleep(0.2)
