"""The catalog source of completion: names served from an in-memory snapshot, kept fresh by a
background thread, so that the typing path never waits on a syscall.

The snapshot is immutable and replaced whole (one attribute assignment), so a reader sees the old
snapshot or the new one, never half an update, and never takes a lock. Only the refresh thread
builds snapshots. What it loads:

- at start, every `INTERVAL` seconds and on `refresh()` (the REPL calls it after `cd` or `apply`):
  the depots, the resource names by type (and their workspaces), the resource types, the pods,
  and the collections/datasets under the current directory;
- lazily, on first demand: a depot's collections, a collection's datasets and a dataset's columns.
  A reader gets what is cached now (maybe nothing) and the load is queued for the thread; an entry
  older than `STALE` seconds is served and reloaded the same way. Columns are LRU-bounded.

Errors of the refresh thread are swallowed: the shell keeps the last snapshot. One client serves
both threads: the Unix-socket transport keeps a connection per thread, HTTP(S) goes through a
thread-safe httpx client, and the embedded kernel serves concurrent calls (as its daemon does).
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Mapping

from syscalls.errors import SyscallError

from .state import CatalogSource, ShellState

log = logging.getLogger(__name__)

INTERVAL = 30.0        # seconds between full refreshes
STALE = 60.0           # a lazily loaded entry older than this is reloaded when next asked for
RETRY = 5.0            # seconds before a failed lazy load is tried again
MAX_COLUMNS = 256      # datasets whose columns are kept (least recently used dropped)
MAX_PODS = 2000        # the most recent pods are enough to complete
POLL = 1.0             # the thread notices a change of directory within this many seconds

_EMPTY: Mapping[Any, Any] = {}


@dataclass(frozen=True)
class Snapshot:
    """Everything completion can know, at one moment. Never mutated once published."""
    depots: tuple[str, ...] = ()
    collections: Mapping[str, tuple[str, ...]] = field(default_factory=dict)            # depot →
    datasets: Mapping[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)   # (depot, collection) →
    columns: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)    # urn → ((name, type), …)
    resources: Mapping[str, tuple[str, ...]] = field(default_factory=dict)              # type → names
    workspaces: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    pods: tuple[str, ...] = ()
    loaded: Mapping[Any, float] = field(default_factory=dict)  # lazy key → monotonic time of its load
    refreshed: float = 0.0                                     # time of the last full refresh (0: none yet)


def urn_of(depot: str, collection: str, dataset: str) -> str:
    return f"dataos://{depot}:{collection}/{dataset}"


class SnapshotSource:
    """A `CatalogSource` over `self.snapshot`; `want()` is where lazy loads are asked for
    (here: nowhere — a static source for tests and benchmarks)."""

    def __init__(self, snapshot: Snapshot | None = None) -> None:
        self.snapshot = snapshot or Snapshot()
        self._touched: dict[str, float] = {}  # urn → when completion last read its columns

    def want(self, key: tuple) -> None:
        """Ask for a lazy load (`("collections", depot)`, `("datasets", depot, collection)`,
        `("columns", urn)`); never blocks."""

    def settle(self, keys: Iterable[tuple], timeout: float) -> None:
        """Wait up to `timeout` seconds until what `keys` name is loaded (`("all",)`: the first full
        refresh): a Tab pressed as the shell starts gets the catalog, not an empty snapshot."""

    def _fresh(self, snap: Snapshot, key: tuple) -> None:
        at = snap.loaded.get(key)
        if at is None or time.monotonic() - at > STALE:
            self.want(key)

    # --- CatalogSource --------------------------------------------------------------------

    def depots(self) -> list[str]:
        return list(self.snapshot.depots)

    def collections(self, depot: str) -> list[str]:
        snap = self.snapshot
        self._fresh(snap, ("collections", depot))
        return list(snap.collections.get(depot, ()))

    def datasets(self, depot: str, collection: str) -> list[str]:
        snap = self.snapshot
        self._fresh(snap, ("datasets", depot, collection))
        return list(snap.datasets.get((depot, collection), ()))

    def columns(self, urn: str) -> list[str]:
        return [name for name, _ in self.column_types(urn)]

    def column_types(self, urn: str) -> list[tuple[str, str]]:
        """(name, type) of a dataset's columns; the type may be ""."""
        snap = self.snapshot
        self._touched[urn] = time.monotonic()  # for the LRU (one dict store: atomic)
        self._fresh(snap, ("columns", urn))
        return list(snap.columns.get(urn, ()))

    def resources(self, type_name: str) -> list[str]:
        return list(self.snapshot.resources.get(type_name, ()))

    def pods(self) -> list[str]:
        return list(self.snapshot.pods)

    # --- beyond the protocol (completion uses them when present) ---------------------------

    def types(self) -> list[str]:
        return list(self.snapshot.types)

    def workspaces(self) -> list[str]:
        return list(self.snapshot.workspaces)


