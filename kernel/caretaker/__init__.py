"""Caretaker: the state of every pod now and in history, captured from the cloud driver.

`observe()` takes the driver's current pod statuses, records each phase transition (with its
time, exit code and reason) and returns what changed, for the reconcilers and for watchers.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Iterable

from syscalls.errors import SyscallError

from ..cloud import PodStatus
from ..store import Database, now

MIGRATIONS = [
    """
    CREATE TABLE pods (
        name TEXT PRIMARY KEY, workspace TEXT NOT NULL, resource TEXT, job TEXT, phase TEXT NOT NULL,
        labels TEXT NOT NULL, created TEXT NOT NULL, started TEXT, finished TEXT, exit_code INTEGER,
        reason TEXT, node TEXT, updated TEXT NOT NULL);
    CREATE INDEX pods_by_resource ON pods (resource);
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, pod TEXT NOT NULL, workspace TEXT NOT NULL,
        resource TEXT, phase TEXT NOT NULL, previous TEXT, exit_code INTEGER, reason TEXT);
    CREATE INDEX events_by_pod ON events (pod, seq)
    """,
]

FIELDS = ("name", "workspace", "resource", "job", "phase", "labels", "created", "started", "finished",
          "exit_code", "reason", "node", "updated")


class Caretaker:
    def __init__(self, path: Path) -> None:
        self.db = Database(path, MIGRATIONS)
        self.archive_dir = path.parent / "archive"
        self._lock = threading.Lock()
        self._known: dict[str, tuple] = {}  # name -> (phase, exit_code, started, finished)
        self._changed = threading.Condition()
        self.seq = self.db.query("SELECT COALESCE(MAX(seq), 0) FROM events")[0][0]
        for row in self.db.query("SELECT name, phase, exit_code, started, finished FROM pods"):
            self._known[row["name"]] = (row["phase"], row["exit_code"], row["started"], row["finished"])

    def observe(self, statuses: Iterable[PodStatus]) -> list[dict[str, Any]]:
        """Record what changed since the last observation; returns the changed pods."""
        changed = []
        stamp = now()
        with self._lock, self.db.transaction() as c:
            for s in statuses:
                key = (s.phase, s.exit_code, s.started, s.finished)
                previous = self._known.get(s.name)
                if previous == key:
                    continue
                self._known[s.name] = key
                resource = resource_key(s.labels)
                job = s.labels.get("dataos.io/job")
                row = (s.name, s.workspace, resource, job, s.phase, json.dumps(s.labels), s.created, s.started,
                       s.finished, s.exit_code, s.reason, s.node, stamp)
                c.execute(f"INSERT OR REPLACE INTO pods ({', '.join(FIELDS)}) VALUES ({', '.join('?' * len(FIELDS))})",
                          row)
                if previous is None or previous[0] != s.phase:
                    c.execute("INSERT INTO events (time, pod, workspace, resource, phase, previous, exit_code, reason)"
                              " VALUES (?,?,?,?,?,?,?,?)", (stamp, s.name, s.workspace, resource, s.phase,
                                                            previous[0] if previous else None, s.exit_code, s.reason))
                changed.append(_pod(dict(zip(FIELDS, row))))
        if changed:
            with self._changed:
                self.seq += len(changed)
                self._changed.notify_all()
        return changed

    def forget(self, name: str) -> None:
        with self._lock, self.db.transaction() as c:
            c.execute("DELETE FROM pods WHERE name=?", (name,))
        self._known.pop(name, None)

    def wait(self, seq: int, timeout: float) -> int:
        """Block until something changed after `seq` (or the timeout); returns the new seq."""
        with self._changed:
            self._changed.wait_for(lambda: self.seq != seq, timeout)
            return self.seq

    def list(self, workspace: str | None = None, resource: str | None = None) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM pods WHERE 1=1", []
        if workspace is not None:
            sql += " AND workspace=?"
            params.append(workspace)
        if resource is not None:
            sql += " AND resource=?"
            params.append(resource)
        return [_pod(dict(r)) for r in self.db.query(sql + " ORDER BY created, name", params)]

    def get(self, name: str) -> dict[str, Any]:
        rows = self.db.query("SELECT * FROM pods WHERE name=?", (name,))
        if not rows:
            raise SyscallError("ENOENT", f"no pod {name!r}", pod=name)
        return _pod(dict(rows[0]))

    def history(self, name: str) -> list[dict[str, Any]]:
        """A pod's phase transitions, oldest first: archived ones (Parquet) then recent ones."""
        recent = [dict(r) for r in self.db.query(
            "SELECT time, phase, previous, exit_code, reason FROM events WHERE pod=? ORDER BY seq", (name,))]
        files = sorted(self.archive_dir.glob("events-*.parquet"))
        if not files:
            return recent
        import duckdb
        with duckdb.connect() as con:
            old = con.execute("SELECT time, phase, previous, exit_code, reason FROM read_parquet(?) WHERE pod = ? "
                              "ORDER BY seq", [[str(f) for f in files], name]).fetchall()
        return [dict(zip(("time", "phase", "previous", "exit_code", "reason"), row)) for row in old] + recent

    def archive(self, before: str) -> int:
        """Move the events older than `before` (ISO time) to a Parquet file; returns how many."""
        rows = self.db.query("SELECT * FROM events WHERE time < ? ORDER BY seq", (before,))
        if not rows:
            return 0
        import duckdb
        self.archive_dir.mkdir(exist_ok=True)
        target = self.archive_dir / f"events-{rows[0]['seq']:012d}-{rows[-1]['seq']:012d}.parquet"
        tmp = target.with_suffix(".tmp")
        with duckdb.connect() as con:
            con.execute("CREATE TABLE events (seq BIGINT, time VARCHAR, pod VARCHAR, workspace VARCHAR, "
                        "resource VARCHAR, phase VARCHAR, previous VARCHAR, exit_code INTEGER, reason VARCHAR)")
            con.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?)", [tuple(r) for r in rows])
            con.execute(f"COPY events TO '{tmp}' (FORMAT parquet)")
        tmp.replace(target)  # written whole before the rows leave SQLite: nothing is lost midway
        with self._lock, self.db.transaction() as c:
            c.execute("DELETE FROM events WHERE seq <= ? AND time < ?", (rows[-1]["seq"], before))
        return len(rows)

    def close(self) -> None:
        self.db.close()


def resource_key(labels: dict[str, str]) -> str | None:
    """`WORKSPACE/TYPE/NAME` of the resource a pod belongs to, from its labels."""
    if "dataos.io/resource" not in labels:
        return None
    return f"{labels.get('dataos.io/workspace', '')}/{labels.get('dataos.io/type')}/{labels['dataos.io/resource']}"


def _pod(row: dict[str, Any]) -> dict[str, Any]:
    row["labels"] = json.loads(row["labels"]) if isinstance(row["labels"], str) else row["labels"]
    row.pop("updated", None)
    return row
