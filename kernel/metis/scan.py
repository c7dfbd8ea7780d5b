"""Scanners: the collections, datasets, schemas, row counts, profiles and PII suggestions of a depot.

`scan_depot` lists every dataset of a depot, then describes each one whose fingerprint changed
since the catalog last saw it:

- file depots: a hash of the dataset's files' (path, size, mtime_ns) — a stat per file, no
  engine work at all for an unchanged dataset;
- database depots (duckdb, sqlite, postgresql, mysql): a hash of the schema (`DESCRIBE`) and the
  row count (`count(*)`: table statistics in DuckDB, a b-tree walk in SQLite, a server-side count
  in PostgreSQL and MySQL).

All engine work runs on one locked-down connection per scan (`duckdb_engine.Query`, with the
depot's allowed directories and setup, read-only): a connection per dataset would repeat the
depot's setup (an ATTACH costs 0.2–0.4 s for a DuckDB file of 1,000 tables). A profile is two
or three queries: typed aggregates (min, max, count, and count(DISTINCT) when they read every row
of a small enough dataset) of every profiled column —
not `SUMMARIZE`, which returns min/max as text and computes quantiles: alone it takes longer than
this whole scan — the distinct counts, then the top values of string-like or low-cardinality columns. Past the
budget's rows both read a Bernoulli sample (streamed; a reservoir sample of wide rows is held in
memory: 5x slower and twice the memory on 200 text columns). Distinct counts read every row
(`distinct.py`): a sample cannot tell them.
Profiled values are raw: the catalog service masks them; nothing here logs them.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from syscalls.errors import SyscallError

from ..clock import iso
from ..depot import Address, Source
from ..depot.attached import AttachedDepot, ident
from ..depot.file import FileDepot
from ..depot.registry import DRIVERS
from ..minerva.duckdb_engine import Limits, Query
from .distinct import distinct_counts
from .pii import suggest

NESTED = re.compile(r"[\[\]]|^(STRUCT|MAP|UNION|LIST)\b", re.IGNORECASE)
OPAQUE = frozenset({"BLOB", "BIT", "GEOMETRY"})  # no min, max or distinct values worth keeping
STRINGS = frozenset({"VARCHAR", "ENUM", "JSON"})
#: types whose values reach Python as JSON-safe values; others (dates, decimals…) are cast to text
NATIVE = frozenset({"BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                    "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "VARCHAR"})
LOW_CARDINALITY = 100  # distinct values up to which any column gets top values
HISTOGRAM = 1000  # distinct values up to which top values come from histogram(), not a GROUP BY
NEAR_UNIQUE = 0.8  # approx. distinct / non-null from which top values say nothing (each value once)
MAX_TEXT = 256  # characters kept of a profiled string value


@dataclass
class Budget:
    sample_rows: int = 100_000  # profiles of larger datasets use a sample of about this many rows
    top_values: int = 5
    max_columns_profiled: int = 200
    timeout: float = 120.0  # seconds, per dataset
    exact_distinct_rows: int = 1_000_000  # distinct counts of larger datasets are HyperLogLog estimates


@dataclass
class Scanned:
    """One dataset's metadata, ready for the catalog: aspects as in `model.py`."""
    urn: str
    aspects: dict[str, dict]


@dataclass
class Progress:
    """What a progress bar shows; the last one (`done`) carries every urn seen."""
    depot: str
    done: int
    total: int
    dataset: str | None
    state: str  # "listing" | "scanned" | "unchanged" | "failed" | "done"
    error: str | None = None
    seen: set[str] | None = None


