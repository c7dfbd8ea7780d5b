"""A Kubernetes API server for tests: kmock's in-memory emulator, with what the official client
and the kubernetes driver need, served on 127.0.0.1 from a background thread.

kmock 0.8 serves create/list/get/patch/delete/watch of any resource from memory. Fixed here:

- `POST` answers 201 Created, as the real API does;
- the cluster-scoped `/api/v1/namespaces[/NAME]` paths (kmock reads `namespaces/X` as a namespace
  prefix and fails on the bare collection);
- lists carry `kind`, `apiVersion` and `metadata.resourceVersion`;
- new objects get `metadata.namespace` (from the URL), `uid` and `creationTimestamp`;
- every change gets a cluster-wide increasing `metadata.resourceVersion` and is kept in an event
  log, so a watch with `resourceVersion=N` resumes after N without replaying older events (kmock
  replays every object as ADDED on every watch); `compact()` makes older versions answer
  `410 Gone`, `timeoutSeconds` ends a watch;
- `GET …/pods/NAME/log` (with `tailLines` and `follow`) serves text the test puts in `pod_logs`;
- discovery (`/api/v1`, `/apis`, `/apis/GROUP[/VERSION]`) of the kinds the driver and the Helm
  chart use (DISCOVERY), as kubectl reads it;
- server-side apply (`PATCH` of `application/apply-patch+yaml`): creates the object, or merges
  the applied fields into it.

Like kmock, it has no label selectors (lists and watches ignore `labelSelector`) and no
controllers: tests play the Job controller themselves.
"""
from __future__ import annotations

import asyncio
import bisect
import copy
import datetime as dt
import json
import re
import threading
import uuid
from typing import Any

import aiohttp.web
import attrs
import kmock
from kmock._internal import aiobus, enums, parsing, references, rendering

NAMESPACES = references.resource(group="", version="v1", plural="namespaces")
PODS = references.resource(group="", version="v1", plural="pods")
NS_PATH = re.compile(r"/api/v1/namespaces(?:/([^/]+))?/?")
DISCOVERY = {  # groupVersion -> (plural, kind, namespaced)
    "v1": [("namespaces", "Namespace", False), ("pods", "Pod", True), ("secrets", "Secret", True),
           ("services", "Service", True), ("serviceaccounts", "ServiceAccount", True),
           ("configmaps", "ConfigMap", True), ("persistentvolumeclaims", "PersistentVolumeClaim", True)],
    "apps/v1": [("deployments", "Deployment", True), ("statefulsets", "StatefulSet", True)],
    "batch/v1": [("jobs", "Job", True)],
    "networking.k8s.io/v1": [("ingresses", "Ingress", True), ("networkpolicies", "NetworkPolicy", True)],
    "policy/v1": [("poddisruptionbudgets", "PodDisruptionBudget", True)],
    "rbac.authorization.k8s.io/v1": [("clusterroles", "ClusterRole", False),
                                     ("clusterrolebindings", "ClusterRoleBinding", False),
                                     ("roles", "Role", True), ("rolebindings", "RoleBinding", True)],
}
KINDS = {plural: kind for kinds in DISCOVERY.values() for plural, kind, _ in kinds}
VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]
APPLY = "application/apply-patch+yaml"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class _RecordingBus(aiobus.Bus):
    """Where kmock announces a change (under its lock): stamp a resourceVersion and log it."""

    api: "KubeAPI"
    resource: references.resource

    async def put(self, *items: Any) -> None:
        for item in items:
            self.api._record(self.resource, item)


class _Buses(dict):
    def __init__(self, api: "KubeAPI") -> None:
        super().__init__()
        self.api = api

    def __missing__(self, resource: references.resource) -> _RecordingBus:
        bus = self[resource] = _RecordingBus()
        bus.api, bus.resource = self.api, resource
        return bus


