"""What the reconcilers remember, so a restarted daemon resumes exactly where it was:
workflow runs and job attempts, service replicas. Every pod is recorded here *before* it is
started, under a name fixed by its run, job and attempt: the driver refuses a second pod of
the same name, so no job runs twice and none is forgotten."""
from __future__ import annotations

from typing import Any

from ...store import Place, now

MIGRATIONS = [
    """
    CREATE TABLE runs (
        uid TEXT NOT NULL, run INTEGER NOT NULL, generation INTEGER NOT NULL, trigger TEXT NOT NULL,
        state TEXT NOT NULL, created TEXT NOT NULL, finished TEXT, scheduled TEXT, PRIMARY KEY (uid, run));
    CREATE TABLE attempts (
        uid TEXT NOT NULL, run INTEGER NOT NULL, job TEXT NOT NULL, attempt INTEGER NOT NULL,
        pod TEXT NOT NULL UNIQUE, state TEXT NOT NULL, exit_code INTEGER, created TEXT NOT NULL,
        PRIMARY KEY (uid, run, job, attempt));
    CREATE TABLE replicas (
        uid TEXT NOT NULL, slot INTEGER NOT NULL, generation INTEGER NOT NULL, launches INTEGER NOT NULL,
        restarts INTEGER NOT NULL, pod TEXT, not_before REAL NOT NULL, PRIMARY KEY (uid, slot))
    """,
]


class RuntimeState:
    def __init__(self, place: Place) -> None:
        self.db = place.database("runtime", MIGRATIONS)

    # --- workflow runs ----------------------------------------------------------------------

    def latest_run(self, uid: str) -> dict[str, Any] | None:
        rows = self.db.query("SELECT * FROM runs WHERE uid=? AND state != 'skipped' ORDER BY run DESC LIMIT 1",
                             (uid,))
        return dict(rows[0]) if rows else None

    def active_runs(self, uid: str) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.query("SELECT * FROM runs WHERE uid=? AND finished IS NULL ORDER BY run",
                                               (uid,))]

    def last_scheduled(self, uid: str) -> str | None:
        """The schedule time of the latest run the schedule started (or skipped)."""
        rows = self.db.query("SELECT MAX(scheduled) FROM runs WHERE uid=?", (uid,))
        return rows[0][0]

    def new_run(self, uid: str, generation: int, trigger: str, scheduled: str | None = None,
                state: str = "running") -> dict[str, Any]:
        """A new run (`state` skipped: a schedule time passed over, kept to remember it)."""
        with self.db.transaction() as c:
            (last,) = c.execute("SELECT COALESCE(MAX(run), 0) FROM runs WHERE uid=?", (uid,)).fetchone()
            stamp = now()
            c.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?,?)", (uid, last + 1, generation, trigger, state, stamp,
                                                                  stamp if state != "running" else None, scheduled))
        return self.latest_run(uid)  # type: ignore[return-value]

    def finish_run(self, uid: str, run: int, state: str) -> None:
        with self.db.transaction() as c:
            c.execute("UPDATE runs SET state=?, finished=? WHERE uid=? AND run=? AND finished IS NULL",
                      (state, now(), uid, run))

    def attempts(self, uid: str, run: int) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for r in self.db.query("SELECT * FROM attempts WHERE uid=? AND run=? ORDER BY job, attempt", (uid, run)):
            out.setdefault(r["job"], []).append(dict(r))
        return out

    def add_attempt(self, uid: str, run: int, job: str, attempt: int, pod: str) -> None:
        with self.db.transaction() as c:
            c.execute("INSERT INTO attempts VALUES (?,?,?,?,?,?,NULL,?) ON CONFLICT DO NOTHING",
                      (uid, run, job, attempt, pod, "pending", now()))

    def set_attempt(self, pod: str, state: str, exit_code: int | None) -> None:
        with self.db.transaction() as c:
            c.execute("UPDATE attempts SET state=?, exit_code=? WHERE pod=?", (state, exit_code, pod))

    # --- service replicas -------------------------------------------------------------------

    def replicas(self, uid: str) -> dict[int, dict[str, Any]]:
        return {r["slot"]: dict(r) for r in self.db.query("SELECT * FROM replicas WHERE uid=?", (uid,))}

    def put_replica(self, row: dict[str, Any]) -> None:
        with self.db.transaction() as c:
            c.execute("INSERT INTO replicas VALUES (:uid,:slot,:generation,:launches,:restarts,:pod,:not_before) "
                      "ON CONFLICT (uid, slot) DO UPDATE SET generation=excluded.generation, "
                      "launches=excluded.launches, restarts=excluded.restarts, pod=excluded.pod, "
                      "not_before=excluded.not_before", row)

    def drop_replica(self, uid: str, slot: int) -> None:
        with self.db.transaction() as c:
            c.execute("DELETE FROM replicas WHERE uid=? AND slot=?", (uid, slot))

    def forget(self, uid: str) -> None:
        with self.db.transaction() as c:
            for table in ("runs", "attempts", "replicas"):
                c.execute(f"DELETE FROM {table} WHERE uid=?", (uid,))

    def close(self) -> None:
        self.db.close()
