"""Poros' reconcilers: desired state (resources) into runtime (pods), in the operator pattern.

One thread wakes every `TICK` seconds, or at once when a resource is applied or deleted or a
pod changes phase: it asks the cloud driver for pod states (Caretaker records transitions),
then lets each workload's controller move it one step towards what its manifest asks for.
Controllers are idempotent: a tick may be repeated, or the daemon killed between two, safely.

A pod acts as the user who applied the generation it runs (`dataos.io/run-as`), never as the
resource's first owner: whoever changes a workload's code runs it with their own rights. Pods
that need syscalls get a short-lived API key of that user, revoked when the pod ends; a sweep
revokes any pod key whose pod is gone, however it went.
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from syscalls.errors import SyscallError

from ...cloud import TERMINAL, UNKNOWN, PodSpec
from ...stacks import STACKS
from ..references import secret_path
from ..store import object_path

if TYPE_CHECKING:
    from ...kernel import Kernel

log = logging.getLogger("dataos.poros")
TICK = 0.25
QUICK_TICK = 0.05  # after starting pods: see them run without waiting a whole tick
LAUNCH_BUDGET = 0.1  # seconds of pod starts per tick; the rest go next tick (others get reconciled)
SWEEP_EVERY = 5.0  # seconds between sweeps of pod keys whose pods are gone
KEY_GRACE = 60.0  # seconds a pod key may exist before its pod is seen (a driver that reports late)
ARCHIVE_EVERY = 3600.0  # seconds between moves of old pod history to Parquet
ARCHIVE_AFTER = 7 * 86400.0  # pod events older than this are archived


def pod_name(*parts: object) -> str:
    """A DNS-1123 pod name ≤ 63 characters: the parts joined by '-', hashed when too long."""
    name = "-".join(str(p) for p in parts)
    if len(name) <= 63:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[:54].rstrip('-')}-{digest}"


class Controller:
    """Moves one type of workload towards its manifest, one idempotent step per `reconcile`."""
    source = "controller"  # who its events are from

    def __init__(self, reconciler: "Reconciler") -> None:
        self.r = reconciler
        self.kernel = reconciler.kernel

    def note(self, resource: dict[str, Any], type: str, reason: str, message: str) -> None:
        self.r.note(resource, type, reason, message, self.source)

    def reconcile(self, resource: dict[str, Any]) -> None:
        raise NotImplementedError

    def teardown(self, resource: dict[str, Any]) -> None:
        """The resource was deleted: anything beyond its pods to remove."""


class Reconciler:
    def __init__(self, kernel: "Kernel") -> None:
        from .service import Deployments, Services
        from .workflow import Workflows
        self.kernel = kernel
        # Long-running pods: kept by us as restartable pods, or by Kubernetes as a Deployment.
        keeper = Deployments if hasattr(kernel.cloud, "deploy") else Services
        self.controllers = {"workflow": Workflows(self), "service": keeper(self), "worker": keeper(self)}
        self._wake = threading.Event()
        self._ticking = threading.RLock()  # the loop and syscalls (runtime.control) act in turn
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="reconciler", daemon=True)
        self._archived = monotonic()
        self._swept = 0.0
        self._launched = False
        self._budget_until = 0.0
        self._failing: dict[str, tuple[str, int, float]] = {}  # resource key -> (why, outage tries, next try)
        self.ticks = 0  # passes over every resource (metrics)

    def start(self) -> None:
        self._thread.start()
        if self.watching:
            threading.Thread(target=self._watch, name="pod-watch", daemon=True).start()

    @property
    def watching(self) -> bool:
        """Drivers with a watch (Kubernetes) push pod changes; the local one is polled each tick."""
        return hasattr(self.kernel.cloud, "watch")

    def _watch(self) -> None:
        """Feed the Caretaker from the driver's watch (it resumes and backs off by itself), while
        this replica leads; one that takes the lead lists every pod again first."""
        lease = self.kernel.lease
        try:
            while not self._stop.is_set():
                leading = lease.held()
                for status in self.kernel.cloud.watch():  # a list of every pod, then the changes
                    if self._stop.is_set():
                        return
                    if lease.held() != leading:
                        break  # took the lead (list again: what the last leader did not see) or lost it
                    if not leading:
                        continue
                    for pod in self.kernel.caretaker.observe([status]):
                        self.pod_changed(pod)
                        self.wake()
                else:
                    return  # the driver was closed
        except Exception:
            if not self._stop.is_set():
                log.exception("pod watch ended")

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        """Tick while this replica leads (one reconciles, the others wait their turn)."""
        while not self._stop.is_set():
            try:
                if self.kernel.lease.held():
                    self.tick()
            except Exception:  # a bug must not stop reconciling every other resource
                log.exception("reconcile tick failed")
            self._wake.wait(QUICK_TICK if self._launched else TICK)
            self._wake.clear()

    def tick(self) -> None:
        with self._ticking:
            self._tick()
            self.ticks += 1

    @property
    def backlog(self) -> int:
        """Resources whose last reconcile failed, waiting to be tried again."""
        return len(self._failing)

    def exclusive(self) -> threading.RLock:
        """Hold this to change runtime state with no tick running meanwhile (`with r.exclusive():`)."""
        return self._ticking

    def may_launch(self) -> bool:
        """Is there time left in this tick to start another pod?"""
        return monotonic() < self._budget_until

    def _tick(self) -> None:
        kernel = self.kernel
        self._launched = False
        self._budget_until = monotonic() + LAUNCH_BUDGET
        if not self.watching:
            for pod in kernel.caretaker.observe(kernel.cloud.poll()):
                self.pod_changed(pod)
        if monotonic() - self._swept > SWEEP_EVERY:
            self._swept = monotonic()
            self.sweep_keys()
        if monotonic() - self._archived > ARCHIVE_EVERY:
            self._archived = monotonic()
            from ...clock import iso
            from datetime import timedelta
            kernel.caretaker.archive(iso(kernel.clock() - timedelta(seconds=ARCHIVE_AFTER)))
        failing: dict[str, tuple[str, int, float]] = {}
        for resource in kernel.poros.list():
            if resource["type"] not in self.controllers:
                continue
            key = resource_key(resource)
            why, tries, due = self._failing.get(key, ("", 0, 0.0))
            if monotonic() < due:
                failing[key] = (why, tries, due)
                continue
            try:
                self.controllers[resource["type"]].reconcile(resource)
            except SyscallError as e:
                failing[key] = self._failed(key, e, why, tries)
                if failing[key][0] != why and e.code not in UNAVAILABLE:
                    self.note(resource, "Warning", "ReconcileError", e.message)
        self._failing = failing

    def note(self, resource: dict[str, Any], type: str, reason: str, message: str,
             source: str = "reconciler") -> None:
        """An event of `resource` (see `Caretaker.record`): `type` Normal or Warning."""
        self.kernel.caretaker.record(resource_key(resource), type, reason, source, message)

    @staticmethod
    def _failed(key: str, e: SyscallError, why: str, tries: int) -> tuple[str, int, float]:
        """Log why a resource cannot be reconciled when that changes, not every tick. While the
        cloud is unavailable (its driver logs that, once) the resource waits, backing off."""
        if e.code in UNAVAILABLE:
            log.debug("%s: %s", key, e)
            return why, tries + 1, monotonic() + backoff(tries + 1, OUTAGE_BACKOFF)
        if e.message != why:
            log.warning("%s: %s", key, e)
        return e.message, 0, 0.0

    def pod_changed(self, pod: dict[str, Any]) -> None:
        """A pod reached an end: revoke the token its job was given."""
        if pod["phase"] in TERMINAL | {UNKNOWN}:
            user = pod["labels"].get(RUN_AS)
            if user:
                try:
                    self.kernel.heimdall.identities.delete_key(user, token_key(pod["name"]))
                except SyscallError:
                    pass

    def sweep_keys(self) -> None:
        """Revoke every pod key whose pod is not running or about to (stopped, replaced, deleted,
        lost while the kernel was down): no key outlives its pod for long."""
        live = {token_key(p["name"]) for p in self.kernel.caretaker.list() if p["phase"] in ("Pending", "Running")}
        if hasattr(self.kernel.cloud, "deploy"):  # a Deployment's pods share a key named after it
            live |= {token_key(r["name"]) for r in self.kernel.poros.list() if r["type"] in self.controllers}
        identities = self.kernel.heimdall.identities
        for user, name in identities.keys_older_than(POD_KEY, KEY_GRACE):
            if name not in live:
                try:
                    identities.delete_key(user, name)
                except SyscallError:
                    pass

    def teardown(self, resource: dict[str, Any]) -> None:
        """A workload was deleted: its pods (their logs and events too) and its runtime go with it."""
        if resource["type"] not in self.controllers:
            return
        self.controllers[resource["type"]].teardown(resource)
        for pod in self.kernel.caretaker.forget(resource_key(resource)):
            try:
                self.kernel.cloud.delete(pod)
            except SyscallError:
                pass
        self.kernel.runtime_state.forget(resource["status"]["uid"])
        self.wake()

    def pod_spec(self, resource: dict[str, Any], name: str, workload: dict[str, Any], extra: dict[str, str],
                 generation: int) -> PodSpec:
        """What pod `name` of a workload spec (`stack`, `stackSpec`, `envs`, `dataosSecrets`) runs."""
        stack = STACKS[workload["stack"]]
        spec = workload.get("stackSpec") or {}
        env = {k: str(v) for k, v in {**(workload.get("envs") or {}), **(spec.get("envs") or {})}.items()}
        run_as = self.kernel.poros.applied_by(resource["status"]["uid"], generation)
        refusal = self.kernel.unsandboxed(run_as)
        if refusal:
            raise SyscallError("EACCES", refusal)
        labels = {"app.kubernetes.io/managed-by": "dataos", "dataos.io/resource": resource["name"],
                  "dataos.io/type": resource["type"], "dataos.io/workspace": resource.get("workspace", ""),
                  OWNER_UID: resource["status"]["uid"], "dataos.io/generation": str(generation), RUN_AS: run_as,
                  **extra}
        secret_env, secret_files = self._secrets(resource, workload, run_as)
        if stack.needs_token:
            secret_env.update(self._job_credentials(run_as, name))
        return PodSpec(name, resource.get("workspace", ""), stack.command(spec), labels, env, spec.get("image"),
                       secret_env, secret_files)

    def launch(self, resource: dict[str, Any], name: str, workload: dict[str, Any], extra: dict[str, str],
               generation: int) -> None:
        """Start pod `name` (the Caretaker knows it at once: its logs and events can be asked for);
        a pod of that name that exists already (a restart between recording and starting it) is
        adopted — if it is this resource's."""
        self._launched = True
        try:
            started = self.kernel.cloud.run(self.pod_spec(resource, name, workload, extra, generation))
            for pod in self.kernel.caretaker.observe([started]):
                self.pod_changed(pod)
        except SyscallError as e:
            if e.code != "EEXIST":
                raise
            labels = self.kernel.cloud.status(name).labels
            if (labels.get("dataos.io/resource"), labels.get("dataos.io/workspace"), labels.get("dataos.io/type")) \
                    != (resource["name"], resource.get("workspace", ""), resource["type"]):
                raise

    def _secrets(self, resource: dict[str, Any], workload: dict[str, Any], run_as: str
                 ) -> tuple[dict[str, str], dict[str, str]]:
        """The values of the secrets a workload names, as env vars or `KEY=VALUE` files: each must
        still be one `run_as` may `use` (a policy may have changed since the apply)."""
        env: dict[str, str] = {}
        files: dict[str, str] = {}
        user = self.kernel.heimdall.identities.caller(run_as)
        for ref in workload.get("dataosSecrets") or []:
            type_name, ws = secret_path(ref, resource.get("workspace", ""))
            secret = self.kernel.poros.get(type_name, ref["name"], ws)
            path = object_path(type_name, ref["name"], ws or "")
            if not self.kernel.heimdall.decide(user, "use", path, frozenset(secret.get("tags", ()))).allow:
                raise SyscallError("EACCES", f"{run_as!r} may not use {path} any more")
            values = self.kernel.heimdall.open_secret(secret)
            if ref.get("keys"):
                values = {k: values[k] for k in ref["keys"] if k in values}
            if ref.get("consumptionType") == "propFile":
                files[ref["name"]] = "".join(f"{k}={v}\n" for k, v in values.items())
            else:
                env.update(values)
        return env, files

    def _job_credentials(self, user: str, pod: str) -> dict[str, str]:
        """A short-lived key for the user the pod runs as: the job's syscalls are theirs, no more."""
        identities = self.kernel.heimdall.identities
        try:
            identities.delete_key(user, token_key(pod))
        except SyscallError:
            pass
        key = identities.create_key(user, token_key(pod), "24h")
        # Always a URL: without one the job's client would fall back to its user's default context
        # (and start a daemon there). An in-process kernel has none; its state, locked, says so.
        return {"DATAOS_TOKEN": key["token"], "DATAOS_URL": self.kernel.url or f"embedded://{self.kernel.state_dir}"}


POD_KEY = "pod-"  # the prefix of the API keys pods get
UNAVAILABLE = frozenset({"EUNAVAIL", "ETIMEDOUT", "ENOSPC"})  # the cloud is down or slow, the disk full: wait and retry
OUTAGE_BACKOFF = 30.0  # seconds, at most, between tries while the cloud is unavailable
RUN_AS = "dataos.io/run-as"  # the label naming the user a pod acts as
OWNER_UID = "dataos.io/uid"  # the label naming the incarnation of the resource a pod belongs to


def token_key(pod: str) -> str:
    return POD_KEY + hashlib.sha256(pod.encode()).hexdigest()[:16]


def resource_key(resource: dict[str, Any]) -> str:
    return f"{resource.get('workspace', '')}/{resource['type']}/{resource['name']}"


def backoff(tries: int, cap: float = 300.0) -> float:
    """Seconds before try `tries` + 1 (a crashed replica's restart, a job's start): 1, 2, 4 … ≤ `cap`."""
    return min(cap, 2.0 ** max(0, tries - 1))


def monotonic() -> float:
    return time.monotonic()
