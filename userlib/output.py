"""Printing results the kubectl way: table, wide, json, yaml, name; a pager for long output;
errors as one line with their errno code; colour only on a terminal and never with NO_COLOR."""
from __future__ import annotations

import json
import os
import re
import shutil
import sys
import unicodedata
from datetime import datetime, timezone
from enum import Enum
from typing import Any, Iterable, Sequence

from syscalls.errors import SyscallError, disk_full


class Format(str, Enum):
    table = "table"
    wide = "wide"
    json = "json"
    yaml = "yaml"
    name = "name"


def color_enabled(stream=sys.stdout) -> bool:
    return stream.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def paint(text: str, style: str, stream=sys.stdout) -> str:
    codes = {"red": "31", "green": "32", "yellow": "33", "blue": "34", "dim": "2", "bold": "1"}
    return f"\x1b[{codes[style]}m{text}\x1b[0m" if color_enabled(stream) else text


def to_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def to_yaml(value: Any) -> str:
    """YAML as a person writes it: keys in order, and multi-line strings as block scalars (`|`)."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
        style = "|" if "\n" in data else None  # (the emitter falls back where a block cannot hold it)
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)

    Dumper.add_representer(str, text)
    dump = lambda v: yaml.dump(v, Dumper=Dumper, sort_keys=False, allow_unicode=True)  # noqa: E731
    return "---\n".join(dump(v) for v in value) if isinstance(value, list) else dump(value)


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def visible_width(text: str) -> int:
    """The columns a terminal draws `text` in: colour codes take none, wide (CJK) characters two."""
    text = _ANSI.sub("", text)
    if text.isascii():
        return len(text)
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
               for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - visible_width(text))


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], upper: bool = True) -> str:
    """Plain aligned columns, like kubectl: no borders, nothing wrapped (headers upper-cased,
    unless they are data, such as a query's column names). Painted cells line up too."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([visible_width(h), *(visible_width(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    lines = ["   ".join(_pad(h.upper() if upper else h, w) for h, w in zip(headers, widths)).rstrip()]
    lines += ["   ".join(_pad(c, w) for c, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join(lines)


def records(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """One block per row, `-[ RECORD n ]-` then `name | value` lines: psql's expanded display."""
    width = max(map(len, headers), default=0)
    blocks = [[f"{h.ljust(width)} | {_cell(v)}" for h, v in zip(headers, row)] for row in rows]
    rule = max((len(line) for lines in blocks for line in lines), default=0) - width - 2
    return "\n".join("\n".join([f"-[ RECORD {n} ]".ljust(width + 1, "-") + "+" + "-" * max(1, rule), *lines])
                     for n, lines in enumerate(blocks, 1))


def columns() -> int | None:
    """The terminal's width; None when stdout is not a terminal."""
    return shutil.get_terminal_size().columns if sys.stdout.isatty() else None


def fitted(headers: Sequence[str], rows: Sequence[Sequence[Any]], columns: int | None) -> str:
    """A table of data (headers as given), or records when it is wider than `columns`."""
    text = table(headers, rows, upper=False)
    if columns and max(map(len, text.splitlines())) > columns:
        return records(headers, rows)
    return text


def _cell(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value))
    return str(value)


def counted(n: int, noun: str) -> str:
    """`1 row`, `1,200 rows`: a count and its noun, singular for one."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def short(text: Any, width: int = 50) -> str:
    """One line of at most `width` characters (an ellipsis marks a cut)."""
    text = " ".join(str(text if text is not None else "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def shown_column_tags(tags_aspect: dict[str, Any] | None) -> dict[str, list[tuple[str, str | None]]]:
    """A catalog entry's column tags as (tag, where it came from): None for its own, the source
    column's address for one propagated along lineage."""
    tags = tags_aspect or {}
    out: dict[str, list[tuple[str, str | None]]] = {c: [(t, None) for t in ts] for c, ts in tags.get("columns", {}).items()}
    for column, found in (tags.get("propagated") or {}).items():
        own = {t for t, _ in out.get(column, [])}
        out.setdefault(column, []).extend((t, source) for t, source in sorted(found.items()) if t not in own)
    return out


def sql_address(urn: str) -> str:
    """dataos://depot:collection/dataset[#column] as SQL names it: depot.collection.dataset[.column]."""
    return urn.removeprefix("dataos://").replace(":", ".", 1).replace("/", ".", 1).replace("#", ".", 1)


def distinct_exact(profile: dict[str, Any] | None) -> bool:
    """Whether a profile aspect's distinct counts are exact (else HyperLogLog estimates)."""
    return (profile or {}).get("distinct") == "exact"


def distinct_text(count: int | None, exact: bool) -> str:
    """`1,000` when counted, `~1,000` when estimated, empty when unknown."""
    return "" if count is None else f"{'' if exact else '~'}{count:,}"


def profile_summary(stats: dict[str, Any] | None, width: int = 16, exact: bool = False) -> str:
    """A column profile in one line: null %, distinct (`~` when estimated), min…max."""
    if not stats:
        return ""
    parts = []
    if stats.get("null_pct") is not None:
        parts.append(f"{stats['null_pct']:.0f}% null")
    if stats.get("distinct") is not None:
        parts.append(f"{distinct_text(stats['distinct'], exact)} distinct")
    if stats.get("min") is not None:
        parts.append(f"{short(stats['min'], width)}…{short(stats.get('max'), width)}")
    return ", ".join(parts)


def age(when: str | None) -> str:
    """`2026-11-24T08:00:00Z` → `5m`, the kubectl way."""
    if not when:
        return "-"
    seconds = (datetime.now(timezone.utc) - datetime.fromisoformat(when.replace("Z", "+00:00"))).total_seconds()
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def emit(text: str) -> None:
    """Print, through a pager when a terminal would overflow ($PAGER, else less -FRX)."""
    if not text.endswith("\n"):
        text += "\n"
    if sys.stdout.isatty() and not os.environ.get("DATAOS_NO_PAGER"):
        height = shutil.get_terminal_size((80, 24)).lines
        if text.count("\n") > height - 1:
            pager = os.environ.get("PAGER") or ("less -FRX" if shutil.which("less") else "")
            if pager:
                import subprocess  # only here: ~4 ms of every command's start
                try:
                    subprocess.run(pager, shell=True, input=text.encode(), check=False)
                    return
                except OSError:
                    pass
    sys.stdout.write(text)
    sys.stdout.flush()


def render(value: Any, fmt: Format, headers: Sequence[str] = (), rows: Iterable[Sequence[Any]] = (),
           names: Iterable[str] = ()) -> None:
    """One result in the chosen format; table/wide use the given headers and rows."""
    if fmt is Format.json:
        emit(to_json(value))
    elif fmt is Format.yaml:
        emit(to_yaml(value))
    elif fmt is Format.name:
        emit("\n".join(names))
    else:
        emit(table(headers, rows))


def error_line(e: SyscallError) -> str:
    return f"{paint('error', 'red', sys.stderr)}: {e.code}: {e.message}"


def failure(e: Exception | KeyboardInterrupt) -> int:
    """A failed command's exit code, after its one error line (a bug's traceback only with DATAOS_DEBUG)."""
    if isinstance(e, KeyboardInterrupt):
        print(file=sys.stderr)
        return 130
    if not isinstance(e, SyscallError) and (full := disk_full(e)) is not None:  # e.g. `query --out`
        e = full
    if not isinstance(e, SyscallError):
        if os.environ.get("DATAOS_DEBUG"):
            raise e
        e = SyscallError("EIO", f"internal error: {type(e).__name__}: {e} (set DATAOS_DEBUG=1 for the traceback)")
    elif e.code == "EAUTH" and "dataos login" not in e.message:
        e.message += " (run `dataos login`, or set DATAOS_TOKEN)"
    print(error_line(e), file=sys.stderr)
    return e.exit_code


def notice(text: str) -> None:
    print(paint(text, "dim", sys.stderr), file=sys.stderr)


def warn(text: str) -> None:
    print(f"{paint('warning', 'yellow', sys.stderr)}: {text}", file=sys.stderr)


_CONTROLS = {c: f"^{chr(c + 64)}" for c in range(32) if chr(c) not in "\t\n"} | {127: "^?"} | \
    {c: f"\\x{c:02x}" for c in range(0x80, 0xA0)}


def terminal_safe(text: str) -> str:
    """`text` with its control characters made visible (^[ for ESC …), for a terminal: what a pod
    or a dataset holds must not drive the user's terminal (move the cursor, set its title …)."""
    return text.translate(_CONTROLS)
