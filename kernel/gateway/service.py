"""The Gateway service: governed queries from plan to rows, running queries, and history.

A query is planned (`plan.py`: parse, allowlists, `select` per dataset, masks and filters at
every table reference), run on a locked-down engine that may read only the directories of the
depots it touches, and recorded in history with its rewritten SQL and the policies applied.
"""
from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import re
import threading
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from syscalls.errors import SyscallError

from ..depot import Address
from ..depot.registry import Depots
from ..minerva.clusters import Cluster
from ..minerva.duckdb_engine import Engine, Query, ident
from ..minerva.engines import Engines
from ..metis.client import Catalog
from ..store import Place, now
from ..writebehind import WriteBehind
from .client import Rules
from .errors import visible_candidates
from .masks import KEYED_HASH, keyed_hash
from .model import Dataset, GatewayError
from .plan import plan
from .policies import DataPolicy, PolicyError, dataset_matches, govern, governed_datasets, parse_data_policy
from .validate import check_filters, check_mask

MIGRATIONS = [
    """
    CREATE TABLE history (
        id TEXT PRIMARY KEY, time TEXT NOT NULL, user TEXT NOT NULL, sql TEXT NOT NULL, rewritten TEXT,
        policies TEXT NOT NULL, datasets TEXT NOT NULL, rows INTEGER, elapsed_ms REAL, errno TEXT);
    CREATE INDEX history_time ON history (time)
    """,
    "ALTER TABLE history ADD COLUMN key TEXT",  # the API key a query came with (a pod's: lineage)
]
_REMEMBER = ('INSERT INTO history (id, time, "user", sql, rewritten, policies, datasets, rows, elapsed_ms, errno, key) '
             "VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING")  # ids are unique: a repeat would be a bug
CANCEL_WAIT = 0.5  # seconds to wait for the replica running a query to say it cancelled it
_READ = {  # the datasets one key's successful queries read
    "sqlite": 'SELECT DISTINCT d.value FROM history h, json_each(h.datasets) d '
              'WHERE h."user"=? AND h.key=? AND h.errno IS NULL',
    "postgresql": 'SELECT DISTINCT d.value FROM history h, jsonb_array_elements_text(h.datasets::jsonb) d(value) '
                  'WHERE h."user"=? AND h.key=? AND h.errno IS NULL',
}


