"""`dataos explain TYPE[.field.path]`: a manifest's fields as the kernel validates them (kubectl explain)."""
from __future__ import annotations

import difflib
import textwrap
from typing import Any

import typer

from syscalls.errors import SyscallError
from userlib.output import emit, to_json, to_yaml
from userlib.plurals import singular

from ..session import client
from . import complete


def explain(target: str = typer.Argument(..., metavar="TYPE[.FIELD.PATH]", autocompletion=complete.types,
                                         help="A resource type, then a field path (workflow.workflow.dag, or "
                                              "workflow.dag for the type's section)."),
            recursive: bool = typer.Option(False, "--recursive", help="Every field below, as a tree."),
            output: str | None = typer.Option(None, "--output", "-o", metavar="json|yaml",
                                                 help="The field's schema as JSON or YAML.")) -> None:
    """The fields of a resource type's manifest: types, required ones, what each is for."""
    type_name, _, path = target.partition(".")
    described = client().resource.schema(type=singular(type_name))
    names, node = find(described, path)
    if output is not None:
        if output.lower() not in ("json", "yaml"):
            raise SyscallError("EINVAL", f"--output: {output!r} is not one of json, yaml", field="output")
        emit((to_json if output.lower() == "json" else to_yaml)(node))
        return
    emit(page(described, names, node, recursive))


def find(described: dict[str, Any], path: str) -> tuple[list[str], dict[str, Any]]:
    """The field at `path` (dots; list items are their list's) and its full name; ENOENT naming the
    nearest field. A path may leave out the type's section (`workflow.dag`)."""
    node, names = described["schema"], []
    steps = path.split(".") if path else []
    if steps and steps[0] not in node["fields"] and steps[0] in _fields(node["fields"][described["type"]]):
        steps.insert(0, described["type"])
    for step in steps:
        fields = _fields(node)
        if step in fields:
            node = fields[step]
        elif "values" in _inner(node) and step:
            node = _inner(node)["values"]
        else:
            where = ".".join([described["type"], *names])
            near = difflib.get_close_matches(step, fields, n=1, cutoff=0.5)
            hint = f" (did you mean {near[0]}?)" if near else ""
            known = f"; its fields: {', '.join(fields)}" if fields else f"; {where} has no fields"
            raise SyscallError("ENOENT", f"field {step!r} does not exist in {where}{hint}{known}", field=path)
        names.append(step)
    return names, node


def _inner(node: dict[str, Any]) -> dict[str, Any]:
    """A list's item (of a list of lists …), else the node."""
    while node.get("type") == "list":
        node = node["items"]
    return node


def _fields(node: dict[str, Any]) -> dict[str, Any]:
    return _inner(node).get("fields", {})


def type_label(node: dict[str, Any]) -> str:
    """kubectl's `<[]Object>`, `<string>`, `<map[string]string>`."""
    kind = node.get("type", "any")
    if kind == "list":
        return "[]" + type_label(node["items"])
    if kind == "object":
        return f"map[string]{type_label(node['values'])}" if "values" in node and not node.get("fields") \
            else "Object"
    return kind


def _facts(node: dict[str, Any]) -> list[str]:
    """What a field's schema allows, in words."""
    inner = _inner(node)
    facts = []
    if inner.get("enum"):
        facts.append(f"One of: {', '.join(inner['enum'])}.")
    if inner.get("format"):
        facts.append(f"Format: {inner['format']}.")
    if inner.get("type") == "integer" and ("min" in inner or "max" in inner):
        facts.append(f"From {inner.get('min', '…')} to {inner.get('max', '…')}.")
    if node.get("min"):
        facts.append(f"At least {node['min']} item{'s' if node['min'] > 1 else ''}.")
    if node.get("uniqueBy"):
        facts.append(f"Each item's {node['uniqueBy']} is unique.")
    if inner.get("oneOf"):
        facts.append(f"Give exactly one of: {', '.join(inner['oneOf'])}.")
    if inner.get("freeForm"):
        facts.append("Free-form: its keys are not checked here.")
    return facts


def page(described: dict[str, Any], names: list[str], node: dict[str, Any], recursive: bool) -> str:
    lines = [f"TYPE:      {described['type']}", f"VERSIONS:  {', '.join(described['versions'])}",
             f"LEVEL:     {described['level']}", ""]
    if names:
        required = " -required-" if node.get("required") else ""
        lines += [f"FIELD:     {'.'.join(names)} <{type_label(node)}>{required}", ""]
    description = node.get("description") or (described["summary"] if not names else "")
    lines.append("DESCRIPTION:")
    lines += [f"    {line}" for text in [description, *_facts(node)] if text for line in textwrap.wrap(text, 76)] \
        or ["    <empty>"]
    fields = _fields(node)
    if fields:
        lines += ["", "FIELDS:"]
        lines += _tree(fields, 1) if recursive else _listing(fields)
    return "\n".join(lines)


def _head(name: str, field: dict[str, Any]) -> str:
    return f"{name}\t<{type_label(field)}>{' -required-' if field.get('required') else ''}"


def _listing(fields: dict[str, Any]) -> list[str]:
    out = []
    for name, field in fields.items():
        out.append("  " + _head(name, field))
        text = " ".join([field.get("description", ""), *_facts(field)]).strip() or "<no description>"
        out += [f"    {line}" for line in textwrap.wrap(text, 74)]
        out.append("")
    return out[:-1]


def _tree(fields: dict[str, Any], depth: int) -> list[str]:
    out = []
    for name, field in fields.items():
        out.append("  " * depth + _head(name, field))
        out += _tree(_fields(field), depth + 1)
    return out
