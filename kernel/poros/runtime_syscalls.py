"""Syscall handlers of the runtime: pod.*, runtime.*, event.list. A pod is read (logs and events
included) with `read` on the resource it belongs to, and killed or controlled with `update` on it."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from syscalls.errors import SyscallError

from ..call import Call
from ..caretaker.redact import masked
from ..heimdall.policy import Decision
from ..streams import watch
from .reconcile import OWNER_UID, resource_key
from .store import WORKLOAD_TYPES as WORKLOADS
from .store import object_path
from .syscalls import _read, _tags

Tags = frozenset[str]


def _owner(call: Call, pod: dict[str, Any]) -> tuple[str, list[Tags]]:
    """The path of what a pod belongs to, and the tags a read of it is decided with: its owner's,
    or, when the owner is gone (deleted, or created again since), every tag set ever applied under
    that name (as for `resource.history`)."""
    labels = pod["labels"]
    if "dataos.io/resource" not in labels:
        return f"/caretaker/pods/{pod['name']}", [frozenset()]
    type_, name, ws = labels["dataos.io/type"], labels["dataos.io/resource"], labels.get("dataos.io/workspace", "")
    poros = call.kernel.poros
    owner = poros.find(type_, name, ws)
    if owner is not None and _is_of(pod, owner):
        return object_path(type_, name, ws), [_tags(owner)]
    try:
        generations = poros.history(type_, name, ws)
    except SyscallError:
        generations = []
    return object_path(type_, name, ws), list({_tags(g["manifest"]) for g in generations}) or [frozenset()]


def _is_of(pod: dict[str, Any], resource: dict[str, Any]) -> bool:
    """Does the pod belong to this incarnation of the resource? (Pods from before the uid label: yes.)"""
    return pod["labels"].get(OWNER_UID, resource["status"]["uid"]) == resource["status"]["uid"]


def _decide(call: Call, predicate: str, path: str, tag_sets: list[Tags]) -> Decision:
    """Allowed only when allowed with every tag set: the first denial, else the last allow."""
    decisions = [call.decide(predicate, path, tags) for tags in tag_sets]
    return next((d for d in decisions if not d.allow), decisions[-1])


def _readable(call: Call) -> Callable[[dict[str, Any]], bool]:
    """Whether the caller may read a pod: exactly when they may read its owner (asked once per owner)."""
    known: dict[tuple[str, str | None], bool] = {}

    def readable(pod: dict[str, Any]) -> bool:
        owner = (pod["resource"] or pod["name"], pod["labels"].get(OWNER_UID))
        if owner not in known:
            known[owner] = _decide(call, "read", *_owner(call, pod)).allow
        return known[owner]

    return readable


def _pod(call: Call, name: str, predicate: str) -> dict[str, Any]:
    """The pod, if the caller may `predicate` it. A pod they may not even read is answered as a
    missing one is: ENOENT, the same words."""
    try:
        pod = call.kernel.caretaker.get(name)
    except SyscallError:
        pod = None
    path, tag_sets = _owner(call, pod) if pod is not None else (f"/caretaker/pods/{name}", [frozenset()])
    seen = _decide(call, "read", path, tag_sets)
    if pod is None or not seen.allow:
        if pod is not None:
            call.hide(seen, path)
        outage = getattr(call.kernel.cloud, "outage", None)
        if outage is not None:  # the pod may be one the cloud could not start yet: no answer, not "none"
            raise SyscallError(outage.code, f"cannot tell about pod {name!r} now: {outage.message}")
        raise SyscallError("ENOENT", f"no pod {name!r}")
    for tags in tag_sets:
        call.authorize(predicate, path, tags)
    return pod


def _matches(pod: dict[str, Any], workspace: str | None, key_prefix: str | None) -> bool:
    if workspace is not None and pod["workspace"] != workspace:
        return False
    return key_prefix is None or (pod["resource"] or "") == key_prefix


def _selector(workspace: str | None, type: str | None, name: str | None) -> str | None:
    if type is None or name is None:
        if name is not None:
            raise SyscallError("EINVAL", "a resource name needs its type", field="type")
        return None
    level_ws = "" if type not in WORKLOADS else (workspace or "public")
    return f"{level_ws}/{type}/{name}"


def pod_list(call: Call, workspace: str | None, type: str | None, name: str | None) -> list[dict[str, Any]]:
    key = _selector(workspace, type, name)
    return list(filter(_readable(call), call.kernel.caretaker.list(workspace, key)))


def pod_get(call: Call, name: str) -> dict[str, Any]:
    pod = _pod(call, name, "read")
    return {**pod, "history": call.kernel.caretaker.history(name)}


def pod_logs(call: Call, name: str, tail: int | None, follow: bool) -> Iterator[str]:
    pod = _pod(call, name, "read")
    return masked(call.kernel, pod, call.kernel.cloud.logs(name, tail=tail, follow=follow))


def pod_watch(call: Call, workspace: str | None, type: str | None, name: str | None,
              timeout: float | None) -> Iterator[dict[str, Any]]:
    key = _selector(workspace, type, name)
    caretaker = call.kernel.caretaker
    # Nothing is shown before each pod passes its own check, as it goes by (asked again each round:
    # a policy or the owner's tags may change meanwhile).

    def shown(pods: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
        readable = _readable(call)
        return [pod for pod in (pods if pods is not None else caretaker.list(workspace, key))
                if _matches(pod, workspace, key) and readable(pod)]

    seq = caretaker.seq
    first = shown(caretaker.list(workspace, key))

    def next_round(seconds: float) -> list[dict[str, Any]]:
        nonlocal seq
        caretaker.wait(seq, seconds)
        seq, pods = caretaker.changed_since(seq)
        return shown(pods)

    return watch(first, next_round, timeout)


def pod_kill(call: Call, name: str) -> dict[str, Any]:
    _pod(call, name, "update")
    call.kernel.cloud.kill(name)
    call.kernel.caretaker.observe([call.kernel.cloud.status(name)])
    call.kernel.reconciler.wake()
    return call.kernel.caretaker.get(name)


def event_list(call: Call, type: str, name: str, workspace: str | None, limit: int) -> list[dict[str, Any]]:
    caretaker = call.kernel.caretaker
    if type == "pod":
        _pod(call, name, "read")
        return caretaker.events(pod=name, limit=limit)
    found = _read(call, "read", type, name, workspace)
    if found is None:
        raise call.kernel.poros.missing(type, name, workspace)
    generations = [g for g in call.kernel.poros.history(type, name, workspace) if g["uid"] == found["status"]["uid"]]
    applied = [({"time": g["applied"], "object": f"{type}/{name}", "type": "Normal", "reason": "Applied",
                 "source": "poros", "message": f"generation {g['generation']} {g['action']} by {g['by']}"},
                g["generation"]) for g in generations]
    key = resource_key(found)
    pods = {f"pod/{p['name']}": p for p in caretaker.list(resource=key)}
    told = [(e, _generation_of(e, pods.get(e["object"]), found, generations))
            for e in caretaker.events(resource=key, limit=limit)]
    path = object_path(found["type"], found["name"], found.get("workspace", ""))
    may_read = {tags: call.allowed("read", path, tags) for tags in {_tags(g["manifest"]) for g in generations}}
    readable = {g["generation"]: may_read[_tags(g["manifest"])] for g in generations}
    shown = [e for e, generation in applied[-limit:] + told if readable.get(generation, False)]
    return sorted(shown, key=lambda e: e["time"])[-limit:]


def _generation_of(event: dict[str, Any], pod: dict[str, Any] | None, resource: dict[str, Any],
                   generations: list[dict[str, Any]]) -> int | None:
    """The generation (of this incarnation) an event belongs to: its pod's, else the one in force
    when it happened; None for one of an earlier incarnation (its events are not this one's)."""
    if pod is not None and "dataos.io/generation" in pod["labels"]:
        return int(pod["labels"]["dataos.io/generation"]) if _is_of(pod, resource) else None
    return next((g["generation"] for g in reversed(generations) if g["applied"] <= event["time"]), None)


def _runtime(call: Call, resource: dict[str, Any]) -> dict[str, Any]:
    status = resource["status"]
    generation = (status.get("run") or {}).get("generation") or status["generation"]
    return {"type": resource["type"], "name": resource["name"], "workspace": resource.get("workspace"),
            "runAs": call.kernel.poros.applied_by(status["uid"], generation),
            "runtime": status.get("runtime"), "progress": status.get("progress"), "run": status.get("run"),
            "replicas": status.get("replicas"), "message": status.get("message") or (status.get("run") or {}).get(
                "message"), "paused": bool(status.get("paused")),
            "pods": [p for p in call.kernel.caretaker.list(resource=resource_key(resource)) if _is_of(p, resource)]}


def _workload(call: Call, predicate: str, type: str, name: str, workspace: str | None) -> dict[str, Any]:
    if type not in WORKLOADS:
        raise SyscallError("EINVAL", f"a {type} has no runtime (workloads: {', '.join(WORKLOADS)})", field="type")
    found = _read(call, predicate, type, name, workspace)
    if found is None:
        raise call.kernel.poros.missing(type, name, workspace)
    return found


def runtime_get(call: Call, type: str, name: str, workspace: str | None) -> dict[str, Any]:
    return _runtime(call, _workload(call, "read", type, name, workspace))


CONTROLLED = {"pause": "Paused", "resume": "Resumed", "stop": "Stopped", "rerun": "Rerun", "run": "Run"}  # its event


def runtime_control(call: Call, type: str, name: str, action: str, workspace: str | None) -> dict[str, Any]:
    resource = _workload(call, "update", type, name, workspace)
    kernel = call.kernel
    uid = resource["status"]["uid"]
    told = f"by {call.caller.id}"
    with kernel.reconciler.exclusive():  # no tick may finish the run meanwhile
        if action in ("pause", "resume"):
            kernel.poros.set_status(uid, {"paused": action == "pause"})
        elif action == "stop" and type == "workflow":
            for run in kernel.runtime_state.active_runs(uid):
                kernel.reconciler.controllers["workflow"].abort(resource, run)
        elif action == "stop":  # a service or worker: its pods go, and it stays down until resumed
            kernel.poros.set_status(uid, {"paused": True})
        elif type != "workflow":
            raise SyscallError("EINVAL", f"{action}: only workflows have runs; a {type} restarts by itself",
                               field="action")
        else:
            active = kernel.runtime_state.active_runs(uid)
            if active:
                raise SyscallError("EINVAL", f"{action}: run {active[-1]['run']} of workflow {name!r} is still "
                                   "running; stop it first", field="action")
            run = kernel.runtime_state.new_run(uid, resource["status"]["generation"], action)
            told = f"run {run['run']} started {told}"
        kernel.reconciler.note(resource, "Normal", CONTROLLED[action], told, source="poros")
        if kernel.lease.held():  # else the leading replica hears of it and acts
            kernel.reconciler.tick()
    return _runtime(call, kernel.poros.get(type, name, workspace))


HANDLERS = {
    "pod.list": pod_list,
    "pod.get": pod_get,
    "pod.logs": pod_logs,
    "pod.watch": pod_watch,
    "pod.kill": pod_kill,
    "event.list": event_list,
    "runtime.get": runtime_get,
    "runtime.control": runtime_control,
}
