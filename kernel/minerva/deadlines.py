"""One thread that calls each registered action when its deadline passes: the queries' timeouts
(a timer thread per query costs milliseconds to start on a busy machine)."""
from __future__ import annotations

import heapq
import itertools
import threading
import time
from typing import Callable


class Deadlines:
    def __init__(self) -> None:
        self._heap: list[list] = []  # [when, order, action or None when cancelled]
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, seconds: float, action: Callable[[], None]) -> list:
        """Call `action` (on the deadlines' thread) `seconds` from now, unless it is cancelled first."""
        entry = [time.monotonic() + seconds, next(self._order), action]
        with self._wake:
            heapq.heappush(self._heap, entry)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="query-deadlines", daemon=True)
                self._thread.start()
            if self._heap[0] is entry:  # the thread sleeps until a later one: wake it (else let it sleep)
                self._wake.notify()
        return entry

    @staticmethod
    def cancel(entry: list) -> None:
        entry[2] = None  # dropped when it comes up

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._heap and self._heap[0][2] is None:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._wake.wait()
                    continue
                wait = self._heap[0][0] - time.monotonic()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                action = heapq.heappop(self._heap)[2]
            if action is not None:
                action()


DEADLINES = Deadlines()
