"""Options shared by many commands."""
from __future__ import annotations

import difflib

import typer
from typer._click.types import ParamType  # Typer vendors click

from syscalls.errors import SyscallError
from userlib.output import Format

OUTPUT = typer.Option(Format.table, "--output", "-o", help="table, wide, json, yaml or name.",
                      case_sensitive=False)
WORKSPACE = typer.Option(None, "--workspace", "-w", help="Workspace of workspace-level resources [default: public].")

TEMPLATED = ("jsonpath=TEMPLATE", "custom-columns=HEADER:.path,…")
"""The output formats of `get` that take a template, beside those of `Format`."""


def output_format(value: str):
    """`-o` of `get`: a Format, or a compiled jsonpath / custom-columns template. A bad one is one
    EINVAL line naming the valid formats."""
    from .templates import CustomColumns, JsonPath
    kind, eq, template = value.partition("=")
    if eq and kind.lower() in ("jsonpath", "custom-columns"):
        return JsonPath.parse(template) if kind.lower() == "jsonpath" else CustomColumns.parse(template)
    try:
        return Format(value.lower())
    except ValueError:
        pass
    names = [f.value for f in Format] + [t.partition("=")[0] for t in TEMPLATED]
    near = difflib.get_close_matches(kind.lower(), names, n=1, cutoff=0.5)
    hint = f" (did you mean {near[0]}?)" if near else ""
    if kind.lower() in names[len(Format):]:
        raise SyscallError("EINVAL", f"--output: {value} needs a template: "
                           f"{next(t for t in TEMPLATED if t.startswith(kind.lower()))}", field="output")
    raise SyscallError("EINVAL", f"--output: {value!r} is not one of {', '.join(f.value for f in Format)}{hint} "
                       f"or {', '.join(TEMPLATED)}", field="output")


def _formats(incomplete: str) -> list[str]:
    return [f for f in [*(f.value for f in Format), "jsonpath=", "custom-columns="] if f.startswith(incomplete)]


class _OutputType(ParamType):
    """`output_format` as a click type: `choices` are the plain formats (what the shell completes)."""
    name = "format"
    choices = tuple(f.value for f in Format)

    def convert(self, value, param, ctx):
        return value if not isinstance(value, str) else output_format(value)


GET_OUTPUT = typer.Option("table", "--output", "-o", click_type=_OutputType(), metavar="FORMAT",
                          autocompletion=_formats,
                          help=f"table, wide, json, yaml, name, {', '.join(TEMPLATED)} (kubectl's).")
SELECTOR = typer.Option(None, "--selector", "-l", metavar="TAG[,TAG…]",
                        help="Only resources with these tags: repeat or comma-separate (all must match); "
                             "!TAG: without it.")
WATCH = typer.Option(False, "--watch", help="After the list, a line per change (Ctrl-C ends).")