def scan_depot(name: str, driver: Any, known: dict[str, str], budget: Budget = Budget(),
               cancelled: Callable[[], bool] = lambda: False) -> Iterator[Progress | Scanned]:
    """Scan depot `name`, skipping datasets whose fingerprint is `known[urn]`.

    Raises EUNAVAIL when the depot cannot be read at all (before any Scanned), ECANCELED once
    `cancelled()` (polled between datasets and, from a thread, during a query) is true. A dataset
    that fails yields Progress("failed") and the scan goes on."""
    yield Progress(name, 0, 0, None, "listing")
    sources = _listing(name, driver)
    total = len(sources)
    setup = tuple(dict.fromkeys(s for source in sources.values() for s in source.setup))
    with _Engine(name, driver, setup, budget.timeout, cancelled) as engine:
        for done, (urn, source) in enumerate(sources.items(), 1):
            if cancelled():
                raise _cancelled(name)
            try:
                with engine.dataset():
                    scanned = _scan(engine, driver, urn, source, known.get(urn), budget)
            except SyscallError as e:
                if e.code == "ECANCELED":
                    raise _cancelled(name) from None
                yield Progress(name, done, total, urn, "failed", error=str(e))
                continue
            except OSError as e:  # a file removed or unreadable since the listing
                yield Progress(name, done, total, urn, "failed", error=f"EIO: {e.strerror}: {e.filename}")
                continue
            if scanned is not None:
                yield scanned
            yield Progress(name, done, total, urn, "unchanged" if scanned is None else "scanned")
    yield Progress(name, total, total, None, "done", seen=set(sources))


def _cancelled(depot: str) -> SyscallError:
    return SyscallError("ECANCELED", f"the scan of depot {depot!r} was cancelled", depot=depot)


def _listing(name: str, driver: Any) -> dict[str, Source]:
    """urn -> Source of every dataset (EUNAVAIL when the depot is unreachable)."""
    out = {}
    setup = driver.setup() if isinstance(driver, AttachedDepot) else ()
    for collection in driver.collections():
        for dataset in _skip_gone(lambda: driver.datasets(collection), []):
            if isinstance(driver, AttachedDepot):  # driver.source() would list the collection again
                source = Source(f"{ident(driver.alias)}.{ident(collection)}.{ident(dataset)}", (), setup)
            else:
                source = _skip_gone(lambda: driver.source(collection, dataset), None)
            if source is not None:
                out[str(Address(name, collection, dataset))] = source
    return out


def _skip_gone(read: Callable[[], Any], default: Any) -> Any:
    """What `read` returns, or `default` when its collection or dataset vanished since listed."""
    try:
        return read()
    except SyscallError as e:
        if e.code != "ENOENT":
            raise
        return default


def _scan(engine: "_Engine", driver: Any, urn: str, source: Source, known: str | None,
          budget: Budget) -> Scanned | None:
    """The dataset's aspects, or None when its fingerprint is `known`."""
    files = _files(source.paths) if isinstance(driver, FileDepot) else None
    if files is not None and _digest(files) == known:
        return None
    columns = _schema(engine, source.sql)
    rows = engine.rows(f"SELECT count(*) FROM {source.sql}")[0][0]
    fingerprint = _digest(files if files is not None else [columns, rows])
    if fingerprint == known:
        return None
    profile = _profile(engine, source.sql, columns, rows, budget)
    properties = {"rows": rows, "bytes": sum(f[1] for f in files) if files is not None else None,
                  "format": _format(driver), "fingerprint": fingerprint, "scanned": iso(datetime.now(timezone.utc))}
    return Scanned(urn, {"schema": {"columns": columns}, "properties": properties, "profile": profile,
                         "suggestions": {"columns": suggest(columns, profile)}})


def _files(paths: tuple[str, ...]) -> list[tuple[str, int, int]]:
    """(path, size, mtime_ns) of the files behind a dataset (a file, or every file below a folder)."""
    out = []
    for path in map(Path, paths):
        for file in sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]:
            st = os.stat(file)
            out.append((str(file), st.st_size, st.st_mtime_ns))
    return out


def _digest(value: Any) -> str:
    return hashlib.blake2b(json.dumps(value, sort_keys=True, default=str).encode(), digest_size=16).hexdigest()


def _format(driver: Any) -> str:
    if isinstance(driver, FileDepot):
        return driver.format
    return next((kind for kind, cls in DRIVERS.items() if type(driver) is cls), type(driver).__name__)


