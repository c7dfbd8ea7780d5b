"""Syscall handlers of the runtime: pod.*, runtime.*, event.list. A pod is read (logs and events
included) with `read` on the resource it belongs to, and killed or controlled with `update` on it."""
from __future__ import annotations

import functools
import time
from typing import Any, Iterator

from syscalls.errors import SyscallError

from ..call import Call
from ..streams import cancelled
from .reconcile import resource_key
from .store import WORKLOAD_TYPES as WORKLOADS
from .store import object_path
from .syscalls import _read


def _owner_path(pod: dict[str, Any]) -> str:
    labels = pod["labels"]
    if "dataos.io/resource" not in labels:
        return f"/caretaker/pods/{pod['name']}"
    return object_path(labels["dataos.io/type"], labels["dataos.io/resource"], labels.get("dataos.io/workspace", ""))


def _pod(call: Call, name: str, predicate: str) -> dict[str, Any]:
    """The pod, if the caller may `predicate` it. A pod they may not even read is answered as a
    missing one is: ENOENT, the same words."""
    try:
        pod = call.kernel.caretaker.get(name)
    except SyscallError:
        pod = None
    path = _owner_path(pod) if pod is not None else f"/caretaker/pods/{name}"
    seen = call.decide("read", path)
    if pod is None or not seen.allow:
        if pod is not None:
            call.hide(seen, path)
        outage = getattr(call.kernel.cloud, "outage", None)
        if outage is not None:  # the pod may be one the cloud could not start yet: no answer, not "none"
            raise SyscallError(outage.code, f"cannot tell about pod {name!r} now: {outage.message}")
        raise SyscallError("ENOENT", f"no pod {name!r}")
    call.authorize(predicate, path)
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
    allowed = functools.lru_cache(maxsize=None)(lambda path: call.allowed("read", path))  # pods share owners
    return [p for p in call.kernel.caretaker.list(workspace, key) if allowed(_owner_path(p))]


def pod_get(call: Call, name: str) -> dict[str, Any]:
    pod = _pod(call, name, "read")
    return {**pod, "history": call.kernel.caretaker.history(name)}


def pod_logs(call: Call, name: str, tail: int | None, follow: bool) -> Iterator[str]:
    _pod(call, name, "read")
    return call.kernel.cloud.logs(name, tail=tail, follow=follow)


def pod_watch(call: Call, workspace: str | None, type: str | None, name: str | None,
              timeout: float | None) -> Iterator[dict[str, Any]]:
    key = _selector(workspace, type, name)
    caretaker = call.kernel.caretaker
    # Nothing is shown before each pod passes its own check, as it goes by.

    def events() -> Iterator[dict[str, Any]]:
        deadline = None if timeout is None else time.monotonic() + timeout
        allowed = functools.lru_cache(maxsize=4096)(lambda path: call.allowed("read", path))
        seq, pods = caretaker.seq, caretaker.list(workspace, key)
        while True:
            for pod in pods if pods is not None else caretaker.list(workspace, key):
                if _matches(pod, workspace, key) and allowed(_owner_path(pod)):
                    yield pod
            left = None if deadline is None else deadline - time.monotonic()
            if (left is not None and left <= 0) or cancelled():
                return
            caretaker.wait(seq, min(left, 1.0) if left is not None else 1.0)
            seq, pods = caretaker.changed_since(seq)

    return events()


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
    uid = found["status"]["uid"]
    applied = [{"time": g["applied"], "object": f"{type}/{name}", "type": "Normal", "reason": "Applied",
                "source": "poros", "message": f"generation {g['generation']} {g['action']} by {g['by']}"}
               for g in call.kernel.poros.history(type, name, workspace) if g["uid"] == uid]
    return sorted(applied[-limit:] + caretaker.events(resource=resource_key(found), limit=limit),
                  key=lambda e: e["time"])[-limit:]


def _runtime(call: Call, resource: dict[str, Any]) -> dict[str, Any]:
    status = resource["status"]
    generation = (status.get("run") or {}).get("generation") or status["generation"]
    return {"type": resource["type"], "name": resource["name"], "workspace": resource.get("workspace"),
            "runAs": call.kernel.poros.applied_by(status["uid"], generation),
            "runtime": status.get("runtime"), "progress": status.get("progress"), "run": status.get("run"),
            "replicas": status.get("replicas"), "message": status.get("message") or (status.get("run") or {}).get(
                "message"), "paused": bool(status.get("paused")),
            "pods": call.kernel.caretaker.list(resource=resource_key(resource))}


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
