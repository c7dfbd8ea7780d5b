"""The data as files: `mount` (depots), `ls`, `cd` and `pwd` over dataos:// paths, and `cat` and
`head` (governed previews: SQL through the Gateway, like any query)."""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from syscalls.errors import SyscallError

from userlib.output import columns, emit, paint, table
from . import sql
from .paths import Where, parse, resolve

if TYPE_CHECKING:
    from .commands import Shell

DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}


def mount(shell: "Shell", args: list[str]) -> None:
    """Depots and where they point: name, type, target (a path, or host:port/database), queryable."""
    _no_args("mount", args)
    emit(table(["name", "type", "target", "queryable"], _depot_rows(shell)))


def _depot_rows(shell: "Shell") -> list[list[Any]]:
    rows = []
    for depot in shell.client.resource.list(type="depot"):
        spec = depot.get("depot") or {}
        kind = spec.get("type", "?")
        conn = spec.get(kind) or {}
        target = conn.get("path") or (f"{conn.get('host', '127.0.0.1')}:{conn.get('port', DEFAULT_PORTS.get(kind))}"
                                      f"/{conn.get('database', '')}")
        status = depot.get("status") or {}
        rows.append([depot["name"], kind, target, status.get("aggregateStatus") == "active"])
    return rows


def ls(shell: "Shell", args: list[str]) -> None:
    """List depots (at dataos://), a depot's collections, or a collection's datasets: ls [-l] [PATH].

    -l: depots as `mount` shows them; collections with their number of datasets; datasets with
    rows, size, format, owner and tags (from the catalog)."""
    long = "-l" in args
    rest = [a for a in args if a != "-l"]
    if any(a.startswith("-") for a in rest) or len(rest) > 1:
        raise SyscallError("EINVAL", "usage: ls [-l] [PATH]", field="args")
    where = resolve(shell.state.cwd, rest[0]) if rest else parse(shell.state.cwd)
    if where.level == 0:
        rows = _depot_rows(shell)
        if long:
            emit(table(["name", "type", "target", "queryable"], rows))
        else:
            _names([r[0] for r in rows], directories=True)
        return
    if where.level == 3:
        entries = [e for e in shell.client.dataset.list(address=str(where.parent())) if e["name"] == where.dataset]
        if not entries:
            raise SyscallError("ENOENT", f"ls: no dataset {where} (or not one you may read)")
    else:
        entries = shell.client.dataset.list(address=str(where))
    if where.level == 1:
        if long:
            emit(table(["name", "datasets"], [[e["name"], e["datasets"]] for e in entries]))
        else:
            _names([e["name"] for e in entries], directories=True)
    elif long:
        emit(table(["name", "rows", "size", "format", "owner", "tags"],
                   [[e["name"], None if e["rows"] is None else f"{e['rows']:,}", _size(e["bytes"]), e["format"],
                     e["owner"], e["tags"]] for e in entries]))
    else:
        _names([e["name"] for e in entries], directories=False)


def _names(names: list[str], directories: bool) -> None:
    """One name a line, or — on a terminal — in columns, like ls."""
    if not names:
        return
    if not sys.stdout.isatty():
        emit("\n".join(names))
        return
    width = max(map(len, names)) + 2
    per_line = max(1, (columns() or 80) // width)
    lines = -(-len(names) // per_line)
    style = "blue" if directories else "bold"
    emit("\n".join("".join(paint(names[i], style) + " " * (width - len(names[i]))
                           for i in range(row, len(names), lines)).rstrip() for row in range(lines)))


def _size(size: int | None) -> str | None:
    if size is None:
        return None
    value = float(size)
    for unit in ("B", "K", "M", "G", "T"):
        if value < 1024 or unit == "T":
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1024
    return None


def cd(shell: "Shell", args: list[str]) -> None:
    """Change the current directory: cd [PATH] (alone or /: the root, dataos://).

    PATH: dataos://depot[:collection], depot, depot:collection, a collection within the current
    depot, .., or /depot/collection. SQL resolves unqualified names in the current directory."""
    if len(args) > 1:
        raise SyscallError("EINVAL", "usage: cd [PATH]", field="args")
    where = resolve(shell.state.cwd, args[0]) if args else Where()
    if where.level >= 2:
        known = [e["name"] for e in shell.client.dataset.list(address=str(where.parent()))]
        name = where.dataset or where.collection
        if name not in known:
            raise SyscallError("ENOENT", f"cd: {where}: not found (or nothing there you may read)")
        if where.dataset:
            raise SyscallError("EINVAL", f"cd: {where} is a dataset (try: head {where.dataset})", field="path")
    elif where.level == 1:
        shell.client.dataset.list(address=str(where))  # ENOENT when there is no such depot
    shell.state.cwd = where.cwd


def pwd(shell: "Shell", args: list[str]) -> None:
    """Print the current directory (a dataos:// address)."""
    _no_args("pwd", args)
    print(parse(shell.state.cwd))


def cat(shell: "Shell", args: list[str]) -> int:
    """Show a dataset's rows (the first 1000): cat DATASET… (governed: masks and filters apply).

    DATASET: a name in the current collection, collection/dataset in the current depot, a
    dataos:// address, or depot.collection.dataset."""
    if not args:
        raise SyscallError("EINVAL", "usage: cat DATASET…", field="args")
    return max(_preview(shell, name, sql.LIMIT) for name in args)


def head(shell: "Shell", args: list[str]) -> int:
    """Show a dataset's first rows: head [-n N] DATASET… (10 by default; governed, like cat)."""
    count, names = 10, []
    it = iter(args)
    for arg in it:
        option = arg[2:] if arg.startswith("-n") else arg[1:] if arg[:1] == "-" else None
        if option is None:
            names.append(arg)
            continue
        try:
            count = int(option or next(it))
        except (ValueError, StopIteration):
            raise SyscallError("EINVAL", "usage: head [-n N] DATASET…", field="n") from None
    if not names or count < 0:
        raise SyscallError("EINVAL", "usage: head [-n N] DATASET…", field="args")
    return max(_preview(shell, name, count) for name in names)


def _preview(shell: "Shell", name: str, limit: int) -> int:
    where = resolve(shell.state.cwd, name)
    if where.level != 3:
        raise SyscallError("EINVAL", f"{name}: {where} is not a dataset", field="dataset")
    return sql.run(shell, f"SELECT * FROM {where.sql} LIMIT {limit}")


def _no_args(name: str, args: list[str]) -> None:
    if args:
        raise SyscallError("EINVAL", f"{name} takes no arguments", field="args")
