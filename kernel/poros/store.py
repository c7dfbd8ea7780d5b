"""Poros' resource store: desired state, every applied generation, optimistic concurrency."""
from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from syscalls.errors import SyscallError

from ..names import check_name
from ..store import Place, now
from .kinds import KINDS, Kind, kind_of, validate

DEFAULT_WORKSPACE = "public"
WORKLOAD_TYPES = ("workflow", "service", "worker")
ORDER = ("name", "version", "type", "tags", "description", "owner", "workspace", "layer")

MIGRATIONS = [
    """
    CREATE TABLE resources (
        type TEXT NOT NULL, workspace TEXT NOT NULL, name TEXT NOT NULL,
        uid TEXT NOT NULL UNIQUE, generation INTEGER NOT NULL, manifest TEXT NOT NULL,
        status TEXT NOT NULL, owner TEXT NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL,
        PRIMARY KEY (type, workspace, name));
    CREATE TABLE generations (
        uid TEXT NOT NULL, generation INTEGER NOT NULL, type TEXT NOT NULL, workspace TEXT NOT NULL,
        name TEXT NOT NULL, manifest TEXT NOT NULL, applied TEXT NOT NULL, by TEXT NOT NULL,
        action TEXT NOT NULL, PRIMARY KEY (uid, generation, action));
    CREATE INDEX generations_by_name ON generations (type, workspace, name, applied)
    """,
]


@dataclass
class Plan:
    """What applying one manifest will do, decided before anything is written."""
    kind: Kind
    workspace: str  # "" for instance-level types
    manifest: dict[str, Any]  # normalized, without status
    current: dict[str, Any] | None  # the stored resource, if any
    action: str  # created | configured | unchanged
    expected: dict[str, Any]  # the uid/generation the manifest was read at (its `status`), if any

    @property
    def generation(self) -> int:
        """The generation this plan leaves the resource at."""
        if self.current is None:
            return 1
        return self.current["status"]["generation"] + (self.action != "unchanged")

    @property
    def key(self) -> tuple[str, str, str]:
        return self.kind.type, self.workspace, self.manifest["name"]