class Gateway:
    """Governed SQL; to other services, the `client.Governance` they may ask about policies."""

    def __init__(self, place: Place, depots: Depots, catalog: Catalog) -> None:
        """The `catalog` (Metis, through its client) gives datasets' column tags (what masks
        select on), hears which datasets each successful query read (usage), and lists the
        catalog's datasets (SHOW TABLES and "did you mean" offer those a user may select)."""
        self.db = place.database("gateway", MIGRATIONS)
        self._history = WriteBehind(self.db, _REMEMBER, "gateway: writing query history")  # off the query's path
        self.depots = depots
        self.catalog = catalog
        self._asked: dict[str, threading.Event] = {}  # query id -> set when the replica running it cancelled it
        self.db.on_message("gateway.cancel", self._cancel_asked)
        self.db.on_message("gateway.cancelled", self._cancel_answered)
        self.policies: dict[str, DataPolicy] = {}
        self.broken: dict[str, DataPolicy] = {}  # data policies that do not load, by name: what they named
        self.running: dict[str, tuple[str, Query | None, str, float]] = {}  # id -> (user, query, sql, started)
        self._cancelled: dict[str, bool] = {}  # ids cancelled before their engine started
        self._answered: set[str] = set()  # ids whose rows are all fetched: too late to cancel
        self._lock = threading.Lock()
        self._hash = keyed_hash(_key(place.directory / "gateway.key"))  # the key lives on in this closure only
        self.engines = Engines(Engine, per_key=4, most=8)  # locked-down databases kept between queries: a few
        # users at once each keep one, and with it the views their next query reads (idle ones close after 60 s)

    # --- data policies, fed by Poros -----------------------------------------------------------

    @staticmethod
    def admit(manifest: dict[str, Any]) -> None:
        data = manifest["policy"].get("data")
        if data is not None:
            try:
                parse_data_policy(manifest["name"], data)
            except PolicyError as e:
                raise SyscallError("EINVAL", str(e), field=e.field) from None

    def check_policy(self, manifest: dict[str, Any], may_select: Callable[[str], bool] = lambda address: True,
                     pending: Depots | None = None) -> None:
        """At apply (not at start: a stored policy always loads): EINVAL when a row filter or mask
        expression of the policy names a column a dataset of the catalog lacks, a value that does not
        fit it or a dataset the catalog does not have, or does not bind in DuckDB (`validate`);
        EACCES when a filter's subquery reads a dataset its author may not select (`may_select` of
        an address): the subquery reads for every user the policy applies to, as its author. The
        depots in `pending` are applied with the policy: the datasets it names are looked for there
        first."""
        data = manifest["policy"].get("data")
        if data is None:
            return
        policy = parse_data_policy(manifest["name"], data)  # (admitted: it parses)
        for name in policy.reads:
            depot, collection, dataset = name.split(".")
            if not may_select(f"dataos://{depot}:{collection}/{dataset}"):
                raise SyscallError("EACCES", f"policy {policy.name}: policy.data.filters: a subquery reads {name}, "
                                             "which you may not select", field="policy.data.filters", object=name)
        named = [*policy.reads, *([policy.exact_dataset] if policy.exact_dataset else [])]
        check = check_filters if policy.type == "filter" else check_mask
        check(policy, self._catalog_columns(named, pending))

    def _catalog_columns(self, named: Iterable[str], pending: Depots | None
                         ) -> Iterator[tuple[Dataset, dict[str, str]]]:
        """The catalog's datasets and their columns, and those `named` (``depot.collection.dataset``)
        that a depot has though no scan has put them in the catalog yet (or a depot in `pending`,
        applied with the policy), as the depot reads them: as a query would find them."""
        urns = dict.fromkeys(self.catalog.datasets())
        for name in named:
            parts = name.split(".")
            if len(parts) == 3:
                urns.setdefault(f"dataos://{parts[0]}:{parts[1]}/{parts[2]}")
        for urn in urns:
            a = Address.parse(urn)
            if not (a.collection and a.dataset):
                continue
            depots = pending if pending is not None and a.depot in pending.names() else self.depots
            try:
                columns = depots.columns(a.depot, a.collection, a.dataset)
            except SyscallError:
                continue  # a depot that is down, a dataset gone or not there: nothing to check it against
            yield Dataset(a.depot, a.collection, a.dataset, columns), columns

    def load(self, resource: dict[str, Any]) -> None:
        data = resource["policy"].get("data")
        self.broken.pop(resource["name"], None)
        if data is None:
            self.policies.pop(resource["name"], None)
        else:
            self.policies[resource["name"]] = parse_data_policy(resource["name"], data)

    def quarantine(self, resource: dict[str, Any]) -> None:
        """A stored data policy that does not load fails closed: the datasets it names are refused
        (every dataset, when not even that can be read) until it is applied again or deleted."""
        data = (resource.get("policy") or {}).get("data")
        if data is not None:
            self.policies.pop(resource["name"], None)
            self.broken[resource["name"]] = governed_datasets(data)

    def unload(self, name: str) -> None:
        self.policies.pop(name, None)
        self.broken.pop(name, None)

    def _closed(self, addresses: list[str]) -> None:
        """EACCES when a dataset read is named by a data policy that does not load."""
        for address in addresses:
            a = Address.parse(address)
            dataset = Dataset(a.depot, a.collection or "", a.dataset or "", {})
            for name, stood_for in list(self.broken.items()):
                if dataset_matches(stood_for, dataset):
                    raise SyscallError("EACCES", f"{a.depot}.{a.collection}.{a.dataset} is governed by data policy "
                                                 f"{name!r}, which does not load: apply it again (describe policy "
                                                 f"{name} says why)", object=address, policy=name)

    def governs_tag(self, tag: str) -> bool:
        """Does a data policy select on this column tag (`PII.*` always do)? Adding or removing it
        then takes `govern`, and it follows lineage into derived datasets."""
        return tag.startswith("PII.") or any(policy.selects_tag(tag) for policy in list(self.policies.values()))

    def rules(self, urn: str, columns: dict[str, str], column_tags: dict[str, frozenset[str]],
              caller_tags: frozenset[str]) -> Rules:
        """The masks and row filters a caller gets on a dataset, as a query would apply them."""
        depot, _, rest = urn.removeprefix("dataos://").partition(":")
        collection, _, name = rest.partition("/")
        found = govern(Dataset(depot, collection, name, columns, column_tags), list(self.policies.values()),
                       caller_tags)
        return Rules({column: policy for column, (policy, _mask) in found.masks.items()},
                     [policy for policy, _ in found.filters])

    # --- queries -------------------------------------------------------------------------------

    def execute(self, caller: Caller, sql: str, dialect: str, limit: int, depot: str | None,
                collection: str | None, timeout: float | None, cluster: Cluster,
                query_id: str | None = None) -> dict[str, Any]:
        """Run governed SQL and answer with at most `limit` rows as JSON values."""
        run = self._start(caller, sql, dialect, depot, collection, timeout, cluster, query_id)
        with run:
            rows = run.query.fetchmany(limit + 1 if limit >= 0 else -1)
            run.answered()
            truncated = limit >= 0 and len(rows) > limit
            rows = _as_json(rows[:limit] if limit >= 0 else rows, [d[1] for d in run.query.con.description])
            run.record["rows"] = len(rows)
            return {"id": run.id, "row_count": len(rows), "truncated": truncated, "columns": run.columns(),
                    "rows": rows, "elapsed_ms": run.elapsed_ms(), "governance": run.governance()}

    def stream(self, caller: Caller, sql: str, dialect: str, limit: int, depot: str | None,
               collection: str | None, timeout: float | None, cluster: Cluster,
               query_id: str | None = None) -> Iterator[Any]:
        """Run governed SQL; the result as a header, an Arrow schema, record batches and a footer.
        Planning and the engine's own checks happen now, so their errors are the call's."""
        run = self._start(caller, sql, dialect, depot, collection, timeout, cluster, query_id)

        def items() -> Iterator[Any]:
            with run:
                yield {"id": run.id, "columns": run.columns(), "governance": run.governance()}
                rows = 0
                for item in run.query.batches():
                    if type(item).__name__ == "RecordBatch":
                        if 0 <= limit <= rows:
                            break
                        if 0 <= limit < rows + item.num_rows:
                            item = item.slice(0, limit - rows)
                        rows += item.num_rows
                        run.record["rows"] = rows
                    yield item
                run.answered()
                yield {"row_count": rows, "elapsed_ms": run.elapsed_ms()}

        return items()

    def _start(self, caller: Caller, sql: str, dialect: str, depot: str | None, collection: str | None,
               timeout: float | None, cluster: Cluster, query_id: str | None) -> "_Run":
        """Plan, check the datasets against the cluster, start the engine: a running query. A
        caller-chosen id is registered first, so the query can be cancelled while it is planned."""
        if query_id is not None and not re.fullmatch(r"[A-Za-z0-9_\-]{1,64}", query_id):
            raise SyscallError("EINVAL", "id: letters, digits, _ and -, at most 64", field="id")
        chosen, query_id = query_id is not None, query_id or uuid.uuid4().hex[:12]
        with self._lock:
            if query_id in self.running or query_id in self._cancelled:
                raise SyscallError("EEXIST", f"a query with id {query_id!r} is running", field="id")
            if chosen and self._ran(query_id):  # ids are for good
                raise SyscallError("EEXIST", f"a query with id {query_id!r} has already run; choose another id",
                                   field="id")
            self.running[query_id] = (caller.id, None, sql, time.time())
        record = {"id": query_id, "user": caller.id, "key": caller.key, "sql": sql, "rewritten": None,
                  "policies": [], "datasets": [], "rows": None, "errno": None}
        run = _Run(self, record)
        try:
            try:
                governed = plan(sql, dialect=dialect, resolve=self._resolve, can_select=caller.can_select,
                                policies=list(self.policies.values()), user_tags=caller.tags,
                                default_depot=depot, default_collection=collection, known=self._known(caller))
            except GatewayError as e:
                raise SyscallError(e.code, e.message, **({"field": e.field} if e.code == "EINVAL" else {}),
                                   **({"position": list(e.position)} if e.position else {}))
            record.update(rewritten=governed.sql, policies=list(governed.policies), datasets=list(governed.datasets))
            self._closed(list(governed.datasets))
            addresses = [Address.parse(a) for a in governed.datasets]
            for address in addresses:
                cluster.check_depot(address.depot)
            directories = sorted({d for a in addresses for d in self.depots.get(a.depot).allowed_directories()})
            sources = {address: self.depots.source(a.depot, a.collection or "", a.dataset or "")  # views by address
                       for address, a in zip(governed.datasets, addresses)}
            setup = tuple(s for source in sources.values() for s in source.setup)
            limits = replace(cluster.limits, timeout=timeout or 300.0)
            run.governed = governed
            run.query = Query(governed.sql, directories, limits, setup=setup,
                              views={address: _pinned(source.sql, governed.columns.get(address))
                                     for address, source in sources.items()},
                              functions={KEYED_HASH: self._hash} if governed.hashed else None,
                              engines=self.engines, owner=caller.id)
            with self._lock:
                self.running[run.id] = (caller.id, run.query, sql, self.running[run.id][3])
                cancelled = self._cancelled.pop(run.id, None)
            if cancelled:  # while it was planned
                raise SyscallError("ECANCELED", "the query was cancelled")
            try:
                run.query.run()
            except SyscallError as e:
                raise visible_candidates(e, sql, dialect, lambda: [
                    c for a in addresses for c in self.depots.columns(a.depot, a.collection or "", a.dataset or "")
                ]) from None
            return run
        except BaseException as e:
            run.fail(e)
            raise

    def _known(self, caller: Caller) -> Callable[[], list[str]]:
        """The SQL names of the catalog's datasets that `caller` may select (asked only when needed)."""
        def names() -> list[str]:
            addresses = [Address.parse(urn) for urn in self.catalog.datasets()]
            return [f"{a.depot}.{a.collection}.{a.dataset}" for a in addresses
                    if a.collection and a.dataset
                    and caller.may_list(Dataset(a.depot, a.collection, a.dataset, {}))]
        return names

    def _resolve(self, name: str, collection: str | None, depot: str | None) -> Dataset | None:
        if not depot or not collection:
            return None
        try:
            columns = self.depots.columns(depot, collection, name)
        except SyscallError as e:
            if e.code == "ENOENT":
                return None  # not a dataset: the Gateway refuses the relation by name
            raise  # a depot that is down says so (EUNAVAIL), it does not vanish
        address = f"dataos://{depot}:{collection}/{name}"
        return Dataset(depot, collection, name, columns, self.catalog.column_tags(address))

    def cancel(self, query_id: str, user: str, operator: bool) -> dict[str, Any]:
        """Cancel a running query of `user` (any, for an operator): here, or on the replica that
        runs it (asked, and its answer awaited for CANCEL_WAIT seconds)."""
        if self._cancel_here(query_id, user, operator):
            return {"id": query_id, "cancelled": True}
        if self.db.dialect != "sqlite":
            answered = threading.Event()
            self._asked[query_id] = answered
            try:
                self.db.send("gateway.cancel", json.dumps({"id": query_id, "user": user, "operator": operator}))
                if answered.wait(CANCEL_WAIT):
                    return {"id": query_id, "cancelled": True}
            finally:
                self._asked.pop(query_id, None)
        raise SyscallError("ENOENT", f"no running query {query_id!r}")

    def _cancel_here(self, query_id: str, user: str, operator: bool) -> bool:
        with self._lock:
            entry = self.running.get(query_id)
            if entry is None or query_id in self._answered or (entry[0] != user and not operator):
                return False
            if entry[1] is None:
                self._cancelled[query_id] = True  # still being planned: cancelled when it starts
        if entry[1] is not None:
            entry[1].cancel()
        return True

    def _cancel_asked(self, data: str, sender: str) -> None:
        """Another replica asks: cancel this query if it runs here (as the asker's caller may)."""
        asked = json.loads(data)
        if self._cancel_here(asked["id"], asked["user"], asked["operator"]):
            self.db.send("gateway.cancelled", json.dumps({"id": asked["id"], "to": sender}))

    def _cancel_answered(self, data: str, sender: str) -> None:
        answer = json.loads(data)
        answered = self._asked.get(answer["id"]) if answer["to"] == self.db.replica else None
        if answered is not None:
            answered.set()

    def running_queries(self) -> list[dict[str, Any]]:
        with self._lock:
            entries = list(self.running.items())
        return [{"id": query_id, "user": user, "sql": sql, "elapsed_ms": round((time.time() - started) * 1000, 1)}
                for query_id, (user, _query, sql, started) in entries]

    def history(self, limit: int, user: str | None) -> list[dict[str, Any]]:
        self._history.flush()
        sql, params = "SELECT * FROM history", []
        if user is not None:
            sql += ' WHERE "user"=?'
            params.append(user)
        rows = self.db.query(sql + " ORDER BY time DESC LIMIT ?", [*params, max(0, limit)])
        return [{**dict(r), "policies": json.loads(r["policies"]), "datasets": json.loads(r["datasets"])}
                for r in rows]

    def datasets_read(self, user: str, key: str) -> list[str]:
        """The datasets one API key's successful queries read (a job's inputs, for lineage)."""
        self._history.flush()
        rows = self.db.query(_READ[self.db.dialect], [user, key])
        return sorted(r["value"] for r in rows)

    def _remember(self, record: dict[str, Any], elapsed_ms: float) -> None:
        self._history.put((record["id"], now(), record["user"], record["sql"], record["rewritten"],
                           json.dumps(record["policies"]), json.dumps(record["datasets"]), record["rows"],
                           round(elapsed_ms, 2), record["errno"], record["key"]))
        if record["errno"] is None and record["datasets"]:
            self.catalog.used(record["datasets"])

    def _ran(self, query_id: str) -> bool:
        """Is `query_id` in history (written or about to be)?"""
        self._history.flush()
        return bool(self.db.query("SELECT 1 FROM history WHERE id=?", [query_id])) or \
            any(row[0] == query_id for row in self._history.unwritten())

    def close(self) -> None:
        self.engines.close()
        self._history.close()
        self.db.close()


