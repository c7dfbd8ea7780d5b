"""Typer/click usage errors (an option typo, a bad value, a missing argument) as one EINVAL line
naming the nearest option or value, like any other error (not Typer's usage box)."""
from __future__ import annotations

import ast
import difflib
import re

from typer._click import exceptions as click  # Typer vendors click; these are not re-exported

from syscalls.errors import SyscallError


def _nearest(word: str, candidates) -> str:
    near = difflib.get_close_matches(word, [str(c) for c in candidates], n=1, cutoff=0.5)
    return f" (did you mean {near[0]}?)" if near else ""


def _shown_path(ctx) -> str:
    """The command line as typed: a group's hidden default command (`query`'s `run`) left out."""
    parent = ctx.parent
    if parent is not None and getattr(parent.command, "default_command", None) == ctx.info_name:
        return parent.command_path
    return ctx.command_path


def usage_error(e: click.UsageError) -> SyscallError:
    """The one-line EINVAL for a usage error raised while parsing a command line."""
    ctx, param = e.ctx, getattr(e, "param", None)
    path = _shown_path(ctx) if ctx else ""
    where = f"`{path} --help`" if ctx else "`--help`"
    if isinstance(e, click.NoSuchOption):
        return SyscallError("EINVAL", f"{e.option_name}: no such option{_nearest(e.option_name, e.possibilities or ())}"
                            f"; {where} lists them", field=e.option_name)
    if isinstance(e, click.MissingParameter) and param is not None:
        kind = param.param_type_name
        label = param.opts[0] if kind == "option" else (param.name or "").upper()
        return SyscallError("EINVAL", f"{path}: missing {kind} {label}; {where} shows its usage",
                            field=param.name)
    choices = getattr(getattr(param, "type", None), "choices", None)
    bad = re.match(r"(.+?) is not ", e.message)
    if choices and bad:
        value = ast.literal_eval(bad.group(1)) if bad.group(1)[:1] in "'\"" else bad.group(1)
        names = [getattr(c, "value", c) for c in choices]
        return SyscallError("EINVAL", f"{param.opts[0]}: {value!r} is not one of {', '.join(map(str, names))}"
                            f"{_nearest(str(value), names)}", field=param.name)
    label = f"{param.opts[0]}: " if param is not None and getattr(param, "opts", None) else ""
    return SyscallError("EINVAL", f"{label}{e.format_message()}; {where} shows its usage",
                        field=getattr(param, "name", None))