class Poros:
    def __init__(self, place: Place, admit: dict[str, Callable[[dict[str, Any]], None]] | None = None,
                 seal: dict[str, Callable[[dict[str, Any], dict[str, Any] | None], dict[str, Any]]] | None = None
                 ) -> None:
        """`admit[type]` checks a manifest beyond its schema; `seal[type]` turns it into what is
        stored (secret values sealed), given the stored resource it replaces."""
        self.db = place.database("poros", MIGRATIONS)
        self.admit = admit or {}
        self.seal = seal or {}
        self._changed = threading.Condition()
        self.seq = 0  # counts writes (applies, deletes, status changes), for watches

    def bump(self) -> None:
        """Something was written (here, or by another replica): wake the watches."""
        with self._changed:
            self.seq += 1
            self._changed.notify_all()

    def wait(self, seq: int, timeout: float) -> int:
        """Block until something was written after `seq` (or the timeout); returns the new seq."""
        with self._changed:
            self._changed.wait_for(lambda: self.seq != seq, timeout)
            return self.seq

    # --- reads ------------------------------------------------------------------------------

    def workspace_of(self, type_name: str, workspace: str | None) -> tuple[Kind, str]:
        kind = kind_of(type_name)
        if kind.level == "instance":
            return kind, ""
        return kind, check_name(workspace or DEFAULT_WORKSPACE, "workspace", "workspace name")

    def find(self, type_name: str, name: str, workspace: str | None) -> dict[str, Any] | None:
        kind, ws = self.workspace_of(type_name, workspace)
        rows = self.db.query("SELECT * FROM resources WHERE type=? AND workspace=? AND name=?",
                             (kind.type, ws, name))
        return _resource(rows[0]) if rows else None

    def get(self, type_name: str, name: str, workspace: str | None) -> dict[str, Any]:
        found = self.find(type_name, name, workspace)
        if found is None:
            raise self.missing(type_name, name, workspace)
        return found

    def missing(self, type_name: str, name: str, workspace: str | None) -> SyscallError:
        _, ws = self.workspace_of(type_name, workspace)
        where = f" in workspace {ws!r}" if ws else ""
        return SyscallError("ENOENT", f"no {type_name} named {name!r}{where}", type=type_name, name=name)

    def list(self, type_name: str | None = None, workspace: str | None = None) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM resources WHERE 1=1", []
        if type_name is not None:
            sql += " AND type=?"
            params.append(kind_of(type_name).type)
        if workspace is not None:
            sql += " AND workspace IN ('', ?)"
            params.append(workspace)
        return [_resource(r) for r in self.db.query(sql + " ORDER BY type, workspace, name", params)]

    def history(self, type_name: str, name: str, workspace: str | None) -> list[dict[str, Any]]:
        kind, ws = self.workspace_of(type_name, workspace)
        rows = self.db.query("SELECT * FROM generations WHERE type=? AND workspace=? AND name=? "
                             "ORDER BY applied, generation", (kind.type, ws, name))
        if not rows:
            raise SyscallError("ENOENT", f"no {type_name} named {name!r} has ever been applied")
        return [{"uid": r["uid"], "generation": r["generation"], "applied": r["applied"], "by": r["by"],
                 "action": r["action"], "manifest": json.loads(r["manifest"])} for r in rows]

    # --- writes -----------------------------------------------------------------------------

    def plan(self, manifests: list[dict[str, Any]], workspace: str | None) -> list[Plan]:
        """Validate and diff every manifest; raises EINVAL/ECONFLICT (with `document`) on the first bad one."""
        plans: list[Plan] = []
        seen: set[tuple[str, str, str]] = set()
        for i, manifest in enumerate(manifests):
            try:
                plan = self._plan_one(manifest, workspace)
            except SyscallError as e:
                e.details.setdefault("document", i)
                raise
            if plan.key in seen:
                raise SyscallError("EINVAL", f"{plan.kind.type} {plan.manifest['name']!r} appears twice in one apply",
                                   document=i, field="name")
            seen.add(plan.key)
            plans.append(plan)
        return plans

    def check(self, manifest: dict[str, Any]) -> Kind:
        """A manifest's full validation (its schema, then what its type's service admits); raises EINVAL."""
        kind = validate(manifest)
        if kind.type in self.admit:
            self.admit[kind.type](manifest)
        return kind

    def _plan_one(self, manifest: dict[str, Any], workspace: str | None) -> Plan:
        kind = self.check(manifest)
        if kind.level == "workspace" and workspace and manifest.get("workspace") not in (None, workspace):
            raise SyscallError("EINVAL", f"workspace: the manifest says {manifest['workspace']!r} but "
                               f"{workspace!r} was asked for (-w); remove one", field="workspace")
        ws = "" if kind.level == "instance" else manifest.get("workspace") or workspace or DEFAULT_WORKSPACE
        if ws:
            check_name(ws, "workspace", "workspace name")
        current = self.find(kind.type, manifest["name"], ws or None)
        expected = {k: v for k, v in (manifest.get("status") or {}).items() if k in ("uid", "generation")}
        if not isinstance(expected.get("generation", 0), int) or isinstance(expected.get("generation"), bool):
            raise SyscallError("EINVAL", "status.generation: expected an integer", field="status.generation")
        normal = _normalize(manifest, kind, ws, owner=current.get("owner") if current else None)
        if kind.type in self.seal:
            normal = self.seal[kind.type](normal, current)
        if current is None:
            action = "created"
        else:
            action = "unchanged" if normal == _spec(current) else "configured"
        return Plan(kind, ws, normal, current, action, expected)

    @staticmethod
    def check_fresh(plan: Plan) -> None:
        """ECONFLICT when the manifest was read at another generation than the stored one.
        (Called after authorization, so a denied caller learns nothing from it.)"""
        if not plan.expected:
            return
        if plan.current is None:  # as kubectl: a version on an object to be created is a conflict
            field = "generation" if "generation" in plan.expected else "uid"
            raise SyscallError(
                "ECONFLICT", f"{plan.kind.type} {plan.manifest['name']!r} does not exist (deleted since the "
                f"manifest was read at generation {plan.expected.get('generation', '?')}?); remove its status "
                "to create it anew", field=f"status.{field}")
        status = plan.current["status"]
        stale = [k for k, v in plan.expected.items() if v != status[k]]
        if stale:
            raise SyscallError(
                "ECONFLICT", f"{plan.kind.type} {plan.manifest['name']!r} changed since it was read: it is at "
                f"generation {status['generation']}, the manifest was read at {plan.expected.get('generation')}; "
                "get it again and re-apply", field=f"status.{stale[0]}")

    def apply(self, plans: Iterable[Plan], by: str) -> list[dict[str, Any]]:
        """Write every plan in one transaction: all or nothing."""
        results = []
        stamp = now()
        with self.db.transaction() as c:
            for plan in plans:
                if plan.action == "unchanged":
                    results.append(plan.current)
                    continue
                manifest = dict(plan.manifest)
                manifest["owner"] = manifest.get("owner") or by
                manifest = _ordered(manifest)
                if plan.current is None:
                    uid, generation, created = str(uuid.uuid4()), 1, stamp
                else:
                    status = plan.current["status"]
                    uid, generation, created = status["uid"], status["generation"] + 1, status["created"]
                kept = {k: v for k, v in (plan.current or {}).get("status", {}).items() if k != "error"}
                status = {**kept, "uid": uid, "generation": generation,
                          "created": created, "updated": stamp, "aggregateStatus": "active",
                          # a workload's controller builds each generation into runtime; others are ready
                          "builderState": "pending" if plan.kind.type in WORKLOAD_TYPES else "ready"}
                row = (plan.kind.type, plan.workspace, manifest["name"], uid, generation, json.dumps(manifest),
                       json.dumps(status), manifest["owner"], created, stamp)
                if plan.current is None:
                    try:
                        c.execute("INSERT INTO resources VALUES (?,?,?,?,?,?,?,?,?,?)", row)
                    except self.db.IntegrityError:
                        raise _raced(plan) from None
                elif c.execute("UPDATE resources SET generation=?, manifest=?, status=?, updated=? "
                               "WHERE uid=? AND generation=?", (generation, row[5], row[6], stamp, uid,
                                                                 generation - 1)).rowcount != 1:
                    raise _raced(plan)
                c.execute("INSERT INTO generations VALUES (?,?,?,?,?,?,?,?,?)",
                          (uid, generation, plan.kind.type, plan.workspace, manifest["name"],
                           json.dumps(manifest), stamp, by, plan.action))
                results.append({**manifest, "status": status})
        self.bump()
        return results

    def delete(self, type_name: str, name: str, workspace: str | None, by: str,
               generation: int | None = None) -> dict[str, Any]:
        current = self.get(type_name, name, workspace)
        status = current["status"]
        if generation is not None and generation != status["generation"]:
            raise SyscallError("ECONFLICT", f"{type_name} {name!r} is at generation {status['generation']}, "
                               f"not {generation}")
        with self.db.transaction() as c:
            if c.execute("DELETE FROM resources WHERE uid=? AND generation=?",
                         (status["uid"], status["generation"])).rowcount != 1:
                raise SyscallError("ECONFLICT", f"{type_name} {name!r} changed while it was being deleted; "
                                   "try again")
            c.execute("INSERT INTO generations VALUES (?,?,?,?,?,?,?,?,?)",
                      (status["uid"], status["generation"], current["type"], current.get("workspace", ""),
                       name, json.dumps(_spec(current)), now(), by, "deleted"))
        self.bump()
        return {**current, "status": {**status, "aggregateStatus": "deleted"}}

    def generation(self, uid: str, generation: int) -> dict[str, Any]:
        """The manifest of one applied generation."""
        return json.loads(self._generation(uid, generation)["manifest"])

    def applied_by(self, uid: str, generation: int) -> str:
        """Who applied one generation: the user its runs act as."""
        return self._generation(uid, generation)["by"]

    def _generation(self, uid: str, generation: int) -> Any:
        rows = self.db.query('SELECT manifest, "by" FROM generations WHERE uid=? AND generation=? '
                             "AND action!='deleted'", (uid, generation))
        if not rows:
            raise SyscallError("ENOENT", f"no generation {generation} of resource {uid}")
        return rows[0]

    def set_status(self, uid: str, fields: dict[str, Any]) -> None:
        """Merge runtime fields into a resource's status (no new generation); None removes a field."""
        with self.db.transaction() as c:
            row = c.execute("SELECT status FROM resources WHERE uid=?", (uid,)).fetchone()
            if row is None:
                return
            status = {k: v for k, v in {**json.loads(row[0]), **fields}.items() if v is not None}
            c.execute("UPDATE resources SET status=? WHERE uid=?", (json.dumps(status), uid))
        self.bump()

    def close(self) -> None:
        self.db.close()


