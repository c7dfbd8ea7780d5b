"""Write a `query.stream` to a file, batch by batch: Parquet, CSV or JSON Lines by suffix.

Memory stays bounded by one Arrow batch whatever the result's size. The file appears only
when the whole result is written (a temporary sibling `.FILE.PID.part` is renamed into place),
so a failed or cancelled export leaves nothing behind: Ctrl-C, and SIGTERM or SIGHUP under
`cleanup_on_signals`, remove it; what a SIGKILLed export left (its PID gone) goes at the next
export to that file.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import glob
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from syscalls.errors import SyscallError
from syscalls.procs import alive

FORMATS = {".parquet": "parquet", ".csv": "csv", ".json": "json", ".jsonl": "json", ".ndjson": "json"}


def check(path: str | Path) -> str:
    """The format a path's suffix names, once the path is one a file can be written to: checked
    before a query runs (EINVAL for another suffix or a directory, ENOENT for no directory)."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise SyscallError("EINVAL", f"--out {path}: name a .parquet, .csv or .json file", field="out")
    if not path.parent.is_dir():
        raise SyscallError("ENOENT", f"--out {path}: there is no directory {path.parent}", field="out")
    if path.is_dir():
        raise SyscallError("EINVAL", f"--out {path} is a directory: name a file", field="out")
    return fmt


def write(items: Iterable[Any], path: str | Path,
          progress: Callable[[int], None] = lambda rows: None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Write the stream's rows to `path`; returns its header and footer."""
    path = Path(path)
    fmt = check(path)
    _remove_stale(path)
    temp = path.with_name(f".{path.name}.{os.getpid()}.part")
    header: dict[str, Any] = {}
    footer: dict[str, Any] = {}
    writer = None
    rows = 0
    try:
        for item in items:
            kind = type(item).__name__
            if kind == "Schema":
                try:
                    writer = _writer(fmt, temp, item)
                except PermissionError:
                    raise SyscallError("EACCES", f"--out {path}: you may not write in {path.parent}",
                                       field="out") from None
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


def _remove_stale(path: Path) -> None:
    """Remove the temporary files of earlier exports to `path` whose process is gone (SIGKILLed)."""
    for temp in path.parent.glob(f".{glob.escape(path.name)}.*.part"):
        pid = temp.name[len(path.name) + 2:-len(".part")]
        if pid.isdigit() and int(pid) != os.getpid() and not alive(int(pid)):
            temp.unlink(missing_ok=True)


class _Terminated(BaseException):
    """A SIGTERM or SIGHUP, raised where the program is, so that `finally` clauses run."""


@contextlib.contextmanager
def cleanup_on_signals() -> Iterator[None]:
    """Within this (in the main thread), SIGTERM and SIGHUP unwind the stack as Ctrl-C does,
    then the process dies of the signal as it would have: temporary files are removed first.
    Signals ignored (nohup) stay ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def unwind(signum: int, frame: Any) -> None:
        raise _Terminated(signum)

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP)}
    for sig, handler in previous.items():
        if handler is not signal.SIG_IGN:
            signal.signal(sig, unwind)
    try:
        yield
    except _Terminated as e:
        (signum,) = e.args
        _restore(previous)
        signal.raise_signal(signum)  # to the previous handler: by default, the process dies of it
        raise SystemExit(128 + signum) from None  # a handler that returned
    finally:
        _restore(previous)


def _restore(handlers: dict) -> None:
    for sig, handler in handlers.items():
        signal.signal(sig, signal.SIG_DFL if handler is None else handler)  # None: not set from Python


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
