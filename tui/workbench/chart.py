"""A quick chart of a result window, drawn with block characters (no dependency), with axes: tick
labels on the value axis, the x column's values under the plot. A text (or few-valued) x column
gives horizontal bars, one per row; many rows give a column plot of y over x (or the row number)."""
from __future__ import annotations

from typing import Any

import pyarrow as pa
from rich.text import Text

from userlib.output import counted

BLOCKS = " ▁▂▃▄▅▆▇█"
ROW = ""  # the x "column" that is the row number


def numeric(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)


def _textual(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_temporal(t) or pa.types.is_boolean(t)


def default_axes(schema: pa.Schema) -> tuple[str, str | None]:
    """(x, y): the first text/date column (else the row number) and the first numeric column."""
    y = next((f.name for f in schema if numeric(f.type)), None)
    x = next((f.name for f in schema if _textual(f.type)), ROW)
    return x, y


def tick(v: float) -> str:
    """A short axis label: 5, 2.5, 12.3k, 4.1M."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(v) >= size:
            return f"{v / size:.3g}{unit}"
    return f"{v:.3g}"


def _label(v: Any) -> str:
    return "∅" if v is None else str(v)


def chart(table: pa.Table, width: int, height: int, x: str | None = None, y: str | None = None,
          total: int | None = None) -> Text:
    """`y` (a numeric column) against `x` (a column, or ROW: the row number) in width × height;
    `total`: the rows of the result `table` is the start of."""
    dx, dy = default_axes(table.schema)
    x = dx if x is None else x
    y = y or dy
    if y is None:
        return Text("no numeric column to chart")
    ys = [float(v) if v is not None else 0.0 for v in table.column(y).to_pylist()]
    xs = [_label(v) for v in table.column(x).to_pylist()] if x else [str(i + 1) for i in range(len(ys))]
    if not ys:
        return Text("no rows to chart")
    bars = x and _textual(table.schema.field(x).type) and len(ys) <= max(1, height - 4)
    if bars:
        return _bars(xs, ys, x, y, width)
    rows = f"first {len(ys):,} of {total:,} rows" if total and total > len(ys) else counted(len(ys), "row")
    return _columns(xs, ys, x or "row", y, width, height, rows)


def _bars(xs: list[str], ys: list[float], x: str, y: str, width: int) -> Text:
    """One horizontal bar a row, labelled by x; the value axis under them (0, half, max)."""
    top = max(abs(v) for v in ys) or 1.0
    lw = min(24, max(len(s) for s in xs))
    bw = max(5, width - lw - 12)
    out = Text()
    out.append(f"{y} by {x}\n\n", style="bold")
    for name, v in zip(xs, ys):
        out.append(f"{name[:lw]:>{lw}} ┤", style="dim")
        out.append("█" * max(0, round(abs(v) / top * bw)), style="cyan")
        out.append(f" {tick(v)}\n")
    spots = [0, bw // 2, bw - 1]
    out.append(" " * lw + " └" + _axis(bw, spots) + "\n", style="dim")
    out.append(" " * (lw + 2) + _spread([tick(0), tick(top / 2), tick(top)], spots) + "\n", style="dim")
    return out


def _columns(xs: list[str], ys: list[float], x: str, y: str, width: int, height: int, rows_text: str) -> Text:
    """A column per x, as wide as the width allows (rows bucketed to the width when too many: the
    largest of each bucket); the value axis on the left (max, middle, floor), the x axis under the
    plot (the first, middle and last x)."""
    lo, hi = min(0.0, min(ys)), max(ys)
    span = (hi - lo) or 1.0
    labels = [tick(hi), tick(lo + span / 2), tick(lo)]
    yw = max(len(s) for s in labels)
    pw = max(10, width - yw - 3)
    step = max(1, -(-len(ys) // pw))
    starts = list(range(0, len(ys), step))
    cols = [max(ys[i:i + step], key=abs) for i in starts]
    cw = max(1, pw // len(cols))                  # cells a column takes
    bar = cw - 1 if cw >= 3 else cw               # with a gap when there is room for one
    rows = max(3, height - 5)
    out = Text()
    out.append(f"{y} over {x} ({rows_text})\n\n", style="bold")
    marks = {rows: labels[0], (rows + 1) // 2: labels[1], 1: labels[2]}
    for r in range(rows, 0, -1):
        mark = marks.get(r)
        out.append(f"{mark:>{yw}} ┤" if mark else " " * yw + " │", style="dim")
        line = []
        for v in cols:
            level = (v - lo) / span * rows - (r - 1)
            line.append((BLOCKS[max(0, min(8, int(level * 8)))] if level > 0 else " ") * bar + " " * (cw - bar))
        out.append("".join(line).rstrip() + "\n", style="cyan")
    picks = sorted({0, (len(cols) - 1) // 2, len(cols) - 1})
    spots = [i * cw + (bar - 1) // 2 for i in picks]
    out.append(" " * yw + " └" + _axis(len(cols) * cw, spots) + "\n", style="dim")
    out.append(" " * (yw + 2) + _spread([xs[starts[i]] for i in picks], spots) + "\n", style="dim")
    return out


def _axis(width: int, spots: list[int]) -> str:
    """An axis line `width` long with a tick at each spot."""
    line = ["─"] * max(1, width)
    for i in spots:
        line[min(i, len(line) - 1)] = "┬"
    return "".join(line)


def _spread(labels: list[str], spots: list[int]) -> str:
    """Labels under their ticks: the first starting at its tick, the last ending at its tick, any
    other centred; a label that would overlap the one before is dropped."""
    cells: list[str] = []
    for n, (s, at) in enumerate(zip(labels, spots)):
        if n == len(labels) - 1 and n:
            at = at - len(s) + 1
        elif n:
            at = at - len(s) // 2
        if at <= len(cells) and cells or at < 0:
            continue
        cells += [" "] * (at - len(cells)) + list(s)
    return "".join(cells)
