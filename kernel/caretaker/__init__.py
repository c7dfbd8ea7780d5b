"""Caretaker: the state of every pod now and in history, captured from the cloud driver.

`observe()` takes the driver's current pod statuses, records each phase transition (with its
time, exit code and reason) and returns what changed, for the reconcilers and for watchers.
`record()` keeps what the controllers did to a resource (a run started, a retry, a restart, an
error), the last `NOTES_KEPT` of each; `events()` tells both, kubectl's way (see `events.py`).
What cannot be written (a full disk) is kept, in order, and written by the next observation
that can (or at close): pods stay current in memory meanwhile, and no transition is lost.
"""
from __future__ import annotations

import json
import logging
import threading
from collections import deque
from typing import Any, Iterable

from syscalls.errors import SyscallError

from ..cloud import PodStatus
from ..faults import Outage, writing
from ..store import Place, now

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
    """
    CREATE INDEX events_by_resource ON events (resource, seq);
    CREATE TABLE notes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, resource TEXT NOT NULL, type TEXT NOT NULL,
        reason TEXT NOT NULL, source TEXT NOT NULL, message TEXT NOT NULL);
    CREATE INDEX notes_by_resource ON notes (resource, seq)
    """,
]

log = logging.getLogger("dataos.caretaker")
CHANGES_KEPT = 100_000  # pod changes a watch can catch up on without listing everything again
NOTES_KEPT = 200  # what controllers did, per resource: the oldest go first
FIELDS = ("name", "workspace", "resource", "job", "phase", "labels", "created", "started", "finished",
          "exit_code", "reason", "node", "updated")


