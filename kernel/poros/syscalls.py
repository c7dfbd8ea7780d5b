"""Syscall handlers of Poros: resource.*. Each authorizes per resource object.

Reads answer as if a resource hidden from the caller by its tags did not exist: ENOENT where a
missing one would be ENOENT, EACCES where a missing one would be EACCES. Existence and versions
are never revealed before the caller is authorized.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from syscalls.errors import SyscallError

from ..call import Call
from ..heimdall.service import redact
from ..streams import watch
from .explain import manifest_schema
from .kinds import KINDS, kind_of
from .references import secret_path, secret_refs
from .store import WORKLOAD_TYPES, Plan, object_path

POLICY_ADMIN = ("update", "delete")  # what a caller must keep on a policy they apply


def _tags(resource: dict[str, Any] | None) -> frozenset[str]:
    return frozenset((resource or {}).get("tags", ()))


def _path(resource: dict[str, Any]) -> str:
    return object_path(resource["type"], resource["name"], resource.get("workspace", ""))


def resource_types(call: Call) -> list[dict[str, Any]]:
    return [kind.describe() for kind in KINDS.values()]


def resource_apply(call: Call, manifests: list[dict], workspace: str | None, dry_run: bool) -> dict[str, Any]:
    if not manifests:
        raise SyscallError("EINVAL", "nothing to apply: no manifests given", field="manifests")
    poros = call.kernel.poros
    plans = poros.plan(manifests, workspace)
    for i, plan in enumerate(plans):
        try:
            _authorize_write(call, plan)
            poros.check_fresh(plan)
        except SyscallError as e:
            e.details.setdefault("document", i)
            raise
    _keep_policy_control(call, plans)
    _check_secret_references(call, plans)
    policies = [(i, plan) for i, plan in enumerate(plans) if plan.kind.type == "policy" and plan.action != "unchanged"]
    depots = call.kernel.pending_depots([plan.manifest for plan in plans if plan.kind.type == "depot"
                                         and plan.action != "unchanged"]) if policies else None
    for i, plan in policies:  # (against the depots applied with them too)
        try:
            call.kernel.gateway.check_policy(plan.manifest, lambda address: call.decide("select", address).allow,
                                             depots)
        except SyscallError as e:
            e.details.setdefault("document", i)
            raise
    for i, plan in enumerate(plans):
        if plan.kind.type in WORKLOAD_TYPES:
            try:
                call.kernel.check_placement(plan.workspace)
            except SyscallError as e:
                e.details.setdefault("document", i)
                raise
            refusal = call.kernel.unsandboxed(call.caller.id) if plan.action != "unchanged" else None
            if refusal:  # its pods would run as the caller, who applies this generation
                call.refuse(object_path(plan.kind.type, plan.manifest["name"], plan.workspace), refusal, document=i)
    written = [p.manifest for p in plans] if dry_run else poros.apply(plans, call.caller.id)
    if not dry_run:
        for plan, resource in zip(plans, written):
            if plan.action != "unchanged":
                call.kernel.applied(resource)
    return {"dry_run": dry_run, "results": [
        {"type": p.kind.type, "name": p.manifest["name"], "workspace": p.workspace or None, "action": p.action,
         "generation": p.generation, "resource": redact(r)}
        for p, r in zip(plans, written)]}


def _authorize_write(call: Call, plan: Plan) -> None:
    path = object_path(plan.kind.type, plan.manifest["name"], plan.workspace)
    if plan.current is None:
        call.authorize("create", path, _tags(plan.manifest))
    else:
        call.authorize("update", path, _tags(plan.current))
        if _tags(plan.manifest) != _tags(plan.current):
            call.authorize("update", path, _tags(plan.manifest))
    system = plan.manifest.get("layer") == "system" or (plan.current or {}).get("layer") == "system"
    if system and plan.action != "unchanged":
        call.refuse(path, f"{path} is a system-layer resource, managed by the kernel", field="layer")


def _keep_policy_control(call: Call, plans: list[Plan]) -> None:
    """Refuse access policies that would leave the caller unable to change or delete them
    (a deny on `**` can otherwise lock every operator out for good)."""
    changed = {p.manifest["name"]: p.manifest for p in plans
               if p.kind.type == "policy" and p.action != "unchanged" and "access" in p.manifest["policy"]}
    if not changed:
        return
    checks = [(predicate, object_path("policy", name, "")) for name in changed for predicate in POLICY_ADMIN]
    lost = call.kernel.heimdall.trial(call.caller, changed, checks)
    if lost is not None:
        predicate, path = lost
        raise SyscallError("EINVAL", f"policy.access: this would deny you ({call.caller.id}) {predicate} on "
                           f"{path}, so you could never change or remove it; narrow its subjects or objects",
                           field="policy.access", document=next(i for i, p in enumerate(plans)
                                                                if object_path("policy", p.manifest["name"], "")
                                                                == path))


def _check_secret_references(call: Call, plans: list[Plan]) -> None:
    """A workload (or depot) may consume only secrets that exist (here or in this apply) and its
    author may `use` — `read` shows a secret's keys, never its values."""
    coming = {(p.kind.type, p.workspace, p.manifest["name"]) for p in plans}
    for i, plan in enumerate(plans):
        for field, ref in secret_refs(plan.manifest):
            type_name, ws = secret_path(ref, plan.workspace)
            try:
                found = _read(call, "use", type_name, ref["name"], ws)
                if found is None and (type_name, ws or "", ref["name"]) not in coming:
                    raise SyscallError("EINVAL", f"{field}.name: no {type_name} named {ref['name']!r}"
                                       + (f" in workspace {ws!r}" if ws else ""), field=f"{field}.name")
                keys = set((found or {}).get(type_name, {}).get("data", {}))
                missing = [k for k in ref.get("keys", []) if found is not None and k not in keys]
                if missing:
                    raise SyscallError("EINVAL", f"{field}.keys: {type_name} {ref['name']!r} has no key "
                                       f"{missing[0]!r} (keys: {', '.join(sorted(keys))})", field=f"{field}.keys")
            except SyscallError as e:
                e.details.setdefault("document", i)
                raise


