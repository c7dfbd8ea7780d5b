"""Idle engines kept for the next query with the same configuration (a database costs ~30 ms to
open and close; a query on a kept one, a cursor).

An engine is checked out by one query at a time (`take`; a caller may prefer some, e.g. those its
user last ran on, which hold the views its next query reads) and comes back with `give`, or is closed
when its query left it in doubt (interrupted, out of memory, an internal error). At most
`per_key` idle engines are kept per configuration and `most` in all (the least recently used go
first); one idle for `seconds` is closed, and `close` (the kernel's shutdown) closes them all.
"""
from __future__ import annotations

import threading
import time
from typing import Callable, Generic, Hashable, Protocol, TypeVar


class _Closable(Protocol):
    def close(self) -> None: ...


K = TypeVar("K", bound=Hashable)
E = TypeVar("E", bound=_Closable)


class Engines(Generic[K, E]):
    def __init__(self, open: Callable[[K], E], per_key: int = 2, most: int = 4, seconds: float = 60.0) -> None:
        self._open, self.per_key, self.most, self.seconds = open, per_key, most, seconds
        self._idle: list[tuple[float, K, E]] = []  # oldest first
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._closed = False

    def take(self, key: K, prefer: Callable[[E], bool] = lambda engine: True) -> E:
        """An idle engine configured by `key` for the caller alone: the most recent one `prefer`
        likes; else a new one while fewer than `per_key` are idle; else the least recently used."""
        with self._lock:
            same = [i for i, (_, k, _) in enumerate(self._idle) if k == key]
            liked = [i for i in same if prefer(self._idle[i][2])]
            if liked or len(same) >= self.per_key:
                return self._idle.pop(liked[-1] if liked else same[0])[2]
        return self._open(key)

    def give(self, key: K, engine: E, reuse: bool = True) -> None:
        """The query on `engine` ended; keep it for the next one unless `reuse` is false."""
        gone = [engine]
        with self._lock:
            if reuse and not self._closed:
                self._idle.append((time.monotonic(), key, engine))
                same = [i for i, (_, k, _) in enumerate(self._idle) if k == key]
                gone = [self._idle.pop(i)[2] for i in reversed(same[:max(0, len(same) - self.per_key)])]
                excess = max(0, len(self._idle) - self.most)
                gone += [e for _, _, e in self._idle[:excess]]
                del self._idle[:excess]
                self._arm()
        for old in gone:
            old.close()

    def _arm(self) -> None:
        if self._timer is None and self._idle:
            wait = max(0.0, self._idle[0][0] + self.seconds - time.monotonic())
            self._timer = threading.Timer(wait, self._expire)
            self._timer.daemon = True
            self._timer.start()

    def _expire(self) -> None:
        with self._lock:
            self._timer = None
            cutoff = time.monotonic() - self.seconds
            gone = [e for t, _, e in self._idle if t <= cutoff]
            self._idle = [entry for entry in self._idle if entry[0] > cutoff]
            if not self._closed:
                self._arm()
        for engine in gone:
            engine.close()

    def close(self) -> None:
        """Close every idle engine; those still running close when their query ends."""
        with self._lock:
            self._closed = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            gone, self._idle = [e for _, _, e in self._idle], []
        for engine in gone:
            engine.close()