@attrs.define(kw_only=True)
class KubeAPI(kmock.KubernetesEmulator):
    pod_logs: dict[tuple[str, str], str] = attrs.field(factory=dict)  # (namespace, pod) -> text
    logs_ended: set[tuple[str, str]] = attrs.field(factory=set)  # a follow stream ends after these
    _rv: int = attrs.field(default=0, init=False)
    _compacted: int = attrs.field(default=0, init=False)
    _log: list[tuple[int, Any, dict]] = attrs.field(factory=list, init=False)  # (rv, resource, event)
    _changed: asyncio.Event | None = attrs.field(default=None, init=False)
    closing: bool = attrs.field(default=False, init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self._buses = _Buses(self)

    # --- requests -----------------------------------------------------------------------------

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        """kmock's entry point, with a parser that knows the cluster-scoped namespaces."""
        if not NS_PATH.fullmatch(raw_request.path):
            return await super().__call__(raw_request)
        raw_response = None
        try:
            request = await self._parse_namespace_request(raw_request)
            self._requests.append(request)
            try:
                return await self._handle(request)
            except rendering.StreamingError as e:
                raw_response = e.args[0]
                raise e.__cause__ from None
        except Exception as e:
            if not self._errors:
                raise
            self._errors[-1].append(e)
            if raw_response is None or not raw_response.prepared:
                return await self._render_error(e)
            await self._stream_error(e, raw_response)
            await raw_response.write_eof()
            return raw_response

    async def _parse_namespace_request(self, raw_request: aiohttp.web.BaseRequest) -> rendering.Request:
        body = await raw_request.read()
        text = await raw_request.text()
        try:
            data = json.loads(text) if text else None
        except ValueError:
            data = None
        name = NS_PATH.fullmatch(raw_request.path).group(1)
        path = parsing.ParsedPath(group="", version="v1", plural="namespaces", name=name)
        return rendering.Request(
            id=len(self._requests), raw_request=raw_request, url=raw_request.url, method=raw_request.method,
            params=dict(raw_request.query), headers=dict(raw_request.headers), cookies=dict(raw_request.cookies),
            data=data, body=body, text=text,
            action=parsing.guess_k8s(path, enums.method(raw_request.method), dict(raw_request.query)),
            resource=NAMESPACES, namespace=None, name=name, subresource=None)

    # --- discovery ----------------------------------------------------------------------------

    async def _serve_apis(self, request: rendering.Request) -> rendering.Payload:
        return {"kind": "APIGroupList", "apiVersion": "v1",
                "groups": [self._group(gv.split("/")[0]) for gv in DISCOVERY if "/" in gv]}

    async def _serve_group(self, request: rendering.Request) -> rendering.Payload:
        return {"kind": "APIGroup", "apiVersion": "v1", **self._group(request.resource.group)}

    def _group(self, group: str) -> dict[str, Any]:
        versions = [{"groupVersion": gv, "version": gv.split("/")[1]} for gv in DISCOVERY if gv.split("/")[0] == group
                    and "/" in gv]
        return {"name": group, "versions": versions, "preferredVersion": versions[0]}

    async def _serve_version(self, request: rendering.Request) -> rendering.Payload:
        group, version = request.resource.group, request.resource.version
        gv = f"{group}/{version}" if group else version
        if gv not in DISCOVERY:
            raise kmock.KubernetesEndpointNotFoundError()
        resources = [{"name": plural, "singularName": kind.lower(), "kind": kind, "namespaced": namespaced,
                      "verbs": VERBS} for plural, kind, namespaced in DISCOVERY[gv]]
        if gv == "v1":
            resources.append({"name": "pods/log", "singularName": "", "kind": "Pod", "namespaced": True,
                              "verbs": ["get"]})
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}

    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        if request.resource == PODS and request.subresource == "log" and request.method == enums.method.GET:
            return await self._serve_log(request)
        if request.method == enums.method.PATCH and request.headers.get("Content-Type", "").startswith(APPLY):
            return await self._serve_apply(request)
        if request.action == enums.action.CREATE and isinstance(request.data, dict):
            meta = request.data.setdefault("metadata", {})
            if request.namespace:
                meta["namespace"] = request.namespace
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", _now())
            meta.setdefault("generation", 1)
            request.data.setdefault("kind", KINDS.get(request.resource.plural or "", ""))
            group = request.resource.group
            request.data.setdefault("apiVersion", f"{group}/{request.resource.version}" if group
                                    else request.resource.version)
        response = await super()._handle(request)
        if request.action == enums.action.CREATE and response.status == 200 and not response.prepared:
            response.set_status(201)
        return response

    async def _serve_apply(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        """A server-side apply: the object created, or the applied fields merged into it."""
        import yaml
        data = yaml.safe_load(request.text)
        meta = data.setdefault("metadata", {})
        if request.namespace:
            meta["namespace"] = request.namespace
        key = (request.resource, request.namespace, request.name)
        async with self._lock:
            if key in self._objects and not self._objects[key].deleted:
                self._objects[key].patch(data)
                kind, status = "MODIFIED", 200
            else:
                meta.update(uid=str(uuid.uuid4()), creationTimestamp=_now(), generation=1)
                if key in self._objects:
                    self._objects[key].create(data)
                else:
                    self._objects[key] = data
                kind, status = "ADDED", 201
            raw = self._objects[key].raw
            await self._buses[request.resource].put({"type": kind, "object": raw})
        return aiohttp.web.json_response(raw, status=status)

    # --- versions and watches -----------------------------------------------------------------

    def _record(self, resource: Any, event: dict) -> None:
        self._rv += 1
        obj = event.get("object") or {}
        if event.get("type") == "DELETED":  # the stored object keeps its last version
            obj = {**obj, "metadata": {**obj.get("metadata", {})}}
        else:  # the event's metadata is the stored object's: the version sticks to it
            obj.setdefault("metadata", {})
        obj["metadata"]["resourceVersion"] = str(self._rv)
        self._log.append((self._rv, resource, {"type": event.get("type"), "object": copy.deepcopy(obj)}))
        self._wake()

    def _wake(self) -> None:
        if self._changed is not None:
            self._changed.set()
        self._changed = asyncio.Event()

    def compact(self) -> None:
        """Forget the event log: a watch from an older resourceVersion gets 410 Gone."""
        self._compacted = self._rv

    def _matches(self, request: rendering.Request, resource: Any, obj: dict) -> bool:
        return resource == request.resource and (
            request.namespace is None or obj.get("metadata", {}).get("namespace") == request.namespace)

    async def _serve_list(self, request: rendering.Request) -> rendering.Payload:
        async with self._lock:
            items = [obj.raw for (resource, namespace, _), obj in self._objects.items()
                     if not obj.deleted and resource == request.resource
                     and (request.namespace is None or namespace == request.namespace)]
            rv = self._rv
        kind = KINDS.get(request.resource.plural or "", (request.resource.plural or "").capitalize())
        group = request.resource.group
        return {"kind": f"{kind}List", "apiVersion": f"{group}/{request.resource.version}" if group
                else request.resource.version, "metadata": {"resourceVersion": str(rv)}, "items": items}

    async def _serve_watch(self, request: rendering.Request):
        yield b""  # headers out: the client is connected even if nothing happens
        loop = asyncio.get_running_loop()
        timeout = float(request.params.get("timeoutSeconds") or 0)
        deadline = loop.time() + timeout if timeout > 0 else None
        since = request.params.get("resourceVersion") or "0"
        async with self._lock:
            if since == "0":  # as the real API: the current objects as ADDED, then the changes
                replay = [{"type": "ADDED", "object": obj.raw} for (resource, _, _), obj in self._objects.items()
                          if not obj.deleted and self._matches(request, resource, obj.raw)]
                position = len(self._log)
            elif int(since) < self._compacted:
                yield {"type": "ERROR", "object": {
                    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "code": 410,
                    "reason": "Expired", "message": f"too old resource version: {since} ({self._compacted})"}}
                return
            else:
                replay = []
                position = bisect.bisect_right([rv for rv, _, _ in self._log], int(since))
        for event in replay:
            yield event
        while not self.closing:
            changed = self._changed
            while position < len(self._log):
                _, resource, event = self._log[position]
                position += 1
                if self._matches(request, resource, event["object"]):
                    yield event
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                return
            if changed is None:
                self._wake()
                continue
            try:
                await asyncio.wait_for(changed.wait(), min(0.5, left) if left is not None else 0.5)
            except asyncio.TimeoutError:
                pass

    # --- logs ---------------------------------------------------------------------------------

    async def _serve_log(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        key = (request.namespace, request.name)
        async with self._lock:
            pod = self._objects[PODS, request.namespace, request.name] \
                if (PODS, request.namespace, request.name) in self._objects else None
            if pod is None or pod.deleted:
                raise kmock.KubernetesObjectNotFoundError()
        text = self.pod_logs.get(key, "")
        tail = request.params.get("tailLines")
        if tail is not None:
            lines = text.splitlines(keepends=True)
            text = "".join(lines[len(lines) - int(tail):] if int(tail) > 0 else [])
        if request.params.get("follow") != "true":
            return aiohttp.web.Response(text=text, content_type="text/plain")
        response = aiohttp.web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request._raw_request)
        await response.write(text.encode())
        sent = len(self.pod_logs.get(key, ""))
        while not self.closing:
            current = self.pod_logs.get(key, "")
            if len(current) > sent:
                await response.write(current[sent:].encode())
                sent = len(current)
            elif key in self.logs_ended:
                break
            await asyncio.sleep(0.02)
        await response.write_eof()
        return response


class KubeServer:
    """A KubeAPI on 127.0.0.1:PORT, run by an event loop in a thread; it can stop listening and
    listen again on the same port (a dropped API server) while its objects stay."""

    def __init__(self, api: KubeAPI | None = None, port: int = 0) -> None:
        self.api = api or KubeAPI()
        self.port = port
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="kube-api", daemon=True)
        self._runner: aiohttp.web.ServerRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def requests(self) -> list[rendering.Request]:
        """Every request served so far, oldest first."""
        return list(self.api._requests)

    def call(self, coro, timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> "KubeServer":
        self._thread.start()
        self.call(self.api.__aenter__())
        self.listen()
        return self

    def listen(self) -> None:
        async def go() -> None:
            self.api.closing = False
            runner = aiohttp.web.ServerRunner(aiohttp.web.Server(self.api), shutdown_timeout=1.0)
            await runner.setup()
            site = aiohttp.web.TCPSite(runner, "127.0.0.1", self.port)
            await site.start()
            self.port = runner.addresses[0][1]
            self._runner = runner
        self.call(go())

    def stop_listening(self) -> None:
        """Drop every connection (watches and log streams end) and refuse new ones."""
        async def go() -> None:
            self.api.closing = True
            self.api._wake()
            if self._runner is not None:
                await self._runner.cleanup()
                self._runner = None
        self.call(go())

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        self.stop_listening()
        self.call(self.api.__aexit__(None, None, None))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def __enter__(self) -> "KubeServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