class Caretaker:
    """Pods now (kept in memory as well, for fast lists and watches) and their history (SQLite)."""

    def __init__(self, place: Place) -> None:
        self.db = place.database("caretaker", MIGRATIONS)
        self.archive_dir = place.directory / "archive"
        self._lock = threading.Lock()
        self._pods: dict[str, dict[str, Any]] = {r["name"]: _pod(dict(r)) for r in self.db.query("SELECT * FROM pods")}
        self._changes: deque[tuple[int, str]] = deque(maxlen=CHANGES_KEPT)  # (seq, pod) for watches
        self._changed = threading.Condition()
        self.seq = 0
        self._unwritten: list[tuple[str, tuple]] = []  # (statement, parameters) not yet written, in order
        self._outage = Outage(log, "caretaker: recording pod changes")
        self._forgotten: set[str] = set()  # pods of deleted resources: never recorded again
        self.db.on_change(self._reload)  # the leading replica observes the pods; the others read them

    def _reload(self) -> None:
        """Pods as the database has them now (another replica wrote): watches hear what differs."""
        fresh = {r["name"]: _pod(dict(r)) for r in self.db.query("SELECT * FROM pods")}
        with self._lock, self._changed:
            changed = sorted(name for name in fresh.keys() | self._pods.keys()
                             if fresh.get(name) != self._pods.get(name))
            self._pods = fresh
            for name in changed:
                self.seq += 1
                self._changes.append((self.seq, name))
            if changed:
                self._changed.notify_all()

    def observe(self, statuses: Iterable[PodStatus]) -> list[dict[str, Any]]:
        """Record what changed since the last observation; returns the changed pods."""
        changed = []
        stamp = now()
        with self._lock:
            for s in statuses:
                if s.name in self._forgotten:
                    continue
                previous = self._pods.get(s.name)
                if previous is not None and (previous["phase"], previous["exit_code"], previous["started"],
                                             previous["finished"]) == (s.phase, s.exit_code, s.started, s.finished):
                    continue
                resource = resource_key(s.labels)
                row = (s.name, s.workspace, resource, s.labels.get("dataos.io/job"), s.phase, json.dumps(s.labels),
                       s.created, s.started, s.finished, s.exit_code, s.reason, s.node, stamp)
                self._unwritten.append((_UPSERT, row))
                if previous is None or previous["phase"] != s.phase:
                    self._unwritten.append((_EVENT, (stamp, s.name, s.workspace, resource, s.phase,
                                                     previous["phase"] if previous else None, s.exit_code, s.reason)))
                changed.append(_pod(dict(zip(FIELDS, row))))
            self._write()
            with self._changed:  # current now, written or not: the next observation compares with this
                for pod in changed:
                    self._pods[pod["name"]] = pod
                    self.seq += 1
                    self._changes.append((self.seq, pod["name"]))
                self._changed.notify_all()
        return changed

    def _write(self) -> None:
        """Write what is unwritten, in one transaction (holding `_lock`); on failure it stays for
        the next attempt."""
        if not self._unwritten:
            return
        try:
            with self.db.transaction() as c:
                for statement, parameters in self._unwritten:
                    c.execute(statement, parameters)
        except Exception as e:
            self._outage.failed(e)
            return
        self._unwritten.clear()
        self._outage.resumed()

    def record(self, resource: str, type: str, reason: str, source: str, message: str) -> None:
        """Note what `source` did to `resource` (`WORKSPACE/TYPE/NAME`); `type` is Normal or Warning."""
        with self._lock:
            self._unwritten.append((_NOTE, (now(), resource, type, reason, source, message)))
            self._unwritten.append((_TRIM, (resource, resource, NOTES_KEPT)))
            self._write()

    def events(self, resource: str | None = None, pod: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        """The last `limit` events of a resource (its pods' included) or of one pod, oldest first."""
        from .events import note_event, pod_events
        column, value = ("resource", resource) if pod is None else ("pod", pod)
        phases = self.db.query(f"SELECT * FROM (SELECT * FROM events WHERE {column}=? ORDER BY seq DESC LIMIT ?) "
                               "AS latest ORDER BY seq", (value, limit))
        notes = [] if pod is not None else self.db.query(
            "SELECT * FROM (SELECT * FROM notes WHERE resource=? ORDER BY seq DESC LIMIT ?) AS latest ORDER BY seq",
            (resource, limit))
        with self._changed:
            jobs = {p["name"]: p["job"] for p in self._pods.values()}
        found = pod_events([dict(r) for r in phases], jobs) + [note_event(dict(r)) for r in notes]
        return sorted(found, key=lambda e: e["time"])[-limit:]

    def forget(self, resource: str) -> list[str]:
        """A resource (`WORKSPACE/TYPE/NAME`) was deleted: its pods, their events and its notes go
        with it (kubectl's garbage collection), so that a resource created again under its name
        starts with none. A forgotten pod the driver still reports is not recorded again. Returns
        the pods' names."""
        with self._lock:
            for table in ("pods", "events", "notes"):
                self._unwritten.append((f"DELETE FROM {table} WHERE resource=?", (resource,)))
            self._write()
            with self._changed:
                gone = [name for name, pod in self._pods.items() if pod["resource"] == resource]
                for name in gone:
                    del self._pods[name]
                self._forgotten.update(gone)
        return gone

    def wait(self, seq: int, timeout: float) -> int:
        """Block until something changed after `seq` (or the timeout); returns the new seq."""
        with self._changed:
            self._changed.wait_for(lambda: self.seq != seq, timeout)
            return self.seq

    def changed_since(self, seq: int) -> tuple[int, list[dict[str, Any]] | None]:
        """The pods changed after `seq` (each once), and the seq now; None when `seq` is too old
        to answer from memory (the caller should list everything again)."""
        with self._changed:
            if self._changes and self._changes[0][0] > seq + 1:
                return self.seq, None
            names = dict.fromkeys(name for s, name in self._changes if s > seq)
            return self.seq, [dict(self._pods[n]) for n in names if n in self._pods]

    def list(self, workspace: str | None = None, resource: str | None = None) -> list[dict[str, Any]]:
        with self._changed:
            pods = [dict(p) for p in self._pods.values()
                    if (workspace is None or p["workspace"] == workspace)
                    and (resource is None or p["resource"] == resource)]
        pods.sort(key=lambda p: (p["created"], p["name"]))
        return pods

    def get(self, name: str) -> dict[str, Any]:
        with self._changed:
            pod = self._pods.get(name)
        if pod is None:
            raise SyscallError("ENOENT", f"no pod {name!r}", pod=name)
        return dict(pod)

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
        target = self.archive_dir / f"events-{rows[0]['seq']:012d}-{rows[-1]['seq']:012d}.parquet"
        tmp = target.with_suffix(".tmp")
        try:
            with writing(self.archive_dir), duckdb.connect() as con:
                self.archive_dir.mkdir(exist_ok=True)
                con.execute("CREATE TABLE events (seq BIGINT, time VARCHAR, pod VARCHAR, workspace VARCHAR, "
                            "resource VARCHAR, phase VARCHAR, previous VARCHAR, exit_code INTEGER, reason VARCHAR)")
                con.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?)", [tuple(r) for r in rows])
                con.execute(f"COPY events TO '{tmp}' (FORMAT parquet)")
        except BaseException as e:
            tmp.unlink(missing_ok=True)  # never half a file
            if getattr(e, "code", None) != "ENOSPC":
                raise
            log.warning("caretaker: pod history not archived (tried again later): %s", e)
            return 0
        tmp.replace(target)  # written whole before the rows leave SQLite: nothing is lost midway
        with self._lock, self.db.transaction() as c:
            c.execute("DELETE FROM events WHERE seq <= ? AND time < ?", (rows[-1]["seq"], before))
        return len(rows)

    def close(self) -> None:
        with self._lock:
            self._write()
        self.db.close()


_UPSERT = (f"INSERT INTO pods ({', '.join(FIELDS)}) VALUES ({', '.join('?' * len(FIELDS))}) ON CONFLICT (name) "
           f"DO UPDATE SET {', '.join(f'{f}=excluded.{f}' for f in FIELDS[1:])}")
_EVENT = ("INSERT INTO events (time, pod, workspace, resource, phase, previous, exit_code, reason) "
          "VALUES (?,?,?,?,?,?,?,?)")

_NOTE = "INSERT INTO notes (time, resource, type, reason, source, message) VALUES (?,?,?,?,?,?)"
_TRIM = ("DELETE FROM notes WHERE resource=? AND seq <= (SELECT seq FROM notes WHERE resource=? "
         "ORDER BY seq DESC LIMIT 1 OFFSET ?)")


def resource_key(labels: dict[str, str]) -> str | None:
    """`WORKSPACE/TYPE/NAME` of the resource a pod belongs to, from its labels."""
    if "dataos.io/resource" not in labels:
        return None
    return f"{labels.get('dataos.io/workspace', '')}/{labels.get('dataos.io/type')}/{labels['dataos.io/resource']}"


def _pod(row: dict[str, Any]) -> dict[str, Any]:
    row["labels"] = json.loads(row["labels"]) if isinstance(row["labels"], str) else row["labels"]
    row.pop("updated", None)
    return row