def _read(call: Call, predicate: str, type_name: str, name: str, workspace: str | None
          ) -> dict[str, Any] | None:
    """Authorize `predicate` on a resource, hiding it when only its tags deny the caller."""
    poros = call.kernel.poros
    _, ws = poros.workspace_of(type_name, workspace)
    path = object_path(type_name, name, ws)
    found = poros.find(type_name, name, workspace)
    if found is not None:
        decision = call.decide(predicate, path, _tags(found))
        if not decision.allow and call.decide(predicate, path, frozenset()).allow:
            call.hide(decision, path)
            return None  # what a caller who may see the path but not this object learns: nothing
    call.authorize(predicate, path, _tags(found))
    return found


def resource_get(call: Call, type: str, name: str, workspace: str | None) -> dict[str, Any]:
    found = _read(call, "read", type, name, workspace)
    if found is None:
        raise call.kernel.poros.missing(type, name, workspace)
    return redact(found)


def resource_list(call: Call, type: str | None, workspace: str | None) -> list[dict[str, Any]]:
    return [redact(r) for r in call.kernel.poros.list(type, workspace) if call.allowed("read", _path(r), _tags(r))]


def resource_watch(call: Call, type: str | None, workspace: str | None,
                   timeout: float | None) -> Iterator[dict[str, Any]]:
    if type is not None:
        kind_of(type)
    poros = call.kernel.poros
    # uid -> (the resource as stored, as the caller saw it: None while they may not read it). Every
    # resource passes its own check each time round (a policy may change while nothing else does),
    # and so does a deletion: it is told only to who may read the resource now.
    shown: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = {}

    def may_read(resource: dict[str, Any]) -> bool:
        return call.allowed("read", _path(resource), _tags(resource))

    def changes() -> Iterator[dict[str, Any]]:
        now = {r["status"]["uid"]: r for r in poros.list(type, workspace)}
        for uid, resource in now.items():
            before = shown.get(uid)
            seen = redact(resource) if may_read(resource) else None
            shown[uid] = (resource, seen)
            if seen is not None and (before is None or before[1] != seen):
                yield seen
        for uid in [u for u in shown if u not in now]:
            resource, seen = shown.pop(uid)
            if seen is not None and may_read(resource):
                yield {**seen, "status": {**seen["status"], "aggregateStatus": "deleted"}}

    seq = poros.seq
    first = list(changes())

    def next_round(seconds: float) -> Iterator[dict[str, Any]]:
        nonlocal seq
        poros.wait(seq, seconds)
        seq = poros.seq
        return changes()

    return watch(first, next_round, timeout)


def resource_schema(call: Call, type: str) -> dict[str, Any]:
    return manifest_schema(type)


def resource_delete(call: Call, type: str, name: str, workspace: str | None,
                    generation: int | None) -> dict[str, Any]:
    found = _read(call, "delete", type, name, workspace)
    poros = call.kernel.poros
    if found is None:
        raise poros.missing(type, name, workspace)
    if found.get("layer") == "system":
        call.refuse(_path(found), f"{_path(found)} is a system-layer resource and cannot be deleted")
    deleted = poros.delete(type, name, workspace, call.caller.id, generation)
    call.kernel.deleted(deleted)
    return redact(deleted)


def resource_history(call: Call, type: str, name: str, workspace: str | None) -> list[dict[str, Any]]:
    found = _read(call, "read", type, name, workspace)
    poros = call.kernel.poros
    generations = poros.history(type, name, workspace) if found is not None or \
        poros.find(type, name, workspace) is None else []
    if not generations:
        raise SyscallError("ENOENT", f"no {type} named {name!r} has ever been applied")
    # A deleted resource's history is governed by the tags its generations carried.
    path = object_path(type, name, poros.workspace_of(type, workspace)[1])
    for tags in {frozenset(g["manifest"].get("tags", ())) for g in generations} - {_tags(found)}:
        decision = call.decide("read", path, tags)
        if not decision.allow:
            call.hide(decision, path)
            raise SyscallError("ENOENT", f"no {type} named {name!r} has ever been applied")
    return [{**g, "manifest": redact(g["manifest"])} for g in generations]


HANDLERS = {
    "resource.types": resource_types,
    "resource.apply": resource_apply,
    "resource.get": resource_get,
    "resource.list": resource_list,
    "resource.watch": resource_watch,
    "resource.schema": resource_schema,
    "resource.delete": resource_delete,
    "resource.history": resource_history,
}