def tags_of_path(poros: "Poros", path: str) -> frozenset[str]:
    """The tags of the resource a Heimdall object path names (none if it names no resource)."""
    parts = path.split("/")
    if path.startswith("/poros/workspaces/") and len(parts) == 6:
        ws, type_name, name = parts[3:]
    elif path.startswith("/poros/instance/") and len(parts) == 5:
        ws, (type_name, name) = None, parts[3:]
    else:
        return frozenset()
    if type_name not in KINDS:
        return frozenset()
    try:
        found = poros.find(type_name, name, ws)
    except SyscallError:
        return frozenset()
    return frozenset(found.get("tags", ())) if found else frozenset()


def _raced(plan: Plan) -> SyscallError:
    return SyscallError("ECONFLICT", f"{plan.kind.type} {plan.manifest['name']!r} was changed concurrently; "
                        "re-apply")


def object_path(type_name: str, name: str, workspace: str) -> str:
    """The Heimdall object of a resource."""
    if KINDS[type_name].level == "instance" or not workspace:
        return f"/poros/instance/{type_name}/{name}"
    return f"/poros/workspaces/{workspace}/{type_name}/{name}"


def _normalize(manifest: dict[str, Any], kind: Kind, workspace: str, owner: str | None) -> dict[str, Any]:
    out = {k: v for k, v in manifest.items() if k != "status"}
    if workspace:
        out["workspace"] = workspace
    if owner:
        out["owner"] = owner
    else:
        out.pop("owner", None)
    if "tags" in out:
        out["tags"] = list(dict.fromkeys(out["tags"]))
    return _ordered(out)


def _ordered(manifest: dict[str, Any]) -> dict[str, Any]:
    keys = [k for k in ORDER if k in manifest] + [k for k in manifest if k not in ORDER]
    return {k: manifest[k] for k in keys}


def _spec(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k != "status"}


def _resource(row: Any) -> dict[str, Any]:
    return {**json.loads(row["manifest"]), "status": json.loads(row["status"])}