class RefreshingSource(SnapshotSource):
    """The snapshot of one kernel, refreshed by a daemon thread. `start_source()` makes one."""

    def __init__(self, client: Any, state: ShellState, interval: float = INTERVAL) -> None:
        super().__init__()
        self.client = client
        self.state = state
        self.interval = interval
        self._pending: dict[tuple, None] = {}   # ordered set of lazy keys asked for
        self._lock = threading.Lock()            # guards _pending only, held for microseconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._full = True                        # a full refresh is due
        self._failed: dict[tuple, float] = {}   # key → when its load failed (written by the thread only)
        self.errors = 0                          # refresh errors swallowed so far (for tests and `\debug`)
        self.generation = 0                      # snapshots published so far
        self._published = threading.Condition()  # notified at each snapshot published
        self._thread = threading.Thread(target=self._run, name="dataos-catalog-source", daemon=True)

    def start(self) -> "RefreshingSource":
        self._thread.start()
        return self

    def refresh(self) -> None:
        """Reload everything soon (in the background): after `cd`, `apply`, `delete`…"""
        self._full = True
        self._wake.set()

    def close(self, timeout: float = 2.0) -> None:
        """Stop the thread (waits up to `timeout` for a syscall in flight)."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def settle(self, keys: Iterable[tuple], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._published:
            while missing := self._missing(keys):
                for key in missing:
                    if key[0] != "all":
                        self.want(key)
                left = deadline - time.monotonic()
                if left <= 0 or self._stop.is_set():
                    return
                self._published.wait(left)

    def _missing(self, keys: Iterable[tuple]) -> list[tuple]:
        """The keys not loaded yet (one whose load failed counts as done: it was tried)."""
        snap = self.snapshot
        return [k for k in keys if k not in self._failed
                and not (snap.refreshed if k[0] == "all" else k in snap.loaded)]

    def want(self, key: tuple) -> None:
        if key in self._pending:  # a racy peek is fine: worst case the key is queued twice
            return
        failed = self._failed.get(key)
        if failed is not None and time.monotonic() - failed < RETRY:
            return
        with self._lock:
            self._pending[key] = None
        self._wake.set()

    # --- the thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        cwd = None
        next_full = 0.0
        try:
            while not self._stop.is_set():
                if self.state.cwd != cwd:  # entering a depot or collection loads it
                    cwd = self.state.cwd
                    self._want_cwd()
                if self._full or time.monotonic() >= next_full:
                    self._full = False
                    self._guard(self._refresh_all)
                    next_full = time.monotonic() + self.interval
                    self._want_cwd(force=True)
                self._drain()
                if self._stop.is_set():
                    break
                self._wake.wait(max(0.0, min(POLL, next_full - time.monotonic())))
                self._wake.clear()
        finally:
            self._close_thread_connection()

    def _want_cwd(self, force: bool = False) -> None:
        depot, collection = self.state.depot, self.state.collection
        keys = []
        if depot:
            keys.append(("collections", depot))
        if depot and collection:
            keys.append(("datasets", depot, collection))
        for key in keys:
            if force:
                self._failed.pop(key, None)
            self.want(key)

    def _drain(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                if not self._pending:
                    return
                key = next(iter(self._pending))
                del self._pending[key]
            try:
                self._load(key)
                self._failed.pop(key, None)
            except Exception as e:  # noqa: BLE001 — completion must survive anything
                self._failed[key] = time.monotonic()
                self._swallow(e)
                with self._published:  # a waiting Tab stops waiting for it
                    self._published.notify_all()
                if isinstance(e, SyscallError) and e.code == "ENOENT":
                    self._store_lazy(key, ())  # gone: remember it is empty

    def _guard(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            self._swallow(e)
            self._failed[("all",)] = time.monotonic()
            with self._published:
                self._published.notify_all()
        else:
            self._failed.pop(("all",), None)

    def _swallow(self, e: Exception) -> None:
        self.errors += 1
        log.debug("catalog source: %s", e, exc_info=not isinstance(e, SyscallError))

    def _publish(self, snap: Snapshot) -> None:
        with self._published:
            self.snapshot = snap  # the one assignment readers can observe
            self.generation += 1
            self._published.notify_all()

    def _refresh_all(self) -> None:
        c = self.client
        by_type: dict[str, set[str]] = {}
        workspaces: set[str] = set()
        for r in c.resource.list():
            by_type.setdefault(r.get("type", ""), set()).add(r.get("name", ""))
            if r.get("workspace"):
                workspaces.add(r["workspace"])
        resources = {t: tuple(sorted(n for n in names if n)) for t, names in by_type.items()}
        depots = resources.get("depot", ())
        types = tuple(sorted(t["type"] for t in c.resource.types()))
        pods = sorted(c.pod.list(), key=lambda p: p.get("created") or "", reverse=True)[:MAX_PODS]
        snap = self.snapshot
        known = set(depots)
        collections = {d: v for d, v in snap.collections.items() if d in known}
        datasets = {k: v for k, v in snap.datasets.items() if k[0] in known}
        self._publish(replace(snap, depots=depots, resources=resources, workspaces=tuple(sorted(workspaces)),
                              types=types, pods=tuple(sorted({p["name"] for p in pods})),
                              collections=collections, datasets=datasets, refreshed=time.monotonic()))

    def _load(self, key: tuple) -> None:
        kind = key[0]
        if kind == "collections":
            rows = self.client.dataset.list(address=f"dataos://{key[1]}")
            self._store_lazy(key, tuple(sorted(r["name"] for r in rows)))
        elif kind == "datasets":
            rows = self.client.dataset.list(address=f"dataos://{key[1]}:{key[2]}")
            self._store_lazy(key, tuple(sorted(r["name"] for r in rows)))
        elif kind == "columns":
            entry = self.client.catalog.get(ref=key[1])
            schema = (entry.get("aspects") or {}).get("schema") or {}
            self._store_lazy(key, tuple((str(c.get("name")), str(c.get("type") or ""))
                                        for c in schema.get("columns") or ()))

    def _store_lazy(self, key: tuple, value: tuple) -> None:
        snap = self.snapshot
        loaded = dict(snap.loaded)
        loaded[key] = time.monotonic()
        kind = key[0]
        if kind == "collections":
            new = replace(snap, collections={**snap.collections, key[1]: value}, loaded=loaded)
        elif kind == "datasets":
            new = replace(snap, datasets={**snap.datasets, (key[1], key[2]): value}, loaded=loaded)
        else:
            columns = dict(snap.columns)
            columns[key[1]] = value
            if len(columns) > MAX_COLUMNS:  # drop the least recently read
                touched = self._touched
                for old in sorted(columns, key=lambda u: touched.get(u, 0.0))[:len(columns) - MAX_COLUMNS]:
                    del columns[old]
                    loaded.pop(("columns", old), None)
                    touched.pop(old, None)
            new = replace(snap, columns=columns, loaded=loaded)
        self._publish(new)

    def _close_thread_connection(self) -> None:
        """The Unix-socket transport keeps a connection per thread: close this thread's."""
        try:
            from syscalls.transports import UnixSocket
            transport = getattr(self.client, "transport", None)
            if isinstance(transport, UnixSocket):
                transport.close()  # drops the calling thread's connection only
        except Exception:  # noqa: BLE001
            pass


def start_source(client: Any, state: ShellState) -> CatalogSource:
    """A `RefreshingSource` for `client`, its first load already under way (in the background)."""
    return RefreshingSource(client, state).start()
