"""The audit log: one record per syscall (who, what, object, decision, errno, duration).

Records are buffered and written in batches by a background thread (every 200 ms, or at once
when the buffer fills or someone reads the log), so auditing costs the caller microseconds.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from .clock import parse_since, iso
from .store import Database, now

MIGRATIONS = [
    """
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, user TEXT, syscall TEXT NOT NULL,
        object TEXT, decision TEXT NOT NULL, policy TEXT, errno TEXT, duration_us INTEGER NOT NULL);
    CREATE INDEX audit_time ON audit (time);
    CREATE INDEX audit_user ON audit (user, time)
    """,
]
FLUSH_EVERY = 0.2
FLUSH_AT = 1000


class Audit:
    def __init__(self, path: Path) -> None:
        self.db = Database(path, MIGRATIONS)
        self._buffer: list[tuple] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    def record(self, user: str | None, syscall: str, obj: str | None, decision: str, policy: str | None,
               errno: str | None, duration_us: int) -> None:
        with self._lock:
            self._buffer.append((now(), user, syscall, obj, decision, policy, errno, duration_us))
            full = len(self._buffer) >= FLUSH_AT
        if full:
            self._wake.set()

    def flush(self) -> None:
        with self._lock:
            batch, self._buffer = self._buffer, []
        if batch:
            with self.db.transaction() as c:
                c.executemany("INSERT INTO audit (time, user, syscall, object, decision, policy, errno, "
                              "duration_us) VALUES (?,?,?,?,?,?,?,?)", batch)

    def list(self, user: str | None = None, syscall: str | None = None, since: str | None = None,
             errors_only: bool = False, limit: int = 100) -> list[dict[str, Any]]:
        self.flush()
        sql, params = "SELECT * FROM audit WHERE 1=1", []
        if user is not None:
            sql += " AND user=?"
            params.append(user)
        if syscall is not None:
            sql += " AND syscall GLOB ?"
            params.append(syscall)
        if since is not None:
            sql += " AND time >= ?"
            params.append(iso(parse_since(since, "since")))
        if errors_only:
            sql += " AND errno IS NOT NULL"
        rows = self.db.query(sql + " ORDER BY seq DESC LIMIT ?", [*params, max(0, limit)])
        return [{k: r[k] for k in ("time", "user", "syscall", "object", "decision", "policy", "errno",
                                   "duration_us")} for r in rows]

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(FLUSH_EVERY)
            self._wake.clear()
            self.flush()

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        self._thread.join(timeout=5)
        self.flush()
        self.db.close()
