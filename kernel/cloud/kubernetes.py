"""The `kubernetes` cloud driver: a pod is a `batch/v1` Job, a service a `apps/v1` Deployment
(and a `v1` Service), through the official `kubernetes` client.

    workspace W        namespace NAMESPACE_PREFIX + W ("public" when W is empty), created on need
    pod NAME           Job NAME (backoffLimit 0: retries are the reconcilers'), one container `main`,
                       labels = the spec's + dataos.io/pod=NAME, on the Job and its pod template
    secrets            Secret NAME-secrets, owned by the Job: `env.KEY` keys reach the container
                       through secretKeyRef, `file.NAME` keys are files in $DATAOS_SECRETS_DIR
                       (/var/run/dataos/secrets); never plain values in the Job
    security           every pod as the local sandbox: no service-account token, non-root (uid 65532),
                       read-only root filesystem (an emptyDir at /tmp), no capabilities, no privilege
                       escalation, RuntimeDefault seccomp, no host paths; namespaces the driver creates
                       enforce the `restricted` Pod Security Standard
    phases             from the Job's conditions and counts and its pod's container state

The driver holds no state a restart would lose but two conveniences: which namespace a pod's Job
is in (else found by label across namespaces) and how pods it killed ended (their Jobs are gone).
It tolerates an API server that ignores label selectors: every listing is filtered here as well.

An unreachable API is EUNAVAIL (a 504, ETIMEDOUT), not retried here (callers retry with backoff:
the watch, the reconcilers). An outage is logged once when a call first fails and once when one
succeeds again; `outage` is its error meanwhile.

`kubernetes` is imported lazily (≈ 200 ms): importing this module costs nothing.
"""
from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import os
import re
import threading
import time
from base64 import b64encode
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

from syscalls.errors import SyscallError

from ..store import now
from . import FAILED, PENDING, RUNNING, STOPPED, SUCCEEDED, TERMINAL, UNKNOWN, PodSpec, PodStatus

log = logging.getLogger("dataos.cloud.kubernetes")

MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED = f"{MANAGED_BY}=dataos"
POD_LABEL = "dataos.io/pod"
DEPLOYMENT_LABEL = "dataos.io/deployment"
WORKSPACE_ANNOTATION = "dataos.io/workspace"
DEFAULT_IMAGE = "python:3.11-slim"
DEFAULT_WORKSPACE = "public"
CONTAINER = "main"
SECRETS_DIR = "/var/run/dataos/secrets"
SECRETS_VOLUME = "dataos-secrets"
TMP_DIR, TMP_VOLUME = "/tmp", "dataos-tmp"  # the one writable path: the root filesystem is read-only
NONROOT = 65532  # the uid and gid pods run as ("nonroot" in distroless images)
POD_SECURITY = {"runAsNonRoot": True, "runAsUser": NONROOT, "runAsGroup": NONROOT, "fsGroup": NONROOT,
                "seccompProfile": {"type": "RuntimeDefault"}}
CONTAINER_SECURITY = {"allowPrivilegeEscalation": False, "privileged": False, "readOnlyRootFilesystem": True,
                      "capabilities": {"drop": ["ALL"]}}
POD_SECURITY_ADMISSION = "pod-security.kubernetes.io/enforce"
KILLED_EXIT = 137  # a killed pod's exit code, as the local driver's (128 + SIGKILL)
WATCH_TIMEOUT = 300  # seconds a watch request lasts before the server ends it (then it reconnects)
BACKOFF_MIN, BACKOFF_MAX = 0.5, 30.0  # seconds between reconnections of a failing watch
FOLLOW_TIMEOUT = 86400.0  # seconds a followed log may stay silent
MERGE_PATCH = "application/merge-patch+json"
OUTAGE_STATUSES = (502, 503, 504)  # answers that mean the API itself is down, as no answer does

_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_SECRET_KEY = re.compile(r"[-._a-zA-Z0-9]+")


# --- names --------------------------------------------------------------------------------------

def check_names(labels: dict[str, str], *, name: str | None = None, namespace: str | None = None,
                what: str = "pod") -> None:
    """Raise EINVAL unless Kubernetes accepts these labels (and object and namespace names).

    Label names: an optional DNS-1123 subdomain prefix (≤ 253) and '/', then ≤ 63 characters of
    letters, digits, '-', '_' and '.', starting and ending alphanumeric. Values: empty, or ≤ 63
    characters of the same alphabet. Object and namespace names: DNS-1123 labels (≤ 63 lowercase
    letters, digits and '-'): a Job's name is also the value of its pods' `job-name` label."""
    if name is not None and not _is_dns_label(name):
        raise SyscallError("EINVAL", f"{what} name {name!r} is not valid on Kubernetes: at most 63 lowercase "
                           "letters, digits and '-', starting and ending with a letter or digit", field="name")
    if namespace is not None and not _is_dns_label(namespace):
        raise SyscallError("EINVAL", f"namespace {namespace!r} is not valid on Kubernetes: at most 63 lowercase "
                           "letters, digits and '-', starting and ending with a letter or digit", field="workspace")
    for key, value in labels.items():
        prefix, slash, short = key.rpartition("/") if isinstance(key, str) else ("", "", "")
        if not (short and len(short) <= 63 and _LABEL.fullmatch(short)
                and (not slash or (prefix and len(prefix) <= 253 and _DNS_SUBDOMAIN.fullmatch(prefix)))):
            raise SyscallError("EINVAL", f"label name {key!r} is not valid on Kubernetes: an optional DNS "
                               "subdomain prefix and '/', then at most 63 letters, digits, '-', '_' or '.', "
                               "starting and ending with a letter or digit", field="labels", label=str(key))
        if not isinstance(value, str) or len(value) > 63 or (value and not _LABEL.fullmatch(value)):
            raise SyscallError("EINVAL", f"label {key!r}: value {value!r} is not valid on Kubernetes: at most 63 "
                               "letters, digits, '-', '_' or '.', starting and ending with a letter or digit",
                               field="labels", label=key)


