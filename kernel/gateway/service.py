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
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Callable

from syscalls.errors import SyscallError

from ..depot import Address
from ..depot.registry import Depots
from ..minerva.duckdb_engine import Limits, Query
from ..store import Database, now
from .model import Dataset, GatewayError
from .plan import plan
from .policies import DataPolicy, PolicyError, parse_data_policy

MIGRATIONS = [
    """
    CREATE TABLE history (
        id TEXT PRIMARY KEY, time TEXT NOT NULL, user TEXT NOT NULL, sql TEXT NOT NULL, rewritten TEXT,
        policies TEXT NOT NULL, datasets TEXT NOT NULL, rows INTEGER, elapsed_ms REAL, errno TEXT);
    CREATE INDEX history_time ON history (time)
    """,
]


class Gateway:
    def __init__(self, state_dir: Path, depots: Depots) -> None:
        self.db = Database(state_dir / "gateway.db", MIGRATIONS)
        self.depots = depots
        self.policies: dict[str, DataPolicy] = {}
        self.running: dict[str, tuple[str, Query]] = {}  # id -> (user, query)
        self._lock = threading.Lock()
        self._key = _key(state_dir / "gateway.key")

    # --- data policies, fed by Poros -----------------------------------------------------------

    @staticmethod
    def admit(manifest: dict[str, Any]) -> None:
        data = manifest["policy"].get("data")
        if data is not None:
            try:
                parse_data_policy(manifest["name"], data)
            except PolicyError as e:
                raise SyscallError("EINVAL", str(e), field=e.field) from None

    def load(self, resource: dict[str, Any]) -> None:
        data = resource["policy"].get("data")
        if data is None:
            self.policies.pop(resource["name"], None)
        else:
            self.policies[resource["name"]] = parse_data_policy(resource["name"], data)

    def unload(self, name: str) -> None:
        self.policies.pop(name, None)

    # --- queries -------------------------------------------------------------------------------

    def execute(self, user: str, user_tags: frozenset[str], can_select: Callable[[Dataset], bool], sql: str,
                dialect: str, limit: int, depot: str | None, collection: str | None,
                timeout: float | None) -> dict[str, Any]:
        query_id = uuid.uuid4().hex[:12]
        started = time.perf_counter()
        record = {"id": query_id, "user": user, "sql": sql, "rewritten": None, "policies": [], "datasets": [],
                  "rows": None, "errno": None}
        try:
            try:
                governed = plan(sql, dialect=dialect, resolve=self._resolve, can_select=can_select,
                                policies=list(self.policies.values()), user_tags=user_tags, hash_key=self._key,
                                default_depot=depot, default_collection=collection)
            except GatewayError as e:
                raise SyscallError(e.code, e.message, **({"position": list(e.position)} if e.position else {}))
            record.update(rewritten=governed.sql, policies=list(governed.policies), datasets=list(governed.datasets))
            addresses = [Address.parse(a) for a in governed.datasets]
            directories = sorted({d for a in addresses for d in self.depots.get(a.depot).allowed_directories()})
            setup = tuple(s for a in addresses
                          for s in self.depots.source(a.depot, a.collection or "", a.dataset or "").setup)
            query = Query(governed.sql, directories, Limits(timeout=timeout or 300.0), params=governed.params,
                          setup=setup)
            with self._lock:
                self.running[query_id] = (user, query)
            try:
                cursor = query.run()
                names = [d[0] for d in cursor.description]
                types = [str(d[1]) for d in cursor.description]
                rows = cursor.fetchmany(limit + 1) if limit >= 0 else cursor.fetchall()
            finally:
                with self._lock:
                    self.running.pop(query_id, None)
                query.close()
            truncated = limit >= 0 and len(rows) > limit
            rows = [[_json(v) for v in row] for row in (rows[:limit] if limit >= 0 else rows)]
            record["rows"] = len(rows)
            return {"id": query_id, "row_count": len(rows), "truncated": truncated,
                    "columns": [{"name": n, "type": t, "masked": governed.masked.get(n)} for n, t in zip(names, types)],
                    "rows": rows, "elapsed_ms": round((time.perf_counter() - started) * 1000, 2),
                    "governance": {"policies": list(governed.policies), "datasets": list(governed.datasets),
                                   "sql": governed.sql}}
        except SyscallError as e:
            record["errno"] = e.code
            raise
        finally:
            self._remember(record, (time.perf_counter() - started) * 1000)

    def _resolve(self, name: str, collection: str | None, depot: str | None) -> Dataset | None:
        if not depot or not collection:
            return None
        try:
            source = self.depots.source(depot, collection, name)
            columns = self.depots.columns(depot, collection, name)
        except SyscallError as e:
            if e.code == "ENOENT":
                return None  # not a dataset: the Gateway refuses the relation by name
            raise  # a depot that is down says so (EUNAVAIL), it does not vanish
        return Dataset(depot, collection, name, columns, source.sql)

    def cancel(self, query_id: str, user: str, operator: bool) -> dict[str, Any]:
        with self._lock:
            entry = self.running.get(query_id)
        if entry is None or (entry[0] != user and not operator):
            raise SyscallError("ENOENT", f"no running query {query_id!r}")
        entry[1].cancel()
        return {"id": query_id, "cancelled": True}

    def history(self, limit: int, user: str | None) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM history", []
        if user is not None:
            sql += " WHERE user=?"
            params.append(user)
        rows = self.db.query(sql + " ORDER BY time DESC LIMIT ?", [*params, max(0, limit)])
        return [{**dict(r), "policies": json.loads(r["policies"]), "datasets": json.loads(r["datasets"])}
                for r in rows]

    def _remember(self, record: dict[str, Any], elapsed_ms: float) -> None:
        with self.db.transaction() as c:
            c.execute("INSERT INTO history VALUES (?,?,?,?,?,?,?,?,?,?)",
                      (record["id"], now(), record["user"], record["sql"], record["rewritten"],
                       json.dumps(record["policies"]), json.dumps(record["datasets"]), record["rows"],
                       round(elapsed_ms, 2), record["errno"]))

    def close(self) -> None:
        self.db.close()


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
