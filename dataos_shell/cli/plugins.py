"""`dataos plugins list|info|doctor|new`: installed plugins, what they add, and what is wrong."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from syscalls.errors import SyscallError

from userlib.output import Format, emit, paint, render
from ..session import prog
from .options import OUTPUT

app = typer.Typer(help="Installed plugins: list them, see what one adds, find what is broken, start a new one.",
                  no_args_is_help=True)


def _registry():
    from plugins.loader import registry
    return registry


def _kernel_plugins() -> dict[str, Any]:
    """The kernel-side plugins the kernel reports (empty when it reports none or is unreachable)."""
    try:
        from .. import session
        return {p["name"]: p for p in session.client().kernel.info().get("plugins", [])}
    except Exception:  # noqa: BLE001 — the user-side listing is still useful
        return {}


@app.command("list")
def list_(output: Format = OUTPUT) -> None:
    """Installed plugins (read from package metadata: nothing is imported)."""
    from plugins.loader import disabled
    found = _registry().plugins()
    kernel = _kernel_plugins()
    rows = [[p.name, "user", p.package or "-", p.version or "-", p.value, "disabled" if disabled() else p.state]
            for p in found.values()]
    rows += [[k["name"], "kernel", k.get("package") or "-", k.get("version") or "-", k.get("value", "-"),
              k.get("state", "-")] for k in kernel.values()]
    value = [dict(zip(("name", "side", "package", "version", "entry_point", "state"), r)) for r in rows]
    if not rows and output in (Format.table, Format.wide):
        return emit("no plugins installed (see `dataos plugins new`)")
    render(value, output, ["name", "side", "package", "version", "entry point", "state"], rows,
           [r[0] for r in rows])


@app.command()
def info(name: str = typer.Argument(..., help="A plugin's name (see `dataos plugins list`)."),
         output: Format = OUTPUT) -> None:
    """Load one plugin and show what it adds: commands, palette entries, screens, output formats."""
    registry = _registry()
    plugin = registry.plugins().get(name)
    kernel_side = _kernel_plugins()
    kernel = kernel_side.get(name)
    if plugin is None and kernel is None:
        known = ", ".join(sorted({*registry.plugins(), *kernel_side})) or "none installed"
        raise SyscallError("ENOENT", f"no plugin {name!r} (installed: {known})")
    value: dict[str, Any] = {"name": name}
    if plugin is not None:
        from .app import plugin_commands
        plugin_commands()  # load every plugin once, so clashes are known
        added = plugin.added
        value |= {"package": plugin.package, "version": plugin.version, "entry_point": plugin.value,
                  "state": plugin.state, "error": plugin.error or None,
                  "commands": {n: _help(n) for n in added.commands},
                  "palette": [t for t, _, _ in added.palette], "screens": {n: t for n, (t, _) in added.screens.items()},
                  "formats": {n: h for n, (h, _) in added.formats.items()}}
    if kernel is not None:
        value["kernel"] = {k: v for k, v in kernel.items() if k != "name"}
    if output in (Format.json, Format.yaml):
        return render(value, output)
    lines = [f"{k + ':':<13}{v}" for k, v in value.items() if isinstance(v, str) and v]
    for section in ("commands", "palette", "screens", "formats"):
        items = value.get(section) or {}
        if items:
            lines.append(f"{section}:")
            lines += [f"  {k:<20} {v}" for k, v in items.items()] if isinstance(items, dict) else \
                [f"  {k}" for k in items]
    if kernel:
        lines.append("kernel side:")
        lines += [f"  {k:<11}{v}" for k, v in value["kernel"].items() if v]
    emit("\n".join(lines))


def _help(name: str) -> str:
    from .app import plugin_commands
    command = plugin_commands().get(name)
    return command.get_short_help_str(limit=80) if command is not None else "(not added: see doctor)"


@app.command()
def doctor() -> None:
    """Load every plugin and report each one's state, with the traceback of any that failed.
    Exits 1 when something is wrong."""
    from plugins.loader import disabled
    from .app import plugin_commands
    if disabled():
        emit("plugins are turned off (--no-plugins or DATAOS_NO_PLUGINS)")
        return
    registry = _registry()
    plugin_commands()
    lines, bad = [], False
    for p in registry.plugins().values():
        ok = p.state == "loaded" and not p.error
        bad |= not ok
        mark = paint("ok", "green") if ok else paint("FAILED" if p.state == "failed" else "PROBLEM", "red")
        lines.append(f"{mark:<6} {p.name} ({p.package or p.value} {p.version}) {', '.join(p.added.names())}".rstrip())
        if p.error:
            lines.append(f"       {p.error}")
        if p.details:
            lines += ["       " + line for line in p.details.rstrip().splitlines()]
    for k in _kernel_plugins().values():
        ok = k.get("state") == "loaded"
        bad |= not ok
        lines.append(f"{paint('ok', 'green') if ok else paint('FAILED', 'red'):<6} {k['name']} (kernel side) "
                     f"{', '.join(k.get('adds', []))}".rstrip())
        if k.get("error"):
            lines.append(f"       {k['error']}")
    for problem in registry.problems:
        if not any(problem in line for line in lines):
            lines.append(f"{paint('PROBLEM', 'red')} {problem}")
            bad = True
    emit("\n".join(lines) or "no plugins installed")
    if bad:
        raise typer.Exit(1)


@app.command()
def new(name: str = typer.Argument(..., help="The plugin's name: its command, and the package dataos-NAME."),
        directory: Path = typer.Option(Path("."), "--dir", "-d", help="Where to write dataos-NAME/.")) -> None:
    """Write a plugin package skeleton: `pip install ./dataos-NAME` and `dataos NAME` works."""
    from plugins.template import write
    if not directory.is_dir():
        raise SyscallError("ENOENT", f"no directory {directory}")
    root = write(name, directory)
    import shlex
    import sys
    where = str(root) if root.is_absolute() else f"./{root}"  # a bare name would be looked up on PyPI
    emit(f"wrote {root}/\nnext: {shlex.quote(sys.executable)} -m pip install {shlex.quote(where)}"
         f"  &&  {prog()} {name}")
