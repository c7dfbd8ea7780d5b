"""Several kernels over one PostgreSQL database: what one writes, the others hear; one of them leads.

- **Changes.** A service whose state others keep in memory (users and keys, resources, pods,
  column tags) asks to hear its schema's changes (`on_change`). Each of its write transactions
  then ends with `pg_notify('dataos', '<replica> <schema>')`, delivered when it commits; the
  listener calls that schema's callbacks of every other replica (several kernels of one process
  share a listener), which read the state again. A listener whose connection broke reconnects
  and calls every callback once (it may have missed some).
- **Messages.** A replica can also ask the others something (`send(topic, data)`, e.g. "cancel
  query Q, if it runs on you"); the ones that listen to that topic (`on_message`) hear the data
  and who sent it. Not kept: a replica that is not listening then does not hear it.
- **Leadership.** Work that must run once (reconcilers, schedules, the pod watch) runs on the
  replica that holds the leader lease: a session-level advisory lock on a connection of its own.
  A replica that dies loses its session, so the lock, at once; another takes it at its next try
  (every `TRY_EVERY` seconds).

On SQLite there is one kernel per state directory (a file lock): it hears nothing and leads.
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import defaultdict
from typing import Callable

log = logging.getLogger("dataos.replicas")

CHANNEL = "dataos"
TRY_EVERY = 1.0  # seconds between a follower's tries for the lease
MESSAGE = "message:"  # what a message's topic starts with (a schema's changes have none)


def lock_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"dataos:{name}".encode()).digest()[:8], "big", signed=True)


class Listener:
    """One connection per database URL listening on CHANNEL; callbacks by schema."""

    _all: dict[str, "Listener"] = {}
    _made = threading.Lock()

    @classmethod
    def of(cls, url: str) -> "Listener":
        with cls._made:
            if url not in cls._all:
                cls._all[url] = cls(url)
            return cls._all[url]

    def __init__(self, url: str) -> None:
        self.url = url
        self.callbacks: dict[str, list[tuple[str, Callable]]] = defaultdict(list)  # schema or topic -> (replica, …)
        self._ready = threading.Event()
        self._stop = threading.Event()
        threading.Thread(target=self._run, name="replica-changes", daemon=True).start()
        self._ready.wait(10)

    @classmethod
    def kernels(cls, url: str) -> set[str]:
        """The replicas of this process that listen to `url`."""
        with cls._made:
            listener = cls._all.get(url)
            return {r for callbacks in listener.callbacks.values() for r, _ in callbacks} if listener else set()

    def add(self, schema: str, replica: str, callback: Callable[[], None]) -> None:
        with self._made:
            self.callbacks[schema].append((replica, callback))

    @classmethod
    def remove(cls, url: str, schema: str, replica: str, callback: Callable[[], None]) -> None:
        """A store closed: stop calling it; with no one left to call, stop listening."""
        with cls._made:
            listener = cls._all.get(url)
            if listener is None:
                return
            if (replica, callback) in listener.callbacks.get(schema, ()):
                listener.callbacks[schema].remove((replica, callback))
            if not any(listener.callbacks.values()):
                del cls._all[url]
                listener._stop.set()

    def _run(self) -> None:
        import psycopg
        delay, missed = 0.5, False
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._ready.set()
                    delay = 0.5
                    if missed:  # what was written while we were not listening (messages are gone)
                        for schema in [s for s in self.callbacks if not s.startswith(MESSAGE)]:
                            self._call(schema, None)
                    while not self._stop.is_set():
                        for note in conn.notifies(timeout=1.0):
                            sender, _, rest = note.payload.partition(" ")
                            schema, _, data = rest.partition(" ")
                            self._call(schema, sender, data or None)
            except Exception as e:  # noqa: BLE001 - a listener never stops while needed: it reconnects
                if self._stop.is_set():
                    return
                log.warning("replica changes: listening failed (%s); again in %.1f s", type(e).__name__, delay)
                self._ready.set()
                missed = True
                self._stop.wait(delay)
                delay = min(delay * 2, 30.0)

    def _call(self, schema: str, sender: str | None, data: str | None = None) -> None:
        """The callbacks of `schema` (or of a message's topic), but the writer's own (None: everyone's)."""
        for replica, callback in list(self.callbacks.get(schema, ())):
            if replica == sender:
                continue
            try:
                callback() if data is None else callback(data, sender)
            except Exception:  # noqa: BLE001 - one service's reload must not stop another's
                log.exception("replica changes: reloading %s failed", schema)


class Lease:
    """The leader lease `name` on PostgreSQL: `held()` says whether this replica has it now, and
    tries to take it (at most every TRY_EVERY seconds) when not."""

    def __init__(self, url: str, name: str, replica: str) -> None:
        self.url, self.name, self.replica, self.key = url, name, replica, lock_key(f"lease:{name}")
        self._conn = None
        self._held = False
        self._tried = 0.0
        self._lock = threading.Lock()

    def held(self) -> bool:
        import psycopg
        with self._lock:
            try:
                if self._held:
                    self._conn.execute("SELECT 1")  # still our session (and so our lock)?
                    return True
                if time.monotonic() - self._tried < TRY_EVERY:
                    return False
                self._tried = time.monotonic()
                if self._conn is None or self._conn.closed or self._conn.broken:
                    self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
                self._held = bool(self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()[0])
                if self._held:
                    log.info("this replica (%s) leads %s", self.replica, self.name)
                return self._held
            except psycopg.Error as e:
                if self._held:
                    log.warning("this replica lost the lead of %s (%s)", self.name, type(e).__name__)
                self._held = False
                if self._conn is not None:
                    self._conn.close()
                self._conn = None
                return False

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
            self._conn, self._held = None, False


class Always:
    """The lease of a kernel that is alone (SQLite): always held."""

    def held(self) -> bool:
        return True

    def close(self) -> None:
        pass