def _is_dns_label(name: object) -> bool:
    return isinstance(name, str) and len(name) <= 63 and bool(_DNS_LABEL.fullmatch(name))


def _check_secret_keys(spec: PodSpec) -> None:
    for kind, keys in (("env", spec.secret_env), ("file", spec.secret_files)):
        for key in keys:
            if not _SECRET_KEY.fullmatch(key) or len(key) > 240:
                raise SyscallError("EINVAL", f"secret {kind} {key!r} cannot be a Kubernetes secret key: letters, "
                                   "digits, '-', '_' and '.' only", field="secrets")


# --- the driver ---------------------------------------------------------------------------------

class KubernetesDriver:
    name = "kubernetes"

    def __init__(self, kubeconfig: str | None = None, context: str | None = None, api_client: Any = None,
                 namespace_prefix: str = "", request_timeout: float = 30.0) -> None:
        from kubernetes import client
        if api_client is None:
            api_client, context = _load_config(kubeconfig, context)
        self.api_client = api_client
        self.context = context or getattr(api_client.configuration, "host", None) or "?"
        self.namespace_prefix = namespace_prefix
        self.request_timeout = request_timeout
        self.resource_version: str | None = None  # of the last event a watch saw
        self._core = client.CoreV1Api(api_client)
        self._batch = client.BatchV1Api(api_client)
        self._apps = client.AppsV1Api(api_client)
        self._lock = threading.Lock()
        self._where: dict[str, str] = {}  # pod -> namespace, filled by run, poll, status and watch
        self._final: dict[str, PodStatus] = {}  # terminal pods, and killed ones whose Jobs are gone
        self._namespaces: set[str] = set()  # known to exist
        self._closed = threading.Event()
        self._streams: set[Any] = set()  # open watch and log responses, cut by close()
        self.outage: SyscallError | None = None  # the error that began the outage under way
        self._down_since = 0.0
        from urllib3 import Retry
        # A refused or dropped connection is EUNAVAIL at once: the callers back off and try again
        # (urllib3's own three quick retries would each log a warning, in every outage).
        api_client.rest_client.pool_manager.connection_pool_kw["retries"] = Retry(0)

    # --- pods -----------------------------------------------------------------------------------

    def run(self, spec: PodSpec) -> PodStatus:
        namespace = self.namespace(spec.workspace)
        labels = {MANAGED_BY: "dataos", **spec.labels, POD_LABEL: spec.name}
        check_names(labels, name=spec.name, namespace=namespace)
        _check_secret_keys(spec)
        with self._lock:
            elsewhere = self._where.get(spec.name, namespace) != namespace
        if elsewhere:  # pod names are one namespace, as on the local driver
            raise SyscallError("EEXIST", f"pod {spec.name!r} already exists")
        self._ensure_namespace(namespace, spec.workspace)
        secret = f"{spec.name}-secrets" if spec.secret_env or spec.secret_files else None
        if secret:
            self._create_job_secret(namespace, spec, secret, labels)
        try:
            job = self._call(self._batch.create_namespaced_job, namespace, self._job(spec, namespace, labels, secret))
        except SyscallError as e:
            if secret:
                self._forget_secret(namespace, secret, quiet=True)
            if e.code == "EEXIST":
                raise SyscallError("EEXIST", f"pod {spec.name!r} already exists") from None
            raise
        if secret:
            self._own(self._core.patch_namespaced_secret, secret, namespace, "batch/v1", "Job", job)
        with self._lock:
            self._where[spec.name] = namespace
            self._final.pop(spec.name, None)
        return self._status(job, [])

    def status(self, name: str) -> PodStatus:
        with self._lock:
            final = self._final.get(name)
        if final is not None:
            return final
        job = self._read_job(name)
        namespace = job["metadata"]["namespace"]
        pods = [] if _succeeded(job) else self._pods_of(name, namespace)
        status = self._status(job, pods)
        if status.phase in TERMINAL:
            with self._lock:
                self._final[name] = status
        return status

    def poll(self) -> list[PodStatus]:
        jobs = self._managed(self._call(self._batch.list_job_for_all_namespaces, label_selector=MANAGED))
        pods = self._pods_by_name(self._call(self._core.list_pod_for_all_namespaces, label_selector=MANAGED))
        out, seen = [], set()
        for job in jobs:
            name, namespace = job["metadata"]["name"], job["metadata"].get("namespace", "")
            seen.add(name)
            with self._lock:
                self._where[name] = namespace
                final = self._final.get(name)
            out.append(final or self._status(job, pods.get((namespace, name), [])))
        with self._lock:
            out.extend(status for name, status in self._final.items() if name not in seen)
        return out

    def kill(self, name: str, grace: float = 5.0) -> None:
        status = self.status(name)
        if status.phase in TERMINAL:
            return
        namespace = self._namespace_of(name)
        killed = replace(status, phase=STOPPED, exit_code=KILLED_EXIT, reason="Stopped", finished=now())
        with self._lock:  # before the deletion, which a watch may report at once
            self._final[name] = killed
        try:
            self._delete_job(name, namespace, grace)
        except SyscallError as e:
            if e.code != "ENOENT":
                with self._lock:
                    self._final.pop(name, None)
                raise

    def delete(self, name: str) -> None:
        with self._lock:
            known = name in self._final
        try:
            namespace = self._namespace_of(name)
        except SyscallError as e:
            if e.code != "ENOENT" or not known:
                raise
            namespace = None
        if namespace is not None:
            try:
                self._delete_job(name, namespace, 2.0)
            except SyscallError as e:
                if e.code != "ENOENT" or not known:
                    raise
            self._forget_secret(namespace, f"{name}-secrets", quiet=True)  # also gone with its owner
        with self._lock:
            self._final.pop(name, None)
            self._where.pop(name, None)

    def logs(self, name: str, tail: int | None = None, follow: bool = False) -> Iterator[str]:
        """The pod's output, line by line; with `follow`, until the container has ended."""
        namespace = self._namespace_of(name)
        if tail is not None and tail <= 0:
            return
        while True:
            pod = _newest(self._pods_of(name, namespace))
            if pod is not None:
                phase = (pod.get("status") or {}).get("phase")
                started = bool(_container_state(pod).keys() & {"running", "terminated"}) \
                    or phase in ("Succeeded", "Failed")
                if started or not follow:
                    try:
                        yield from self._pod_log(pod["metadata"]["name"], namespace, tail, follow and started)
                        return
                    except _ApiError as e:  # 400: "container … is waiting to start"
                        if e.status != 400:
                            raise
                        if not follow:
                            return
            if not follow or self.status(name).phase in TERMINAL | {UNKNOWN}:
                return
            if self._closed.wait(0.2):
                return

    def watch(self, resource_version: str | None = None) -> Iterator[PodStatus]:
        """The status of every managed pod as it changes, forever (until `close`).

        Without a resource version it starts with the current state of every pod (a list), then
        follows the changes. A dropped or failed connection is resumed from the last resource
        version seen (`self.resource_version`), after 0.5 s, 1 s, 2 s … 30 s while the API stays
        unreachable; 410 Gone (that version is too old) restarts with a fresh list."""
        rv = resource_version
        delay = BACKOFF_MIN
        gone = 0  # 410s in a row
        while not self._closed.is_set():
            try:
                if rv is None:
                    jobs = self._call(self._batch.list_job_for_all_namespaces, label_selector=MANAGED)
                    pods = self._pods_by_name(self._call(self._core.list_pod_for_all_namespaces,
                                                         label_selector=MANAGED))
                    rv = (jobs.get("metadata") or {}).get("resourceVersion") or None
                    statuses = [self._remember(job, pods.get((job["metadata"].get("namespace", ""),
                                                              job["metadata"]["name"]), []))
                                for job in self._managed(jobs)]
                    self.resource_version = rv
                    yield from statuses
                    if rv is None:  # a server without versions: nothing to resume from
                        raise SyscallError("EUNAVAIL", "the Kubernetes API gave a list without a resourceVersion")
                opened, events = time.monotonic(), 0
                for event in self._watch_events(rv):
                    if not events:
                        self._up()  # the API answers: a watch that delivers, not one merely opened
                    delay, gone, events = BACKOFF_MIN, 0, events + 1
                    kind, obj = event.get("type"), event.get("object") or {}
                    if kind == "ERROR":
                        if obj.get("code") == 410:
                            raise _Gone()
                        raise SyscallError("EUNAVAIL", f"watch failed: {obj.get('message') or obj}")
                    version = (obj.get("metadata") or {}).get("resourceVersion") or rv
                    status = None
                    if kind in ("ADDED", "MODIFIED", "DELETED") and self._managed({"items": [obj]}):
                        status = self._event_status(kind, obj)
                    rv = self.resource_version = version
                    if status is not None:
                        yield status
                if not events and time.monotonic() - opened < 1.0:  # refused at once, without an error
                    raise SyscallError("EUNAVAIL", "the Kubernetes API ended the watch at once")
                self._up()
                delay = BACKOFF_MIN  # the server ended the watch (its timeout): go on at once
            except _Gone:
                log.info("watch: resource version %s is gone, listing again", rv)
                rv, gone = None, gone + 1
                if gone > 1 and self._closed.wait(delay):
                    return
            except SyscallError as e:
                if self._closed.is_set():
                    return
                if e.code not in ("EUNAVAIL", "ETIMEDOUT", "EIO"):
                    raise
                if e.code == "EIO":
                    log.warning("watch: %s; again in %.1f s", e.message, delay)
                else:
                    self._down(e)  # logged once per outage
                    log.debug("watch: %s; again in %.1f s", e.message, delay)
                if self._closed.wait(delay):
                    return
                delay = min(delay * 2, BACKOFF_MAX)

    def close(self) -> None:
        """End watches and log streams (also those blocked reading) and release connections."""
        self._closed.set()
        for resp in list(self._streams):
            _cut(resp)
        with contextlib.suppress(Exception):
            self.api_client.close()

    # --- services ---------------------------------------------------------------------------------

    def deploy(self, name: str, spec: PodSpec, replicas: int, port: int | None = None) -> None:
        """Create or update Deployment `name` (and Service `name` on `port`) in the spec's workspace."""
        namespace = self.namespace(spec.workspace)
        labels = {MANAGED_BY: "dataos", **spec.labels, DEPLOYMENT_LABEL: name}
        check_names(labels, name=name, namespace=namespace, what="deployment")
        _check_secret_keys(spec)
        if port is not None and not (isinstance(port, int) and 0 < port < 65536):
            raise SyscallError("EINVAL", f"port {port!r} is not a TCP port", field="port")
        if not isinstance(replicas, int) or replicas < 0:
            raise SyscallError("EINVAL", f"replicas {replicas!r} is not a count", field="replicas")
        self._ensure_namespace(namespace, spec.workspace)
        secret = f"{name}-secrets" if spec.secret_env or spec.secret_files else None
        if secret:
            self._put_secret(namespace, secret, spec, labels)
        template = self._template(spec, labels, secret, port)
        annotations = {WORKSPACE_ANNOTATION: spec.workspace}
        current = self._read_or_none(self._apps.read_namespaced_deployment, name, namespace)
        if current is None:
            deployment = self._call(self._apps.create_namespaced_deployment, namespace, {
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": name, "namespace": namespace, "labels": labels, "annotations": annotations},
                "spec": {"replicas": replicas, "selector": {"matchLabels": {DEPLOYMENT_LABEL: name}},
                         "template": template}})
        else:
            old = current.get("metadata", {}).get("labels") or {}
            old_template = current.get("spec", {}).get("template", {}).get("metadata", {}).get("labels") or {}
            template["metadata"]["labels"] = _merge_labels(old_template, labels)
            deployment = self._call(self._apps.patch_namespaced_deployment, name, namespace, {
                "metadata": {"labels": _merge_labels(old, labels), "annotations": annotations},
                "spec": {"replicas": replicas, "template": template}}, _content_type=MERGE_PATCH)
        if secret:
            self._own(self._core.patch_namespaced_secret, secret, namespace, "apps/v1", "Deployment", deployment)
        else:
            self._forget_secret(namespace, f"{name}-secrets")
        if port is None:
            try:
                self._call(self._core.delete_namespaced_service, name, namespace)
            except SyscallError as e:
                if e.code != "ENOENT":
                    raise
            return
        service_spec = {"selector": {DEPLOYMENT_LABEL: name},
                        "ports": [{"name": "main", "port": port, "targetPort": port, "protocol": "TCP"}]}
        owner = _owner("apps/v1", "Deployment", deployment)
        current = self._read_or_none(self._core.read_namespaced_service, name, namespace)
        if current is None:
            self._call(self._core.create_namespaced_service, namespace, {
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": name, "namespace": namespace, "labels": labels, "ownerReferences": [owner]},
                "spec": service_spec})
        else:
            old = current.get("metadata", {}).get("labels") or {}
            self._call(self._core.patch_namespaced_service, name, namespace, {
                "metadata": {"labels": _merge_labels(old, labels), "ownerReferences": [owner]},
                "spec": service_spec}, _content_type=MERGE_PATCH)

    def undeploy(self, name: str, workspace: str) -> None:
        namespace = self.namespace(workspace)
        found = False
        for delete in (self._apps.delete_namespaced_deployment, self._core.delete_namespaced_service):
            try:
                self._call(delete, name, namespace, propagation_policy="Foreground",
                           body={"propagationPolicy": "Foreground"})
                found = True
            except SyscallError as e:
                if e.code != "ENOENT":
                    raise
        self._forget_secret(namespace, f"{name}-secrets")
        if not found:
            raise SyscallError("ENOENT", f"no deployment {name!r} in workspace {workspace or DEFAULT_WORKSPACE!r}")

    def deployment_status(self, name: str, workspace: str) -> dict[str, Any]:
        namespace = self.namespace(workspace)
        try:
            deployment = self._call(self._apps.read_namespaced_deployment, name, namespace)
        except SyscallError as e:
            if e.code == "ENOENT":
                raise SyscallError("ENOENT", f"no deployment {name!r} in workspace "
                                   f"{workspace or DEFAULT_WORKSPACE!r}") from None
            raise
        spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
        return {"name": name, "workspace": workspace, "namespace": namespace,
                "replicas": spec.get("replicas", 1), "ready": status.get("readyReplicas") or 0,
                "available": status.get("availableReplicas") or 0, "updated": status.get("updatedReplicas") or 0}

    # --- namespaces -------------------------------------------------------------------------------

    def namespace(self, workspace: str) -> str:
        return self.namespace_prefix + (workspace or DEFAULT_WORKSPACE)

    def _ensure_namespace(self, namespace: str, workspace: str) -> None:
        if namespace in self._namespaces:
            return
        if self._read_or_none(self._core.read_namespace, namespace) is None:
            try:
                self._call(self._core.create_namespace, {"apiVersion": "v1", "kind": "Namespace", "metadata": {
                    "name": namespace, "labels": {MANAGED_BY: "dataos", POD_SECURITY_ADMISSION: "restricted",
                                                  "dataos.io/workspace": workspace or DEFAULT_WORKSPACE}}})
            except SyscallError as e:
                if e.code != "EEXIST":
                    raise
        with self._lock:
            self._namespaces.add(namespace)

    def _namespace_of(self, name: str) -> str:
        with self._lock:
            namespace = self._where.get(name)
        if namespace is not None:
            return namespace
        return self._find_job(name)["metadata"]["namespace"]

    def _find_job(self, name: str) -> dict[str, Any]:
        """The Job of pod `name`, wherever it is (the server may ignore the selector: filter here)."""
        listing = self._call(self._batch.list_job_for_all_namespaces, label_selector=f"{POD_LABEL}={name}")
        for job in listing.get("items") or []:
            if (job.get("metadata", {}).get("labels") or {}).get(POD_LABEL) == name \
                    and job["metadata"].get("namespace", "").startswith(self.namespace_prefix):
                with self._lock:
                    self._where[name] = job["metadata"]["namespace"]
                return job
        raise SyscallError("ENOENT", f"no pod {name!r}")

    def _read_job(self, name: str) -> dict[str, Any]:
        with self._lock:
            namespace = self._where.get(name)
        if namespace is None:
            return self._find_job(name)
        try:
            return self._call(self._batch.read_namespaced_job, name, namespace)
        except SyscallError as e:
            if e.code != "ENOENT":
                raise
        with self._lock:
            self._where.pop(name, None)
        return self._find_job(name)

    # --- objects ----------------------------------------------------------------------------------

    def _job(self, spec: PodSpec, namespace: str, labels: dict[str, str], secret: str | None) -> dict[str, Any]:
        template = self._template(spec, labels, secret, None)
        template["spec"]["restartPolicy"] = "Never"
        return {"apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": spec.name, "namespace": namespace, "labels": labels,
                             "annotations": {WORKSPACE_ANNOTATION: spec.workspace}},
                "spec": {"backoffLimit": 0, "template": template}}

    def _template(self, spec: PodSpec, labels: dict[str, str], secret: str | None, port: int | None) -> dict:
        """A pod template with the local sandbox's guarantees: no service-account token, a non-root
        user, a read-only root filesystem (writable: an emptyDir at /tmp), no capabilities and no
        privilege escalation, the runtime's default seccomp profile; volumes are only that emptyDir
        and the pod's Secret, never a host path."""
        env = [{"name": k, "value": str(v)} for k, v in spec.env.items() if k not in spec.secret_env]
        env += [{"name": k, "valueFrom": {"secretKeyRef": {"name": secret, "key": f"env.{k}"}}}
                for k in spec.secret_env]
        mounts = [{"name": TMP_VOLUME, "mountPath": TMP_DIR}]
        volumes: list[dict[str, Any]] = [{"name": TMP_VOLUME, "emptyDir": {}}]
        container: dict[str, Any] = {"name": CONTAINER, "image": spec.image or DEFAULT_IMAGE,
                                     "command": list(spec.command), "volumeMounts": mounts,
                                     "securityContext": copy.deepcopy(CONTAINER_SECURITY)}
        pod: dict[str, Any] = {"containers": [container], "volumes": volumes, "enableServiceLinks": False,
                               "automountServiceAccountToken": False,
                               "securityContext": copy.deepcopy(POD_SECURITY)}
        if spec.secret_files:
            env.append({"name": "DATAOS_SECRETS_DIR", "value": SECRETS_DIR})
            mounts.insert(0, {"name": SECRETS_VOLUME, "mountPath": SECRETS_DIR, "readOnly": True})
            volumes.insert(0, {"name": SECRETS_VOLUME, "secret": {
                "secretName": secret, "items": [{"key": f"file.{n}", "path": n} for n in spec.secret_files]}})
        if env:
            container["env"] = env
        if port is not None:
            container["ports"] = [{"name": "main", "containerPort": port, "protocol": "TCP"}]
        return {"metadata": {"labels": dict(labels), "annotations": {WORKSPACE_ANNOTATION: spec.workspace}},
                "spec": pod}

    def _secret_data(self, spec: PodSpec) -> dict[str, str]:
        data = {f"env.{k}": v for k, v in spec.secret_env.items()}
        data.update({f"file.{k}": v for k, v in spec.secret_files.items()})
        return {k: b64encode(str(v).encode()).decode() for k, v in data.items()}

    def _create_job_secret(self, namespace: str, spec: PodSpec, secret: str, labels: dict[str, str]) -> None:
        """The Secret before its Job (whose pod needs it at once); it is owned by the Job after."""
        body = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": secret, "namespace": namespace, "labels": labels},
                "data": self._secret_data(spec)}
        try:
            self._call(self._core.create_namespaced_secret, namespace, body)
            return
        except SyscallError as e:
            if e.code != "EEXIST":
                raise
        if self._read_or_none(self._batch.read_namespaced_job, spec.name, namespace) is not None:
            raise SyscallError("EEXIST", f"pod {spec.name!r} already exists")
        self._forget_secret(namespace, secret)  # left by a run that failed half-way: replace it
        self._call(self._core.create_namespaced_secret, namespace, body)

    def _put_secret(self, namespace: str, secret: str, spec: PodSpec, labels: dict[str, str]) -> None:
        data = self._secret_data(spec)
        current = self._read_or_none(self._core.read_namespaced_secret, secret, namespace)
        if current is None:
            self._call(self._core.create_namespaced_secret, namespace, {
                "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": secret, "namespace": namespace, "labels": labels}, "data": data})
        else:
            stale = {k: None for k in current.get("data") or {} if k not in data}
            self._call(self._core.patch_namespaced_secret, secret, namespace,
                       {"metadata": {"labels": labels}, "data": {**stale, **data}}, _content_type=MERGE_PATCH)

    def _own(self, patch: Callable, name: str, namespace: str, api_version: str, kind: str,
             owner: dict[str, Any]) -> None:
        """Make `owner` own object `name`, so that it goes when its owner goes."""
        self._call(patch, name, namespace, {"metadata": {"ownerReferences": [_owner(api_version, kind, owner)]}},
                   _content_type=MERGE_PATCH)

    def _forget_secret(self, namespace: str, secret: str, quiet: bool = False) -> None:
        """Delete a Secret if it is there (`quiet`: whatever happens, as a best effort)."""
        try:
            self._call(self._core.delete_namespaced_secret, secret, namespace)
        except SyscallError as e:
            if not quiet and e.code != "ENOENT":
                raise

    def _delete_job(self, name: str, namespace: str, grace: float) -> None:
        seconds = max(0, math.ceil(grace))
        self._call(self._batch.delete_namespaced_job, name, namespace, propagation_policy="Foreground",
                   grace_period_seconds=seconds,
                   body={"propagationPolicy": "Foreground", "gracePeriodSeconds": seconds})

    def _pods_of(self, name: str, namespace: str) -> list[dict[str, Any]]:
        listing = self._call(self._core.list_namespaced_pod, namespace, label_selector=f"{POD_LABEL}={name}")
        return self._pods_by_name(listing).get((namespace, name), [])

    def _pods_by_name(self, listing: dict[str, Any]) -> dict[tuple[str, str], list[dict[str, Any]]]:
        """Pods by (namespace, the pod name of their Job)."""
        out: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for pod in listing.get("items") or []:
            meta = pod.get("metadata") or {}
            labels = meta.get("labels") or {}
            name = labels.get(POD_LABEL) or labels.get("batch.kubernetes.io/job-name") or labels.get("job-name")
            if name:
                out.setdefault((meta.get("namespace", ""), name), []).append(pod)
        return out

    def _managed(self, listing: dict[str, Any]) -> list[dict[str, Any]]:
        """The items of a listing that are this driver's: labelled as managed by dataos, in a
        namespace of its prefix (the server may have ignored the label selector)."""
        return [item for item in listing.get("items") or []
                if (item.get("metadata", {}).get("labels") or {}).get(MANAGED_BY) == "dataos"
                and item.get("metadata", {}).get("name")
                and item["metadata"].get("namespace", "").startswith(self.namespace_prefix)]

    def _pod_log(self, pod: str, namespace: str, tail: int | None, follow: bool) -> Iterator[str]:
        kwargs: dict[str, Any] = {"container": CONTAINER, "follow": follow}
        if tail is not None:
            kwargs["tail_lines"] = tail
        with self._api():
            resp = self._core.read_namespaced_pod_log(
                pod, namespace, _preload_content=False,
                _request_timeout=(self.request_timeout, FOLLOW_TIMEOUT) if follow else self.request_timeout, **kwargs)
        if not follow:
            try:
                with self._api():
                    text = resp.data.decode("utf-8", "replace")
            finally:
                resp.release_conn()
            yield from text.splitlines(keepends=True)
            return
        partial = ""
        for chunk in self._stream(resp):
            lines = (partial + chunk.decode("utf-8", "replace")).splitlines(keepends=True)
            partial = lines.pop() if lines and not lines[-1].endswith("\n") else ""
            yield from lines
        if partial:
            yield partial

    def _watch_events(self, rv: str) -> Iterator[dict[str, Any]]:
        try:
            with self._api(answers=False):  # opened is not answered: it may be cut at once
                resp = self._batch.list_job_for_all_namespaces(
                    label_selector=MANAGED, watch=True, resource_version=rv, allow_watch_bookmarks=True,
                    timeout_seconds=WATCH_TIMEOUT, _preload_content=False,
                    _request_timeout=(self.request_timeout, WATCH_TIMEOUT + 30))
        except _ApiError as e:
            if e.status == 410:
                raise _Gone() from None
            raise e.error from None
        buffer = b""
        for chunk in self._stream(resp):
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                if line.strip():
                    try:
                        yield json.loads(line)
                    except ValueError:
                        log.warning("watch: not JSON: %r", line[:200])

    def _stream(self, resp: Any) -> Iterator[bytes]:
        """The chunks of a streamed response, as they come; cut by `close`."""
        self._streams.add(resp)
        try:
            with self._api(answers=False):
                for chunk in resp.stream(amt=None, decode_content=False):
                    if self._closed.is_set():
                        return
                    if chunk:
                        yield chunk
        finally:
            self._streams.discard(resp)
            with contextlib.suppress(Exception):
                resp.close()
                resp.release_conn()

    # --- statuses ---------------------------------------------------------------------------------

    def _remember(self, job: dict[str, Any], pods: list[dict[str, Any]]) -> PodStatus:
        name = job["metadata"]["name"]
        with self._lock:
            self._where[name] = job["metadata"].get("namespace", "")
            final = self._final.get(name)
        return final or self._status(job, pods)

    def _event_status(self, kind: str, job: dict[str, Any]) -> PodStatus:
        name, namespace = job["metadata"]["name"], job["metadata"].get("namespace", "")
        with self._lock:
            final = self._final.get(name)
        if final is not None:
            return final
        if kind == "DELETED":
            with self._lock:
                self._where.pop(name, None)
            status = self._status(job, [])
            if status.phase not in TERMINAL:
                status = replace(status, phase=FAILED, reason="Deleted", finished=now())
            return status
        with self._lock:
            self._where[name] = namespace
        pods = [] if _succeeded(job) else self._pods_of(name, namespace)
        return self._status(job, pods)

    def _status(self, job: dict[str, Any], pods: list[dict[str, Any]]) -> PodStatus:
        meta, st = job.get("metadata") or {}, job.get("status") or {}
        labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != POD_LABEL}
        workspace = (meta.get("annotations") or {}).get(WORKSPACE_ANNOTATION, labels.get("dataos.io/workspace", ""))
        conditions = {c.get("type"): c for c in st.get("conditions") or [] if c.get("status") == "True"}
        pod = _newest(pods)
        pod_status = (pod or {}).get("status") or {}
        state = _container_state(pod)
        ended = state.get("terminated") or {}
        ran = state.get("running") or ended
        started = _iso(ran.get("startedAt"))
        exit_code = reason = finished = None
        if "Complete" in conditions or "SuccessCriteriaMet" in conditions or st.get("succeeded"):
            phase, exit_code, reason = SUCCEEDED, ended.get("exitCode", 0), "Completed"
            finished = (_iso(st.get("completionTime")) or _iso(ended.get("finishedAt"))
                        or _iso((conditions.get("Complete") or {}).get("lastTransitionTime")))
        elif "Failed" in conditions or "FailureTarget" in conditions or st.get("failed"):
            condition = conditions.get("Failed") or conditions.get("FailureTarget") or {}
            phase, exit_code = FAILED, ended.get("exitCode")
            reason = ended.get("reason") or pod_status.get("reason") or condition.get("reason") or "Error"
            finished = _iso(ended.get("finishedAt")) or _iso(condition.get("lastTransitionTime"))
        elif meta.get("deletionTimestamp"):
            phase, reason, finished = FAILED, "Deleted", _iso(meta["deletionTimestamp"])
        elif pod is not None:
            pod_phase = pod_status.get("phase") or "Pending"
            if pod_phase == "Running":
                phase = RUNNING
            elif pod_phase == "Succeeded":
                phase, exit_code, reason = SUCCEEDED, ended.get("exitCode", 0), "Completed"
                finished = _iso(ended.get("finishedAt"))
            elif pod_phase == "Failed":
                phase, exit_code = FAILED, ended.get("exitCode")
                reason = ended.get("reason") or pod_status.get("reason") or "Error"
                finished = _iso(ended.get("finishedAt"))
            elif pod_phase == "Unknown":
                phase, reason = UNKNOWN, pod_status.get("reason") or "NodeLost"
            else:
                phase, reason = PENDING, (state.get("waiting") or {}).get("reason")
        elif st.get("active") and st.get("ready"):
            phase = RUNNING
        else:
            phase = PENDING
        if started is None and phase in (RUNNING, SUCCEEDED, FAILED):
            started = _iso(st.get("startTime"))
        return PodStatus(name=meta.get("name", ""), workspace=workspace, phase=phase, labels=labels,
                         created=_iso(meta.get("creationTimestamp")) or now(), started=started,
                         finished=finished, exit_code=exit_code, reason=reason,
                         node=((pod or {}).get("spec") or {}).get("nodeName") or "kubernetes")

    # --- calls --------------------------------------------------------------------------------

    def _call(self, fn: Callable, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Call an API method; the answer as JSON (no models: a lenient server is fine)."""
        kwargs.setdefault("_request_timeout", self.request_timeout)
        with self._api():
            resp = fn(*args, _preload_content=False, **kwargs)
            try:
                data = resp.data
            finally:
                resp.release_conn()
        try:
            return json.loads(data) if data else {}
        except ValueError:
            raise SyscallError("EIO", f"the Kubernetes API answered {fn.__name__} with no JSON: {data[:200]!r}") \
                from None

    def _read_or_none(self, fn: Callable, *args: Any) -> dict[str, Any] | None:
        try:
            return self._call(fn, *args)
        except SyscallError as e:
            if e.code == "ENOENT":
                return None
            raise

    @contextlib.contextmanager
    def _api(self, answers: bool = True) -> Iterator[None]:
        """Translate the client's errors into errno-style SyscallErrors; note outages, and (if the
        block ending means that the API `answers`: not a stream's end) recoveries."""
        from kubernetes.client.exceptions import ApiException
        from pydantic import ValidationError
        from urllib3.exceptions import HTTPError
        try:
            yield
        except ApiException as e:
            error = self._api_error(e)
            if e.status in OUTAGE_STATUSES:
                self._down(error)
            else:
                self._up()
            raise _ApiError(e.status, error) from None
        except ValidationError as e:
            raise SyscallError("EINVAL", f"not a valid Kubernetes object: {e}") from None
        except (HTTPError, OSError) as e:
            if self._closed.is_set():
                raise SyscallError("EUNAVAIL", "the kubernetes driver is closed") from None
            error = SyscallError("EUNAVAIL", f"cannot reach the Kubernetes API of context {self.context!r}: "
                                 f"{_reason(e)}")
            self._down(error)
            raise error from None
        if answers:
            self._up()

    def _down(self, error: SyscallError) -> None:
        with self._lock:
            began, self.outage = self.outage is None, self.outage or error
            if began:
                self._down_since = time.monotonic()
        if began:
            log.warning("Kubernetes API unavailable: %s (retrying with backoff until it recovers)", error.message)

    def _up(self) -> None:
        with self._lock:
            ended, self.outage = self.outage is not None, None
        if ended:
            log.info("Kubernetes API of context %r recovered after %.1f s", self.context,
                     time.monotonic() - self._down_since)

    def _api_error(self, e: Any) -> SyscallError:
        status = e.status or 0
        try:
            body = json.loads(e.body) if e.body else {}
        except (ValueError, TypeError):
            body = {}
        message = (body.get("message") if isinstance(body, dict) else None) or e.reason or f"HTTP {status}"
        code = {400: "EINVAL", 401: "EAUTH", 403: "EACCES", 404: "ENOENT", 409: "EEXIST", 422: "EINVAL",
                504: "ETIMEDOUT"}.get(status)
        if status == 409 and isinstance(body, dict) and body.get("reason") == "Conflict":
            code = "ECONFLICT"
        if code is None:
            code = "EUNAVAIL" if status == 429 or status >= 500 else "EIO"
        return SyscallError(code, f"Kubernetes API ({self.context}): {message}", status=status)


class _ApiError(SyscallError):
    """A SyscallError that remembers the HTTP status (410 matters to watches)."""

    def __init__(self, status: int, error: SyscallError) -> None:
        super().__init__(error.code, error.message, **error.details)
        self.status = status
        self.error = error


class _Gone(Exception):
    """The watched resource version is too old: list again."""


# --- helpers ------------------------------------------------------------------------------------

def _load_config(kubeconfig: str | None, context: str | None) -> tuple[Any, str]:
    from kubernetes import client, config
    default = Path(os.environ.get("KUBECONFIG", "~/.kube/config").split(os.pathsep)[0]).expanduser()
    if kubeconfig is None and context is None and os.environ.get("KUBERNETES_SERVICE_HOST") \
            and not default.exists():
        configuration = client.Configuration()
        config.load_incluster_config(client_configuration=configuration)
        return client.ApiClient(configuration), "in-cluster"
    try:
        api_client = config.new_client_from_config(config_file=kubeconfig, context=context)
        if context is None:
            _, active = config.list_kube_config_contexts(config_file=kubeconfig)
            context = (active or {}).get("name")
    except (config.ConfigException, OSError, ValueError, TypeError, KeyError, AttributeError) as e:
        where = f" {kubeconfig!r}" if kubeconfig else ""
        raise SyscallError("EINVAL", f"cannot load the kubeconfig{where}"
                           f"{f' for context {context!r}' if context else ''}: {e}") from None
    return api_client, context or "?"


def _owner(api_version: str, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    return {"apiVersion": api_version, "kind": kind, "name": meta.get("name"), "uid": meta.get("uid")}


def _merge_labels(old: dict[str, str], new: dict[str, str]) -> dict[str, str | None]:
    """A merge patch from labels `old` to `new` (None removes a label)."""
    return {**{k: None for k in old if k not in new}, **new}


def _succeeded(job: dict[str, Any]) -> bool:
    status = job.get("status") or {}
    return bool(status.get("succeeded")) or any(
        c.get("type") in ("Complete", "SuccessCriteriaMet") and c.get("status") == "True"
        for c in status.get("conditions") or [])


def _newest(pods: list[dict[str, Any]]) -> dict[str, Any] | None:
    return max(pods, key=lambda p: (p.get("metadata") or {}).get("creationTimestamp") or "", default=None)


def _container_state(pod: dict[str, Any] | None) -> dict[str, Any]:
    statuses = ((pod or {}).get("status") or {}).get("containerStatuses") or []
    for status in statuses:
        if status.get("name") == CONTAINER:
            return status.get("state") or {}
    return (statuses[0].get("state") or {}) if statuses else {}


def _iso(value: str | None) -> str | None:
    """A Kubernetes time as the kernel writes times: UTC, milliseconds, Z."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _reason(e: BaseException) -> str:
    reason = getattr(e, "reason", None) or e
    text = str(reason)
    return text if len(text) <= 300 else text[:297] + "..."


def _cut(resp: Any) -> None:
    """Shut a streamed response's socket from another thread: its reader wakes up at once."""
    import socket
    with contextlib.suppress(Exception):
        sock = getattr(getattr(resp, "connection", None), "sock", None)
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(Exception):
        resp.close()
