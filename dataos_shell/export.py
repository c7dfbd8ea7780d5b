"""Write a `query.stream` to a file, batch by batch: Parquet, CSV or JSON Lines by suffix.

Memory stays bounded by one Arrow batch whatever the result's size. The file appears only
when the whole result is written (a temporary sibling is renamed into place), so a failed or
cancelled export leaves nothing behind.
"""
from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from syscalls.errors import SyscallError

FORMATS = {".parquet": "parquet", ".csv": "csv", ".json": "json", ".jsonl": "json", ".ndjson": "json"}


def format_of(path: str | Path) -> str:
    """The format a path's suffix names (EINVAL for any other), checked before a query runs."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise SyscallError("EINVAL", f"--out {path}: name a .parquet, .csv or .json file", field="out")
    return fmt


def write(items: Iterable[Any], path: str | Path,
          progress: Callable[[int], None] = lambda rows: None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Write the stream's rows to `path`; returns its header and footer."""
    path = Path(path)
    fmt = format_of(path)
    temp = path.with_name(f".{path.name}.{os.getpid()}.part")
    header: dict[str, Any] = {}
    footer: dict[str, Any] = {}
    writer = None
    rows = 0
    try:
        for item in items:
            kind = type(item).__name__
            if kind == "Schema":
                writer = _writer(fmt, temp, item)
            elif kind == "RecordBatch":
                writer.write(item)
                rows += item.num_rows
                progress(rows)
            elif not header:
                header = item
            else:
                footer = item
        if writer is not None:
            writer.close()
            writer = None
        temp.replace(path)
    finally:
        if writer is not None:
            writer.close()
        temp.unlink(missing_ok=True)
    return header, footer


def _writer(fmt: str, path: Path, schema: Any) -> Any:
    if fmt == "parquet":  # dictionaries pay off for strings; on unique numbers and times they bloat the file
        import pyarrow as pa
        import pyarrow.parquet as pq
        strings = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
        return pq.ParquetWriter(path, schema, compression="zstd", use_dictionary=strings)
    if fmt == "csv":
        import pyarrow.csv as pcsv
        return pcsv.CSVWriter(path, schema)
    return _JsonLines(path)


class _JsonLines:
    """One JSON object per row (what DuckDB's `read_json` and jq read), a batch at a time."""

    def __init__(self, path: Path) -> None:
        self.file = open(path, "w", encoding="utf-8")

    def write(self, batch: Any) -> None:
        self.file.writelines(json.dumps(row, default=_plain, ensure_ascii=False) + "\n" for row in batch.to_pylist())

    def close(self) -> None:
        self.file.close()


def _plain(value: Any) -> Any:
    """JSON for what `json` cannot say: decimals as numbers, times in ISO 8601, bytes in hex."""
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


class Progress:
    """Rows written so far, on a terminal's stderr, at most ten times a second."""

    def __init__(self, target: str, stream=sys.stderr) -> None:
        self.target, self.stream = target, stream
        self.shown = 0.0
        self.live = stream.isatty()

    def __call__(self, rows: int) -> None:
        if self.live and time.monotonic() - self.shown > 0.1:
            self.shown = time.monotonic()
            self.stream.write(f"\r{self.target}: {rows:,} rows")
            self.stream.flush()

    def done(self) -> None:
        if self.live and self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
