"""`get -l TAG`, `get -o jsonpath=…|custom-columns=…` and `get --watch`: which resources, how they
print, and a line per change after the list (kubectl's `get -w`)."""
from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any

from syscalls.errors import SyscallError
from userlib.output import Format, emit, render, table, to_json, to_yaml
from userlib.plurals import plural

from ..session import client
from .refs import Ref, require
from .templates import CustomColumns, JsonPath
from .views import ref_name, resource_rows


def tag_selector(values: Iterable[str] | None) -> tuple[str, ...]:
    """`-l a,b -l !c` → ("a", "b", "!c"): tags a resource must all have (`!TAG`: must not have)."""
    tags = tuple(t.strip() for value in values or () for t in value.split(","))
    bad = next((t for t in tags if t.lstrip("!") == ""), None)
    if bad is not None:
        raise SyscallError("EINVAL", f"-l: an empty tag in {','.join(tags)!r} (e.g. -l retail,!deprecated)",
                           field="selector")
    return tags


def selected(resource: dict[str, Any], tags: tuple[str, ...]) -> bool:
    has = set(resource.get("tags") or ())
    return all((t[1:] not in has) if t.startswith("!") else (t in has) for t in tags)


def listed(items: list[dict[str, Any]]) -> dict[str, Any]:
    """A list as kubectl hands it to a jsonpath template: `{.items[*].name}`."""
    return {"kind": "List", "items": items}


def print_templated(output: JsonPath | CustomColumns, value: Any, items: list[dict[str, Any]]) -> None:
    """`value` through a jsonpath template (printed as it is, no newline added, as kubectl does), or
    `items` as custom columns."""
    if isinstance(output, JsonPath):
        sys.stdout.write(output.render(value))
        sys.stdout.flush()
    else:
        emit(table(output.headers, [output.row(i) for i in items], upper=False))


def show(ref: Ref, all_workspaces: bool, output: Any, tags: tuple[str, ...], watch: bool) -> None:
    """`get` with a tag selector, a template or --watch."""
    if ref.name and tags:
        raise SyscallError("EINVAL", "get: give a name or -l, not both", field="selector")
    ws = None if all_workspaces else (ref.workspace or "public")
    if ref.name:
        require(ref, "get")
        resources = [client().resource.get(type=ref.type, name=ref.name, workspace=ref.workspace)]
    else:
        resources = [r for r in client().resource.list(type=ref.type, workspace=ws) if selected(r, tags)]
    tabular = _columns(output) is not None
    if not resources and tabular:
        where = "in any workspace" if all_workspaces else f"in workspace {ref.workspace or 'public'}"
        wanted = f" tagged {','.join(tags)}" if tags else ""
        print(f"no {plural(ref.type or 'resource')}{wanted} found {where}", file=sys.stderr)
    if watch:
        _Watch(output, resources).follow(ref, ws, tags)
    elif resources or not tabular:
        value: Any = resources[0] if ref.name else resources
        if isinstance(output, Format):
            render(value, output, *resource_rows(resources, output is Format.wide), (ref_name(r) for r in resources))
        else:
            print_templated(output, value if ref.name else listed(resources), resources)


class _Watch:
    """The list, then one line (or object) per change; a table keeps the columns of its first rows."""

    def __init__(self, output: Any, resources: list[dict[str, Any]]) -> None:
        self.output = output
        self.headers = _columns(output)  # None: a format of one object at a time
        self.shown = {_uid(r): _state(r) for r in resources}
        self.first: list[list[Any]] = []  # the rows the table's columns are sized by
        if self.headers is not None and resources:
            self.first = [self._cells(r) for r in resources]
            self._write(self._table(self.first))
        else:
            for r in resources:
                self._write(self._text(r))

    def follow(self, ref: Ref, workspace: str | None, tags: tuple[str, ...]) -> None:
        for r in client().resource.watch(type=ref.type, workspace=workspace):
            if (ref.name and r["name"] != ref.name) or not selected(r, tags) or self.shown.get(_uid(r)) == _state(r):
                continue
            self.shown[_uid(r)] = _state(r)
            self._write(self._text(r))

    def _cells(self, r: dict[str, Any]) -> list[Any]:
        if isinstance(self.output, CustomColumns):
            return self.output.row(r)
        return resource_rows([r], self.output is Format.wide)[1][0]

    def _table(self, rows: list[list[Any]]) -> str:
        return table(self.headers or (), rows, upper=not isinstance(self.output, CustomColumns))

    def _text(self, r: dict[str, Any]) -> str:
        if self.headers is None:
            return _one(self.output, r)
        if not self.first:  # nothing was listed: this row heads the table
            self.first = [self._cells(r)]
            return self._table(self.first)
        return self._table([*self.first, self._cells(r)]).splitlines()[-1]

    def _write(self, text: str) -> None:
        sys.stdout.write(text if isinstance(self.output, JsonPath) else text + "\n")
        sys.stdout.flush()


def _columns(output: Any) -> tuple[str, ...] | None:
    """The headers of a table format (custom columns too); None for the others."""
    if isinstance(output, CustomColumns):
        return output.headers
    if output in (Format.table, Format.wide):
        return tuple(resource_rows([], output is Format.wide)[0])
    return None


def _one(output: Any, r: dict[str, Any]) -> str:
    """One resource in a format of one object at a time: jsonpath, json (NDJSON), yaml, name."""
    if isinstance(output, JsonPath):
        return output.render(r)
    if output is Format.json:
        return json.dumps(r, ensure_ascii=False)
    if output is Format.yaml:
        return "---\n" + to_yaml(r).rstrip("\n")
    return ref_name(r)


def _uid(r: dict[str, Any]) -> str:
    return r.get("status", {}).get("uid") or ref_name(r)


def _state(r: dict[str, Any]) -> str:
    return to_json(r)