def _schema(engine: "_Engine", sql: str) -> list[dict]:
    rows = engine.rows(f"DESCRIBE SELECT * FROM {sql}")
    return [{"name": r[0], "type": r[1], "nullable": r[2] != "NO"} for r in rows]


def _profile(engine: "_Engine", sql: str, columns: list[dict], rows: int, budget: Budget) -> dict:
    """min, max, null_pct and top values per column; past `budget.sample_rows` rows, over a Bernoulli
    sample of about that many (streamed: a reservoir of wide rows would be held in memory). Distinct
    counts are of every row: exact up to `budget.exact_distinct_rows` rows, estimated past them."""
    sampled = rows > budget.sample_rows
    relation = (f"(SELECT * FROM {sql} USING SAMPLE bernoulli({100 * budget.sample_rows / rows:.6f}%))"
                if sampled else sql)
    profiled = columns[:budget.max_columns_profiled]
    exact_here = not sampled and rows <= budget.exact_distinct_rows  # the aggregate reads every row anyway
    n, stats, present = _stats(engine, relation, profiled, exact_here)
    kind = "exact"
    if not exact_here:
        kind, distinct = distinct_counts(engine.rows, sql, [c["name"] for c in profiled if _comparable(c["type"])],
                                         rows, budget.exact_distinct_rows)
        for name, count in distinct.items():  # non-null values of every row: counted, or scaled from the sample
            present[name] = present[name] if not sampled else round(present[name] * rows / n) if n else 0
            stats[name]["distinct"] = count if kind == "exact" or not n else min(count, present[name])
    wanted = [c for c in profiled if _wants_top(c, stats[c["name"]], present[c["name"]])]
    if wanted and budget.top_values > 0:
        for column, top in zip(wanted, _top(engine, relation, wanted, stats, budget.top_values)):
            stats[column["name"]]["top"] = top
    return {"sampled": sampled, "sample_rows": n, "distinct": kind, "columns": stats}


def _stats(engine: "_Engine", relation: str, columns: list[dict], exact: bool
           ) -> tuple[int, dict[str, dict], dict[str, int]]:
    """The rows profiled, column name -> {min, max, null_pct, distinct, top: None}, and column name
    -> its non-null values. `distinct` is counted here with `exact` (the relation is every row and
    few enough), else left None for `distinct_counts`."""
    parts = ["count(*)"]
    for column in columns:
        c = ident(column["name"])
        parts += ([_text(f"min({c})", column), _text(f"max({c})", column),
                   f"count(DISTINCT {c})" if exact else "NULL"] if _comparable(column["type"])
                  else ["NULL", "NULL", "NULL"]) + [f"count({c})"]
    row = engine.rows(f"SELECT {', '.join(parts)} FROM {relation}")[0]
    n, stats, present = row[0], {}, {}
    for i, column in enumerate(columns):
        low, high, distinct, values = row[1 + 4 * i:5 + 4 * i]
        stats[column["name"]] = {"min": _plain(low), "max": _plain(high),
                                 "null_pct": round(100 * (n - values) / n, 2) if n else None,
                                 "distinct": distinct, "top": None}
        present[column["name"]] = values
    return n, stats, present


def _top(engine: "_Engine", relation: str, columns: list[dict], stats: dict[str, dict], k: int) -> list[list[list]]:
    """The `k` most frequent non-null values of each column, as [[value, count], ...], in one query:
    histogram() for columns of up to HISTOGRAM distinct values (one pass for them all), a grouped
    LIMIT k subquery for the others. A leading count(*) keeps the query an aggregate."""
    parts = ["count(*)"]
    for column in columns:
        c = ident(column["name"])
        parts.append(f"histogram({_text(c, column)})" if stats[column["name"]]["distinct"] <= HISTOGRAM else
                     f"(SELECT list({{'v': {_text('v', column)}, 'n': n}}) FROM (SELECT {c} AS v, count(*) AS n "
                     f"FROM {relation} WHERE {c} IS NOT NULL GROUP BY ALL ORDER BY n DESC, v LIMIT {int(k)}))")
    row = engine.rows(f"SELECT {', '.join(parts)} FROM {relation}")[0]
    return [_ranked(counts, k) for counts in row[1:]]


