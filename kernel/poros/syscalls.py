"""Syscall handlers of Poros: resource.*. Each authorizes per resource object."""
from __future__ import annotations

from typing import Any

from syscalls.errors import SyscallError

from ..call import Call
from .kinds import KINDS
from .store import object_path


def _tags(resource: dict[str, Any]) -> frozenset[str]:
    return frozenset(resource.get("tags", ()))


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
            _authorize_write(call, plan.manifest, plan.current, plan.action)
        except SyscallError as e:
            e.details.setdefault("document", i)
            raise
    written = [p.manifest for p in plans] if dry_run else poros.apply(plans, call.caller.id)
    if not dry_run:
        for plan, resource in zip(plans, written):
            if plan.action != "unchanged":
                call.kernel.applied(resource)
    return {"dry_run": dry_run, "results": [
        {"type": p.kind.type, "name": p.manifest["name"], "workspace": p.workspace or None, "action": p.action,
         "generation": p.generation, "resource": r}
        for p, r in zip(plans, written)]}


def _authorize_write(call: Call, manifest: dict[str, Any], current: dict[str, Any] | None, action: str) -> None:
    path = object_path(manifest["type"], manifest["name"], manifest.get("workspace", ""))
    system = manifest.get("layer") == "system" or (current or {}).get("layer") == "system"
    if system and action != "unchanged":
        raise SyscallError("EACCES", f"{path} is a system-layer resource, managed by the kernel",
                           object=path, field="layer")
    if current is None:
        call.authorize("create", path, _tags(manifest))
    else:
        call.authorize("update", path, _tags(current))
        if _tags(manifest) != _tags(current):
            call.authorize("update", path, _tags(manifest))


def resource_get(call: Call, type: str, name: str, workspace: str | None) -> dict[str, Any]:
    poros = call.kernel.poros
    _, ws = poros.workspace_of(type, workspace)
    found = poros.find(type, name, workspace)
    # Authorize before answering ENOENT, so a denied caller learns nothing about existence.
    call.authorize("read", object_path(type, name, ws), _tags(found) if found else frozenset())
    if found is None:
        return poros.get(type, name, workspace)
    return found


def resource_list(call: Call, type: str | None, workspace: str | None) -> list[dict[str, Any]]:
    return [r for r in call.kernel.poros.list(type, workspace) if call.allowed("read", _path(r), _tags(r))]


def resource_delete(call: Call, type: str, name: str, workspace: str | None,
                    generation: int | None) -> dict[str, Any]:
    poros = call.kernel.poros
    _, ws = poros.workspace_of(type, workspace)
    found = poros.find(type, name, workspace)
    path = object_path(type, name, ws)
    call.authorize("delete", path, _tags(found) if found else frozenset())
    if found and found.get("layer") == "system":
        raise SyscallError("EACCES", f"{path} is a system-layer resource and cannot be deleted", object=path)
    deleted = poros.delete(type, name, workspace, call.caller.id, generation)
    call.kernel.deleted(deleted)
    return deleted


def resource_history(call: Call, type: str, name: str, workspace: str | None) -> list[dict[str, Any]]:
    poros = call.kernel.poros
    _, ws = poros.workspace_of(type, workspace)
    path = object_path(type, name, ws)
    found = poros.find(type, name, workspace)
    call.authorize("read", path, _tags(found) if found else frozenset())
    generations = poros.history(type, name, workspace)
    # A deleted resource's history is governed by the tags its generations carried.
    for tags in {frozenset(g["manifest"].get("tags", ())) for g in generations} - {_tags(found or {})}:
        call.authorize("read", path, tags)
    return generations


HANDLERS = {
    "resource.types": resource_types,
    "resource.apply": resource_apply,
    "resource.get": resource_get,
    "resource.list": resource_list,
    "resource.delete": resource_delete,
    "resource.history": resource_history,
}
