"""Resource identifiers in every form users type them, merged into one `Ref` (no Typer here:
the fast path of `dataos get` uses them too; `identifiers` holds the options that spell them).

kubectl form `get workflow NAME -w public` (or `workflow/NAME`), and dataos-ctl's `-t TYPE -n
NAME -w WS`, `-i "NAME | v1 | TYPE | WS"` and `--id TYPE:v1:NAME:WS`.
"""
from __future__ import annotations

from dataclasses import dataclass

from syscalls.errors import SyscallError
from userlib.plurals import singular


@dataclass(frozen=True)
class Ref:
    type: str | None
    name: str | None
    workspace: str | None


def resolve(kind: str | None = None, name: str | None = None, *, type_opt: str | None = None,
            name_opt: str | None = None, workspace: str | None = None, ident: str | None = None,
            id_: str | None = None) -> Ref:
    """Merge the identifier forms; conflicting parts are an EINVAL naming both."""
    parts: dict[str, tuple[str, str]] = {}

    def put(key: str, value: str | None, source: str) -> None:
        if value in (None, ""):
            return
        value = value.strip()
        if key in parts and parts[key][0] != value:
            raise SyscallError("EINVAL", f"the {key} is given twice and differs: {parts[key][0]!r} "
                               f"({parts[key][1]}) and {value!r} ({source})", field=key)
        parts[key] = (value, source)

    if kind and "/" in kind:
        kind, _, slash_name = kind.partition("/")
        put("name", slash_name, "TYPE/NAME")
    put("type", kind, "TYPE argument")
    put("name", name, "NAME argument")
    put("type", type_opt, "-t")
    put("name", name_opt, "-n")
    put("workspace", workspace, "-w")
    if ident:
        fields = [f.strip() for f in ident.split("|")]
        if len(fields) not in (3, 4) or not all(fields[:3]):
            raise SyscallError("EINVAL", f'-i: {ident!r} is not "NAME | VERSION | TYPE | WORKSPACE"', field="-i")
        put("name", fields[0], "-i")
        put("type", fields[2], "-i")
        put("workspace", fields[3] if len(fields) == 4 else None, "-i")
    if id_:
        fields = id_.split(":")
        if len(fields) not in (3, 4) or not all(fields[:3]):
            raise SyscallError("EINVAL", f"--id: {id_!r} is not TYPE:VERSION:NAME[:WORKSPACE]", field="--id")
        put("type", fields[0], "--id")
        put("name", fields[2], "--id")
        put("workspace", fields[3] if len(fields) == 4 else None, "--id")
    get = lambda key: parts[key][0] if key in parts else None
    type_name = get("type")
    return Ref(singular(type_name) if type_name else None, get("name"), get("workspace"))


def require(ref: Ref, what: str) -> Ref:
    if not ref.type:
        raise SyscallError("EINVAL", f"{what}: give a resource type (e.g. `dataos {what} workflow NAME`)",
                           field="type")
    if not ref.name:
        raise SyscallError("EINVAL", f"{what}: give the name of the {ref.type}", field="name")
    return ref
