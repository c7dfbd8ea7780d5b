"""What `dataos get` (of resources) and `dataos whoami` print. No Typer here: the Typer commands
and the fast path of `dataos.__main__` call the same functions, so both print the same bytes."""
from __future__ import annotations

import sys
from typing import Any

from userlib.output import Format, age, render
from userlib.plurals import plural

from ..session import client
from .refs import Ref, require


def ref_name(r: dict[str, Any]) -> str:
    return f"{r['type']}/{r['name']}"


def resource_rows(resources: list[dict[str, Any]], wide: bool) -> tuple[list[str], list[list[Any]]]:
    headers = ["name", "version", "type", "workspace", "status", "runtime", "owner", "age"]
    if wide:
        headers += ["generation", "tags", "uid"]
    rows = []
    for r in resources:
        s = r.get("status", {})
        row = [r["name"], r.get("version"), r["type"], r.get("workspace"), s.get("aggregateStatus"),
               s.get("runtime"), r.get("owner"), age(s.get("updated"))]
        if wide:
            row += [s.get("generation"), r.get("tags"), s.get("uid")]
        rows.append(row)
    return headers, rows


def show_resources(ref: Ref, all_workspaces: bool, output: Format) -> None:
    """`get TYPE NAME` (one resource) or `get [TYPE]` (a list; workspace `public` unless given or -A)."""
    if ref.name:
        require(ref, "get")
        resources = [client().resource.get(type=ref.type, name=ref.name, workspace=ref.workspace)]
    else:
        ws = None if all_workspaces else (ref.workspace or "public")
        resources = client().resource.list(type=ref.type, workspace=ws)
    value: Any = resources[0] if ref.name else resources
    headers, rows = resource_rows(resources, output is Format.wide)
    if not resources and output in (Format.table, Format.wide):
        where = "in any workspace" if all_workspaces else f"in workspace {ref.workspace or 'public'}"
        print(f"no {plural(ref.type or 'resource')} found {where}", file=sys.stderr)
        return
    render(value, output, headers, rows, (ref_name(r) for r in resources))


def show_whoami(output: Format) -> None:
    """Who the caller is on the current context: user, type, tags."""
    c = client()
    me = c.auth.whoami()
    value = {**me, "context": c.context, "url": c.url}
    render(value, output, ["user", "type", "tags", "context"], [[me["id"], me["type"], me["tags"], c.context or c.url]],
           [me["id"]])