@dataclass(frozen=True)
class Caller:
    """Who runs a query: their id, their tags (for data policies), their `select` check (a denial
    is evidence: it is audited when the query fails on it), the same check for listings and hints
    (which audits nothing: screening a catalog is not asking for its datasets), and the name of
    the API key they came with."""
    id: str
    tags: frozenset[str]
    can_select: Callable[[Dataset], bool]
    may_list: Callable[[Dataset], bool]
    key: str | None = None


class _Run:
    """One query from start to history: `with run:` ends it (engine closed, history written)."""

    def __init__(self, gateway: Gateway, record: dict[str, Any]) -> None:
        self.gateway, self.record, self.id = gateway, record, record["id"]
        self.started = time.perf_counter()
        self.governed: Any = None
        self.query: Query | None = None
        self.ended = False

    def columns(self) -> list[dict[str, Any]]:
        names = [d[0] for d in self.query.con.description]
        types = [str(d[1]) for d in self.query.con.description]
        return [{"name": n, "type": t, "masked": self.governed.masked.get(n)} for n, t in zip(names, types)]

    def governance(self) -> dict[str, Any]:
        return {"policies": list(self.governed.policies), "datasets": list(self.governed.datasets),
                "sql": self.governed.sql}

    def answered(self) -> None:
        """Every row is fetched: from now on the query cannot be cancelled; if it was, ECANCELED."""
        with self.gateway._lock:
            if not self.query.cancelled:
                self.gateway._answered.add(self.id)
                return
        raise SyscallError("ECANCELED", "the query was cancelled")

    def elapsed_ms(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 2)

    def fail(self, error: BaseException) -> None:
        _locate(error)
        self.end(error.code if isinstance(error, SyscallError) else "EIO")

    def end(self, errno: str | None = None) -> None:
        """Close the engine and write history, once."""
        if self.ended:
            return
        self.ended = True
        self.record["errno"] = errno
        self.gateway._remember(self.record, (time.perf_counter() - self.started) * 1000)
        with self.gateway._lock:  # in history before it is no longer running: its id is never free
            self.gateway.running.pop(self.id, None)
            self.gateway._cancelled.pop(self.id, None)
            self.gateway._answered.discard(self.id)
        if self.query is not None:  # no longer cancellable: its engine may serve another query next
            self.query.close()

    def __enter__(self) -> "_Run":
        return self

    def __exit__(self, kind: Any, error: Any, tb: Any) -> None:
        _locate(error)
        self.end(None if error is None else error.code if isinstance(error, SyscallError)
                 else "ECANCELED" if isinstance(error, GeneratorExit) else "EIO")


