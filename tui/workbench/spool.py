"""A query's batches spooled to a temporary Arrow IPC file; windows of rows read back by offset.

While the stream runs, the first batches (up to `head_rows`) are also kept in memory so the
first page shows at once; once the stream ends the file is memory-mapped and any window is read
from the batches that cover it — memory stays bounded whatever the result's size."""
from __future__ import annotations

import bisect
import contextlib
import os
import tempfile
import threading
import weakref
from typing import Any

import pyarrow as pa
from pyarrow import ipc

PREFIX = "dataos-wb-"
_swept = False


def sweep(directory: str | None = None) -> int:
    """Delete the spools left behind by Workbench processes that are gone (a killed terminal runs
    no clean-up): their names carry their process id. Returns how many were deleted."""
    directory = directory or tempfile.gettempdir()
    gone = 0
    try:
        names = os.listdir(directory)
    except OSError:
        return 0
    for name in names:
        if not (name.startswith(PREFIX) and name.endswith(".arrow")):
            continue
        pid = name[len(PREFIX):].split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
            continue
        try:
            os.unlink(os.path.join(directory, name))
            gone += 1
        except OSError:
            pass
    return gone


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's: alive
        return True
    return True


class Spool:
    def __init__(self, schema: pa.Schema, head_rows: int = 10_000) -> None:
        global _swept
        if not _swept:
            _swept = True
            sweep()
        fd, self.path = tempfile.mkstemp(prefix=f"{PREFIX}{os.getpid()}-", suffix=".arrow")
        os.close(fd)
        weakref.finalize(self, _unlink, self.path)  # never left behind, even if close() is missed
        self.schema = schema
        self._sink = pa.OSFile(self.path, "wb")
        self._writer = ipc.new_file(self._sink, schema)
        self._lock = threading.Lock()
        self.offsets: list[int] = [0]      # cumulative rows before batch i; offsets[-1] = rows
        self.head: list[pa.RecordBatch] = []
        self.head_rows = head_rows
        self._reader: Any = None
        self._mmap: Any = None
        self.done = False

    @property
    def rows(self) -> int:
        return self.offsets[-1]

    def append(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        with self._lock:
            self._writer.write_batch(batch)
            if self.offsets[-1] < self.head_rows:
                self.head.append(batch)
            self.offsets.append(self.offsets[-1] + batch.num_rows)

    def finish(self) -> None:
        with self._lock:
            if self.done:
                return
            self._writer.close()
            self._sink.close()
            self._mmap = pa.memory_map(self.path, "r")
            self._reader = ipc.open_file(self._mmap)
            self.done = True

    def window(self, start: int, count: int) -> pa.Table:
        """Rows [start, start+count) (fewer at the end) as a table."""
        with self._lock:
            end = min(start + count, self.rows)
            if start >= end:
                return self.schema.empty_table()
            first = bisect.bisect_right(self.offsets, start) - 1
            last = bisect.bisect_right(self.offsets, end - 1) - 1
            if self._reader is not None:
                batches = [self._reader.get_batch(i) for i in range(first, last + 1)]
            elif last < len(self.head):
                batches = self.head[first:last + 1]
            else:  # not spooled to a readable file yet: what the head holds
                batches = self.head[first:]
                if not batches:
                    return self.schema.empty_table()
            table = pa.Table.from_batches(batches, self.schema)
            return table.slice(start - self.offsets[first], end - start)

    def close(self) -> None:
        with self._lock:
            with contextlib.suppress(Exception):
                if not self.done:
                    self._writer.close()
                    self._sink.close()
            self._reader = None
            if self._mmap is not None:
                self._mmap.close()
            self.head = []
            self.done = True
        try:
            os.unlink(self.path)
        except OSError:
            pass


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
