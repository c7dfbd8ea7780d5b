"""A quick chart of a result window, drawn with block characters (no dependency): horizontal bars
of the first numeric column labelled by the first text/date column, or a sparkline column plot of
the numeric column when there are many rows."""
from __future__ import annotations

import pyarrow as pa
from rich.text import Text

BLOCKS = " ▁▂▃▄▅▆▇█"


def _numeric(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)


def chart(table: pa.Table, width: int, height: int) -> Text:
    num = next((f.name for f in table.schema if _numeric(f.type)), None)
    if num is None:
        return Text("no numeric column to chart")
    label = next((f.name for f in table.schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
                  or pa.types.is_temporal(f.type)), None)
    ys = [float(v) if v is not None else 0.0 for v in table.column(num).to_pylist()]
    top = max((abs(y) for y in ys), default=0.0) or 1.0
    out = Text()
    if label is not None and len(ys) <= max(1, height - 2):
        out.append(f"{num} by {label}\n\n", style="bold")
        labels = [str(v) for v in table.column(label).to_pylist()]
        lw = min(24, max(len(s) for s in labels))
        bw = max(5, width - lw - 14)
        for name, y in zip(labels, ys):
            out.append(f"{name[:lw]:>{lw}} ")
            out.append("█" * max(0, round(abs(y) / top * bw)), style="cyan")
            out.append(f" {y:g}\n")
        return out
    out.append(f"{num} over {len(ys)} rows (max {top:g})\n\n", style="bold")
    step = max(1, -(-len(ys) // max(1, width)))
    cols = [max(ys[i:i + step], key=abs) for i in range(0, len(ys), step)]
    rows = max(3, height - 3)
    for r in range(rows, 0, -1):
        line = []
        for y in cols:
            level = abs(y) / top * rows - (r - 1)
            line.append(BLOCKS[max(0, min(8, int(level * 8)))] if level > 0 else " ")
        out.append("".join(line) + "\n", style="cyan")
    return out