def _pinned(source: str, columns: tuple[str, ...] | None) -> str:
    """The table expression of a dataset's view: the `columns` it was planned with, of `source` (all
    of it when unknown), so that a query reads no column it was not planned for, however the data
    changed since."""
    if not columns:
        return source
    return f"(SELECT {', '.join(map(ident, columns))} FROM {source})"


def _locate(error: BaseException | None) -> None:
    """A query's EINVAL (the planner's, the engine's) is the SQL's fault unless it names another field."""
    if isinstance(error, SyscallError) and error.code == "EINVAL":
        error.details.setdefault("field", "sql")


_AS_IS = frozenset({"VARCHAR", "BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT",
                    "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE"})  # values JSON takes as they are


def _as_json(rows: list[tuple], types: list[Any]) -> list[list[Any]]:
    """`rows` as JSON values, converting only the columns whose type needs it."""
    plain = [str(kind) in _AS_IS for kind in types]
    if all(plain):
        return list(map(list, rows))
    return [[v if keep else _json(v) for v, keep in zip(row, plain)] for row in rows]


def _json(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime, dt.time, dt.timedelta, decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def _key(path: Path) -> bytes:
    """The kernel's secret for keyed hashing (a `hash` mask cannot be reversed by a dictionary)."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(32))
    return path.read_bytes()