def _ranked(counts: dict | list | None, k: int) -> list[list]:
    """[[value, count], ...] from a histogram() map or a list of {v, n}: most frequent first, then by value."""
    pairs = counts.items() if isinstance(counts, dict) else [(item["v"], item["n"]) for item in counts or ()]
    ranked = sorted(((v, n) for v, n in pairs if v is not None), key=lambda pair: (-pair[1], pair[0]))
    return [[_plain(v), n] for v, n in ranked[:k]]


def _base(type_name: str) -> str:
    return type_name.split("(", 1)[0].strip().upper()


def _comparable(type_name: str) -> bool:
    return not NESTED.search(type_name) and _base(type_name) not in OPAQUE


def _text(sql: str, column: dict) -> str:
    """`sql` as a value Python receives JSON-safe: text unless the column's type is NATIVE."""
    return sql if _base(column["type"]) in NATIVE else f"CAST({sql} AS VARCHAR)"


def _wants_top(column: dict, stats: dict, present: int) -> bool:
    """String-like or low-cardinality columns, unless nearly every value is distinct."""
    distinct = stats["distinct"]
    if distinct is None or not present or distinct >= NEAR_UNIQUE * present:
        return False
    return _base(column["type"]) in STRINGS or distinct <= LOW_CARDINALITY


def _plain(value: Any) -> Any:
    """A JSON-safe value (non-finite floats as text, long text cut)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str) and len(value) > MAX_TEXT:
        return value[:MAX_TEXT] + "…"
    return value


class _Engine:
    """One locked-down engine connection for a whole scan (a `Query` whose SQL each `rows` call
    replaces), a deadline per dataset, and a thread that interrupts the running query past that
    deadline or once the caller cancels."""

    POLL = 0.05  # seconds between the watcher's looks

    def __init__(self, depot: str, driver: Any, setup: tuple[str, ...], timeout: float,
                 cancelled: Callable[[], bool]) -> None:
        import duckdb
        try:
            self.query = Query("SELECT 1", driver.allowed_directories(), Limits(timeout=None),
                               setup=("SET enable_progress_bar = false", *setup))
        except duckdb.Error:  # its text may carry a connection string: say only where
            where = driver.describe() if hasattr(driver, "describe") else "its source"
            raise SyscallError("EUNAVAIL", f"depot {depot!r}: cannot open {where}", depot=depot) from None
        self.timeout, self.cancelled = timeout, cancelled
        self.deadline: float | None = None
        self.expired = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name=f"scan-{depot}", daemon=True)
        self._watcher.start()

    def __enter__(self) -> "_Engine":
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._watcher.join()
        self.query.close()

    def _watch(self) -> None:
        while not self._stop.wait(self.POLL):
            with self._lock:
                if self.deadline is not None and not self.expired and time.monotonic() > self.deadline:
                    self.expired = True
                    self.query.con.interrupt()
                elif self.cancelled():
                    self.query.cancel()

    @contextmanager
    def dataset(self) -> Iterator[None]:
        """The scope of one dataset's queries: its `timeout` runs from here."""
        with self._lock:
            self.deadline, self.expired = time.monotonic() + self.timeout, False
        try:
            yield
        finally:
            with self._lock:
                self.deadline = None

    def rows(self, sql: str) -> list[tuple]:
        """Run `sql` (built here, never user text) on the scan's connection."""
        if self.cancelled():
            raise SyscallError("ECANCELED", "the scan was cancelled")
        if self.expired:
            raise self._late()
        self.query.sql = sql
        try:
            self.query.run()
            return self.query.fetchmany(-1)
        except SyscallError as e:
            if e.code == "ECANCELED" and self.expired:
                raise self._late() from None
            raise

    def _late(self) -> SyscallError:
        return SyscallError("ETIMEDOUT", f"the dataset's scan ran past its {self.timeout:g} s budget")
