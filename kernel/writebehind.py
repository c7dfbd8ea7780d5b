"""Rows inserted by a thread of their own, in batches: a caller does not wait for the disk.

For records that are not evidence (the audit journal is) but that readers expect to find: a
reader calls `flush()` first and sees every row put before it. A row not yet written when the
process is killed is lost (at most a few milliseconds' worth); a write that fails (a full disk)
is retried, its rows kept in memory, the outage logged once.
"""
from __future__ import annotations

import logging
import threading

from .faults import Outage
from .store import Store

log = logging.getLogger("dataos.kernel")
RETRY = (0.1, 5.0)  # first and longest wait between attempts while writes fail (seconds)


class WriteBehind:
    def __init__(self, db: Store, insert: str, what: str) -> None:
        self.db, self.insert = db, insert
        self._rows: list[tuple] = []  # put, not yet written, oldest first
        self._written = 0
        self._failing = False
        self._closing = False
        self._stop = threading.Event()  # set by close: no more waiting between failed attempts
        self._cond = threading.Condition()
        self._outage = Outage(log, what)
        self._thread = threading.Thread(target=self._run, name=what, daemon=True)
        self._thread.start()

    def put(self, row: tuple) -> None:
        with self._cond:
            self._rows.append(row)
            self._cond.notify_all()

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until every row put so far is written (not while writes fail: then at once)."""
        with self._cond:
            target = self._written + len(self._rows)
            self._cond.wait_for(lambda: self._written >= target or self._failing or not self._thread.is_alive(),
                                timeout)

    def unwritten(self) -> list[tuple]:
        with self._cond:
            return list(self._rows)

    def close(self) -> None:
        """Write what is left (if the disk takes it) and stop."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        wait = RETRY[0]
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._rows or self._closing)
                if not self._rows:
                    return
                batch = list(self._rows)
            try:
                with self.db.transaction() as c:
                    c.executemany(self.insert, batch)
            except Exception as e:  # a full disk, a broken file: keep the rows, try again
                self._outage.failed(e)
                with self._cond:
                    self._failing = True
                    self._cond.notify_all()
                    if self._closing:
                        log.error("%s: %d rows not written at shutdown", self._outage.what, len(self._rows))
                        return
                self._stop.wait(wait)
                wait = min(wait * 2, RETRY[1])
                continue
            self._outage.resumed()
            wait = RETRY[0]
            with self._cond:
                del self._rows[:len(batch)]
                self._written += len(batch)
                self._failing = False
                self._cond.notify_all()
