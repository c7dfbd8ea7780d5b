"""The kubernetes cloud driver against kmock (an in-memory Kubernetes API, see `kapi.py`) and,
when DATAOS_TEST_KUBECONFIG names a kubeconfig, against that real cluster too.

kmock has no controllers: where a test needs a Job to progress, it plays the Job controller (sets
the Job's status, creates its Pod) on kmock, and waits for the real one on a cluster.
"""
from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest

from kernel.cloud import PodSpec, PodStatus
from kernel.cloud.kubernetes import KubernetesDriver, check_names
from syscalls.errors import SyscallError

from kapi import KubeServer
from kubekit import MERGE, T0, T1, T2, Kube, kubeconfig  # noqa: F401
from clitools import wait_for

ROOT = Path(__file__).resolve().parents[2]
BUSYBOX = "busybox:1.36"
MANAGED = {"app.kubernetes.io/managed-by": "dataos"}


# --- backends -----------------------------------------------------------------------------------

@dataclass
class Backend:
    kind: str  # "kmock" or "cluster"
    server: KubeServer | None
    kubeconfig: str | None
    prefix: str

    @property
    def fake(self) -> bool:
        return self.server is not None

    def api_client(self):
        from kubernetes import client, config
        if self.server is not None:
            return client.ApiClient(client.Configuration(host=self.server.url))
        return config.new_client_from_config(config_file=self.kubeconfig)

    def driver(self) -> KubernetesDriver:
        if self.server is not None:
            return KubernetesDriver(api_client=self.api_client(), context="kmock", namespace_prefix=self.prefix)
        return KubernetesDriver(kubeconfig=self.kubeconfig, namespace_prefix=self.prefix)


@pytest.fixture(params=["kmock", pytest.param("cluster", marks=pytest.mark.slow)])
def backend(request):
    if request.param == "kmock":
        server = KubeServer().start()
        try:
            yield Backend("kmock", server, None, "")
        finally:
            server.close()
        return
    path = os.environ.get("DATAOS_TEST_KUBECONFIG")
    if not path:
        pytest.skip("DATAOS_TEST_KUBECONFIG names no kubeconfig: no real cluster to test against")
    b = Backend("cluster", None, path, f"dataos-test-{uuid.uuid4().hex[:6]}-")
    yield b
    from kubernetes import client
    with b.api_client() as api:
        core = client.CoreV1Api(api)
        for ns in core.list_namespace().items:
            if ns.metadata.name.startswith(b.prefix):
                core.delete_namespace(ns.metadata.name, propagation_policy="Background")


@pytest.fixture
def fake(backend) -> KubeServer:
    """The kmock server, for steps only a fake cluster allows (playing the controller, dropping
    the API server): skips the test on a real cluster."""
    if not backend.fake:
        pytest.skip("plays the Job controller or stops the API server: kmock only")
    return backend.server


@pytest.fixture
def driver(backend):
    d = backend.driver()
    yield d
    d.close()


@pytest.fixture
def kube(backend):
    api = backend.api_client()
    yield Kube(api)
    api.close()


def spec(name: str, workspace: str = "ws-a", command: list[str] | None = None, **kwargs: Any) -> PodSpec:
    labels = {**MANAGED, "dataos.io/resource": "etl", "dataos.io/type": "workflow",
              "dataos.io/workspace": workspace, "dataos.io/generation": "1", "dataos.io/job": "extract",
              "dataos.io/run": "3", **kwargs.pop("labels", {})}
    return PodSpec(name, workspace, command or ["sh", "-c", "echo hello"], labels, **kwargs)


def assert_sandboxed(template: dict[str, Any], secret: str | None = None) -> None:
    """The local sandbox's guarantees, from a pod template: no service-account token, non-root,
    read-only root filesystem (a writable emptyDir at /tmp), no capabilities, no privilege
    escalation, RuntimeDefault seccomp, no host paths or namespaces; volumes: /tmp and `secret`."""
    pod = template["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert not any(pod.get(k) for k in ("hostNetwork", "hostPID", "hostIPC", "hostUsers"))
    ctx = pod["securityContext"]
    assert ctx["runAsNonRoot"] is True and ctx["seccompProfile"] == {"type": "RuntimeDefault"}
    assert all(isinstance(ctx[k], int) and ctx[k] > 0 for k in ("runAsUser", "runAsGroup", "fsGroup"))
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert not [v for v in volumes.values() if "hostPath" in v]
    assert {next(k for k in v if k != "name") for v in volumes.values()} <= {"emptyDir", "secret"}
    assert [v["secret"]["secretName"] for v in volumes.values() if "secret" in v] == ([secret] if secret else [])
    assert not pod.get("initContainers") and not pod.get("ephemeralContainers")
    for container in pod["containers"]:
        assert container["securityContext"] == {"allowPrivilegeEscalation": False, "privileged": False,
                                                "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}
        mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
        assert mounts["/tmp"]["emptyDir"] == {}
        assert set(mounts) == ({"/tmp", "/var/run/dataos/secrets"} if secret else {"/tmp"})


class Watcher:
    """driver.watch() in a thread: its statuses in a queue."""

    def __init__(self, driver: KubernetesDriver, resource_version: str | None = None) -> None:
        self.driver, self.rv = driver, resource_version
        self.queue: queue.Queue = queue.Queue()
        self.seen: list[PodStatus] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            for status in self.driver.watch(self.rv):
                self.queue.put(status)
        except Exception as e:  # surfaced by next()
            self.queue.put(e)

    def next(self, match: Callable[[PodStatus], bool], timeout: float = 10.0) -> PodStatus:
        deadline = time.monotonic() + timeout
        while True:
            try:
                item = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"watch yielded nothing matching; saw {[(s.name, s.phase) for s in self.seen]}")
            if isinstance(item, Exception):
                raise item
            self.seen.append(item)
            if match(item):
                return item

    def drain(self, wait: float = 0.3) -> list[PodStatus]:
        time.sleep(wait)
        out = []
        while not self.queue.empty():
            item = self.queue.get()
            if isinstance(item, Exception):
                raise item
            out.append(item)
        self.seen.extend(out)
        return out

    def stop(self) -> None:
        self.driver.close()
        self.thread.join(10)
        assert not self.thread.is_alive()


def named(name: str) -> Callable[[PodStatus], bool]:
    return lambda s: s.name == name


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- names --------------------------------------------------------------------------------------

def test_check_names_follows_kubernetes_rules():
    check_names({"app.kubernetes.io/managed-by": "dataos", "dataos.io/workspace": "", "a": "A.b_c-9",
                 "x" * 63: "y" * 63}, name="etl-extract-1", namespace="dataos-public")
    for labels, culprit in [({"dataos.io/resource": "z" * 64}, "dataos.io/resource"),
                            ({"dataos.io/owner": "alice@example.com"}, "dataos.io/owner"),
                            ({"dataos.io/job": "-lead"}, "dataos.io/job"),
                            ({"Bad_Prefix/x": "v"}, "Bad_Prefix/x"),
                            ({"/x": "v"}, "/x"),
                            ({"x" * 64: "v"}, "x" * 64),
                            ({"a/b/c": "v"}, "a/b/c")]:
        with pytest.raises(SyscallError) as e:
            check_names(labels)
        assert e.value.code == "EINVAL" and repr(culprit) in e.value.message, labels
    for name in ("Upper", "a" * 64, "dots.not.ok", "-x", ""):
        with pytest.raises(SyscallError, match="name"):
            check_names({}, name=name)
    with pytest.raises(SyscallError, match="namespace"):
        check_names({}, namespace="Public")


def test_the_module_does_not_import_kubernetes():
    out = subprocess.run([sys.executable, "-c", "import sys, kernel.cloud.kubernetes as k; "
                          "print('kubernetes' in sys.modules, hasattr(k, 'KubernetesDriver'))"],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


# --- running pods -------------------------------------------------------------------------------

def test_a_pod_is_a_job_in_its_workspace_namespace(backend, driver, kube):
    s = spec("etl-extract-1", env={"MODE": "full"}, image=BUSYBOX, secret_env={"TOKEN": "s3cret-token"},
             secret_files={"db": "user=u\npassword=s3cret-file\n"})
    status = driver.run(s)
    ns = backend.prefix + "ws-a"
    assert (status.name, status.workspace, status.phase) == ("etl-extract-1", "ws-a", "Pending")
    assert status.labels == s.labels

    namespace = kube.get(kube.core.read_namespace, ns)
    assert namespace["metadata"]["labels"]["dataos.io/workspace"] == "ws-a"
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    job = kube.job(ns, "etl-extract-1")
    assert job["metadata"]["labels"] == {**s.labels, "dataos.io/pod": "etl-extract-1"}
    assert job["spec"]["backoffLimit"] == 0
    template = job["spec"]["template"]
    assert {**s.labels, "dataos.io/pod": "etl-extract-1"}.items() <= template["metadata"]["labels"].items()
    assert template["spec"]["restartPolicy"] == "Never"
    [container] = template["spec"]["containers"]
    assert (container["name"], container["image"], container["command"]) == ("main", BUSYBOX, s.command)
    env = {e["name"]: e for e in container["env"]}
    assert env["MODE"] == {"name": "MODE", "value": "full"}
    assert env["TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "etl-extract-1-secrets", "key": "env.TOKEN"}
    assert env["DATAOS_SECRETS_DIR"]["value"] == "/var/run/dataos/secrets"
    assert container["volumeMounts"][0]["mountPath"] == "/var/run/dataos/secrets"
    assert template["spec"]["volumes"][0]["secret"]["secretName"] == "etl-extract-1-secrets"
    assert "s3cret" not in json.dumps(job)  # secrets never travel in the Job
    assert_sandboxed(template, "etl-extract-1-secrets")

    secret = kube.get(kube.core.read_namespaced_secret, "etl-extract-1-secrets", ns)
    import base64
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data == {"env.TOKEN": "s3cret-token", "file.db": "user=u\npassword=s3cret-file\n"}
    [owner] = secret["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("Job", "etl-extract-1", job["metadata"]["uid"])


def test_the_default_workspace_is_public_and_the_default_image_python(backend, driver, kube):
    driver.run(PodSpec("plain", "", ["true"], dict(MANAGED)))
    job = kube.job(backend.prefix + "public", "plain")
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == "python:3.11-slim"
    assert driver.status("plain").workspace == ""
    assert_sandboxed(job["spec"]["template"])


def test_every_pod_runs_as_in_the_sandbox(fake, driver, kube):
    """What the API server receives: each Job and Deployment (created or updated) has a locked-down pod."""
    driver.run(spec("locked", env={"MODE": "x"}, secret_env={"T": "t"}))
    driver.run(spec("locked-files", secret_files={"db": "x"}))
    driver.deploy("locked-svc", spec("locked-svc", secret_files={"cert": "c"}), 1, 8080)
    driver.deploy("locked-svc", spec("locked-svc"), 2, None)  # updated by a merge patch
    sent = [r.data for r in fake.requests if r.method in ("POST", "PATCH") and isinstance(r.data, dict)
            and r.resource.plural in ("jobs", "deployments")]
    templates = [d["spec"]["template"] for d in sent if "template" in d.get("spec", {})]
    assert len(templates) == 4
    for template, secret in zip(templates, (None, "locked-files-secrets", "locked-svc-secrets", None)):
        assert_sandboxed(template, secret)
    assert_sandboxed(kube.job("ws-a", "locked")["spec"]["template"])
    assert_sandboxed(kube.get(kube.apps.read_namespaced_deployment, "locked-svc", "ws-a")["spec"]["template"])
    namespaces = [r.data for r in fake.requests if r.method == "POST" and r.resource.plural == "namespaces"]
    assert namespaces and all(n["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
                              for n in namespaces)


def test_a_real_pod_is_non_root_with_a_read_only_root(backend, driver):
    if backend.fake:
        pytest.skip("needs a real kubelet")
    driver.run(spec("real-sandbox", image=BUSYBOX, secret_files={"db": "s3cret\n"}, command=[
        "sh", "-c", "id -u; touch /tmp/x && echo tmp-ok; touch /x 2>/dev/null || echo root-ro; "
        "cat $DATAOS_SECRETS_DIR/db; test -e /var/run/secrets/kubernetes.io/serviceaccount || echo no-token"]))
    st = wait_for(lambda: (s := driver.status("real-sandbox")).phase in ("Succeeded", "Failed") and s, 180, 1)
    assert (st.phase, st.exit_code) == ("Succeeded", 0)
    assert list(driver.logs("real-sandbox")) == ["65532\n", "tmp-ok\n", "root-ro\n", "s3cret\n", "no-token\n"]


def test_a_second_pod_of_the_same_name_is_eexist(backend, driver, kube):
    driver.run(spec("twice", secret_env={"K": "first"}))
    for again in (spec("twice"), spec("twice", secret_env={"K": "second"})):
        with pytest.raises(SyscallError) as e:
            driver.run(again)
        assert e.value.code == "EEXIST" and "twice" in e.value.message
    secret = kube.get(kube.core.read_namespaced_secret, "twice-secrets", backend.prefix + "ws-a")
    assert secret["data"]["env.K"] == "Zmlyc3Q="  # the first pod's secret is untouched
    with pytest.raises(SyscallError) as e:
        driver.run(spec("twice", workspace="ws-b"))  # pod names are one namespace across workspaces
    assert e.value.code == "EEXIST"


def test_bad_labels_and_names_are_einval_before_anything_is_created(backend, driver, kube):
    for bad, culprit in [(spec("p", labels={"dataos.io/resource": "r" * 64}), "dataos.io/resource"),
                         (spec("p", labels={"dataos.io/owner": "a b"}), "dataos.io/owner"),
                         (spec("Not_A_Name"), "Not_A_Name"),
                         (spec("p", workspace="Bad.WS"), "Bad.WS")]:
        with pytest.raises(SyscallError) as e:
            driver.run(bad)
        assert e.value.code == "EINVAL" and culprit in e.value.message
    jobs = kube.get(kube.batch.list_job_for_all_namespaces)["items"]
    assert not [j for j in jobs if j["metadata"]["name"] in ("p", "Not_A_Name")]


def test_api_errors_map_to_errno_codes(fake, driver):
    fake.api["post /apis/batch/v1/namespaces/ws-a/jobs"] << 422 << {
        "kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 422, "reason": "Invalid",
        "message": 'Job.batch "bad" is invalid: spec.template.spec.containers[0].image: Required value'}
    with pytest.raises(SyscallError) as e:
        driver.run(spec("bad"))
    assert e.value.code == "EINVAL" and "Required value" in e.value.message
    fake.api["get /apis/batch/v1/jobs"] << 503 << {"kind": "Status", "code": 503, "message": "etcd is sad"}
    with pytest.raises(SyscallError) as e:
        driver.status("bad")
    assert e.value.code == "EUNAVAIL" and "etcd is sad" in e.value.message


# --- statuses -----------------------------------------------------------------------------------



def test_status_follows_the_job_and_its_pod(fake, backend, driver, kube):
    ns = "ws-a"
    driver.run(spec("s-ok"))
    driver.run(spec("s-fail"))
    assert driver.status("s-ok").phase == "Pending"  # no pod yet

    kube.set_pod(ns, "s-ok", "Pending", {"waiting": {"reason": "ContainerCreating"}})
    st = driver.status("s-ok")
    assert (st.phase, st.reason, st.started) == ("Pending", "ContainerCreating", None)

    kube.set_job_status(ns, "s-ok", active=1, ready=1, startTime=T0)
    kube.set_pod(ns, "s-ok", "Running", {"running": {"startedAt": T1}})
    st = driver.status("s-ok")
    assert (st.phase, st.started, st.node, st.finished) == ("Running", "2030-01-02T03:04:06.000Z", "node-1", None)

    kube.set_pod(ns, "s-ok", "Succeeded", {"running": None, "terminated": {
        "exitCode": 0, "reason": "Completed", "startedAt": T1, "finishedAt": T2}})
    kube.set_job_status(ns, "s-ok", active=None, ready=0, succeeded=1, completionTime=T2, conditions=[
        {"type": "Complete", "status": "True", "lastTransitionTime": T2}])
    st = driver.status("s-ok")
    assert (st.phase, st.exit_code, st.reason, st.finished) == ("Succeeded", 0, "Completed", "2030-01-02T03:04:09.000Z")

    kube.set_pod(ns, "s-fail", "Failed", {"terminated": {"exitCode": 3, "reason": "Error", "startedAt": T1,
                                                          "finishedAt": T2}})
    kube.set_job_status(ns, "s-fail", failed=1, startTime=T0, conditions=[
        {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "lastTransitionTime": T2}])
    st = driver.status("s-fail")
    assert (st.phase, st.exit_code, st.reason, st.started, st.finished) == (
        "Failed", 3, "Error", "2030-01-02T03:04:06.000Z", "2030-01-02T03:04:09.000Z")

    driver.run(spec("s-oom"))
    kube.set_pod(ns, "s-oom", "Failed", {"terminated": {"exitCode": 137, "reason": "OOMKilled", "finishedAt": T2}})
    assert (driver.status("s-oom").phase, driver.status("s-oom").reason) == ("Failed", "OOMKilled")

    driver.run(spec("s-lost"))
    kube.set_pod(ns, "s-lost", "Unknown", reason="NodeLost")
    assert driver.status("s-lost").phase == "Unknown"

    with pytest.raises(SyscallError) as e:
        driver.status("nobody")
    assert e.value.code == "ENOENT"

    other = backend.driver()  # knows nothing: finds the Jobs by label across namespaces
    try:
        assert other.status("s-fail").exit_code == 3 and other.status("s-ok").phase == "Succeeded"
    finally:
        other.close()


def test_a_real_job_runs_to_its_exit_code(backend, driver):
    if backend.fake:
        pytest.skip("needs the real Job controller")
    driver.run(spec("real-ok", image=BUSYBOX, command=["sh", "-c", "echo one; echo two"]))
    driver.run(spec("real-fail", image=BUSYBOX, command=["sh", "-c", "exit 3"]))
    ok = wait_for(lambda: (s := driver.status("real-ok")).phase in ("Succeeded", "Failed") and s, 180, 1)
    fail = wait_for(lambda: (s := driver.status("real-fail")).phase in ("Succeeded", "Failed") and s, 180, 1)
    assert (ok.phase, ok.exit_code) == ("Succeeded", 0)
    assert (fail.phase, fail.exit_code) == ("Failed", 3)
    assert list(driver.logs("real-ok")) == ["one\n", "two\n"]


def test_poll_lists_only_the_managed_jobs(backend, driver, kube):
    driver.run(spec("managed-1"))
    driver.run(spec("managed-2", workspace="ws-b"))
    ns = backend.prefix + "ws-a"
    kube.batch.create_namespaced_job(ns, {"metadata": {"name": "foreign", "labels": {"team": "x"}}, "spec": {
        "suspend": True, "template": {"spec": {"restartPolicy": "Never", "containers": [
            {"name": "c", "image": BUSYBOX, "command": ["true"]}]}}}}, _preload_content=False)
    names = {s.name: s for s in driver.poll()}
    assert {"managed-1", "managed-2"} <= names.keys() and "foreign" not in names
    assert names["managed-2"].workspace == "ws-b"

    other = KubernetesDriver(api_client=backend.api_client(), namespace_prefix=backend.prefix + "other-")
    try:  # another kernel on the same cluster, with its own namespace prefix
        other.run(spec("theirs"))
        assert [s.name for s in other.poll()] == ["theirs"]
        with pytest.raises(SyscallError) as e:
            other.status("managed-1")
        assert e.value.code == "ENOENT"
    finally:
        other.close()


# --- watching -----------------------------------------------------------------------------------

def test_watch_sees_new_jobs_and_resumes_from_a_resource_version(backend, driver):
    w = Watcher(driver)
    try:
        driver.run(spec("watch-1"))
        assert w.next(named("watch-1")).phase in ("Pending", "Running")
        rv = driver.resource_version
        assert rv
        driver.run(spec("watch-2"))
        w.next(named("watch-2"))
    finally:
        w.stop()
    later = backend.driver()  # another driver (a restarted kernel) resumes where the first left
    w2 = Watcher(later, rv)
    try:
        if backend.fake:  # nothing replayed from before rv (a real watch-1 may have changed since)
            assert w2.next(lambda s: s.name.startswith("watch-")).name == "watch-2"
        else:
            w2.next(named("watch-2"), timeout=60)
    finally:
        w2.stop()


def test_watch_resumes_after_the_connection_drops_without_replaying(fake, driver):
    w = Watcher(driver)
    try:
        driver.run(spec("drop-1"))
        w.next(named("drop-1"))
        rv = wait_for(lambda: driver.resource_version)
        fake.stop_listening()  # every stream ends
        fake.listen()
        driver.run(spec("drop-2"))
        w.next(named("drop-2"))
        assert not [s for s in w.drain() + w.seen[1:] if s.name == "drop-1"]
        watches = [r for r in fake.requests if r.params.get("watch") == "true"]
        assert len(watches) >= 2 and watches[-1].params["resourceVersion"] == rv
    finally:
        w.stop()


def test_watch_recovers_after_the_api_was_unreachable(fake, driver):
    waits: list[float] = []
    real_wait = driver._closed.wait
    driver._closed.wait = lambda timeout=None: (waits.append(timeout), real_wait(timeout))[1]
    w = Watcher(driver)
    try:
        driver.run(spec("gap-1"))
        w.next(named("gap-1"))
        fake.stop_listening()
        time.sleep(1.2)  # connection refused, again and again: the watch backs off
        fake.listen()
        driver.run(spec("gap-2"))
        assert w.next(named("gap-2"), timeout=15).phase == "Pending"
        assert waits[:3] == [0.5, 1.0, 2.0][:len(waits[:3])] and len(waits) >= 2
    finally:
        w.stop()


def test_watch_backoff_doubles_up_to_30_seconds(tmp_path):
    d = KubernetesDriver(kubeconfig=kubeconfig(tmp_path, f"http://127.0.0.1:{closed_port()}", "nowhere"))
    waits: list[float] = []
    d._closed.wait = lambda timeout=None: (waits.append(timeout), len(waits) >= 9)[1]  # no real sleeping
    assert list(d.watch("5")) == []
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


def test_watch_lists_again_after_410_gone(fake, driver, kube):
    w = Watcher(driver)
    try:
        driver.run(spec("gone-1"))
        w.next(named("gone-1"))
        kube.core.create_namespaced_config_map("ws-a", {"metadata": {"name": "bump"}}, _preload_content=False)
        fake.api.compact()  # gone-1's version is now too old to watch from
        fake.stop_listening()
        fake.listen()
        w.next(named("gone-1"))  # a fresh list: the current state again
        driver.run(spec("gone-2"))
        w.next(named("gone-2"))
        assert any(r.params.get("watch") != "true" and r.url.path == "/apis/batch/v1/jobs"
                   for r in fake.requests[-10:])
    finally:
        w.stop()


# --- logs ---------------------------------------------------------------------------------------

def test_logs_of_the_jobs_pod(fake, driver, kube):
    driver.run(spec("talk"))
    assert list(driver.logs("talk")) == []  # no pod yet
    pod = kube.set_pod("ws-a", "talk", "Running", {"running": {"startedAt": T1}})
    fake.api.pod_logs["ws-a", pod] = "a\nb\nc\n"
    assert list(driver.logs("talk")) == ["a\n", "b\n", "c\n"]
    assert list(driver.logs("talk", tail=1)) == ["c\n"]
    assert list(driver.logs("talk", tail=0)) == []

    got: list[str] = []
    reader = threading.Thread(target=lambda: got.extend(driver.logs("talk", follow=True)), daemon=True)
    reader.start()
    wait_for(lambda: len(got) == 3)
    fake.api.pod_logs["ws-a", pod] += "d\ne"
    wait_for(lambda: len(got) == 4)
    fake.api.logs_ended.add(("ws-a", pod))
    reader.join(5)
    assert not reader.is_alive() and got == ["a\n", "b\n", "c\n", "d\n", "e"]
    with pytest.raises(SyscallError) as e:
        list(driver.logs("nobody"))
    assert e.value.code == "ENOENT"


# --- killing and deleting -----------------------------------------------------------------------

def test_kill_deletes_the_job_in_the_foreground_and_remembers_it(backend, driver, kube):
    driver.run(spec("victim", secret_env={"K": "v"}))
    driver.run(spec("done"))
    ns = backend.prefix + "ws-a"
    if backend.fake:
        kube.set_pod("ws-a", "victim", "Running", {"running": {"startedAt": T1}})
        kube.set_job_status("ws-a", "done", succeeded=1, completionTime=T2)
    driver.kill("victim", grace=1)
    st = driver.status("victim")
    assert (st.phase, st.reason, st.exit_code) == ("Stopped", "Stopped", 137) and st.finished
    assert "victim" in {s.name: s for s in driver.poll()} and driver.poll()  # the caretaker still sees it
    wait_for(lambda: not kube.exists(kube.batch.read_namespaced_job, "victim", ns), 60)
    if backend.fake:
        [delete] = [r for r in backend.server.requests if r.method == "DELETE" and r.name == "victim"]
        assert delete.params["propagationPolicy"] == "Foreground"
        assert delete.data["propagationPolicy"] == "Foreground"
        assert driver.status("done").phase == "Succeeded"
        driver.kill("done")  # a finished pod: nothing to kill
        assert kube.exists(kube.batch.read_namespaced_job, "done", ns)
    driver.kill("victim")  # again: nothing happens

    driver.delete("victim")
    with pytest.raises(SyscallError) as e:
        driver.status("victim")
    assert e.value.code == "ENOENT"
    assert "victim" not in {s.name for s in driver.poll()}
    driver.delete("done")
    wait_for(lambda: not kube.exists(kube.batch.read_namespaced_job, "done", ns), 60)
    assert not kube.exists(kube.core.read_namespaced_secret, "victim-secrets", ns)
    for gone in ("done", "never-was"):
        with pytest.raises(SyscallError) as e:
            driver.delete(gone)
        assert e.value.code == "ENOENT"


def test_kill_shows_in_the_watch(backend, driver):
    w = Watcher(driver)
    try:
        driver.run(spec("w-victim"))
        w.next(named("w-victim"))
        driver.kill("w-victim")
        st = w.next(lambda s: s.name == "w-victim" and s.phase == "Stopped", timeout=60)
        assert st.reason == "Stopped"
    finally:
        w.stop()


# --- services -----------------------------------------------------------------------------------

def test_deploy_creates_then_updates_a_deployment_and_its_service(backend, driver, kube):
    ns = backend.prefix + "ws-a"
    s = PodSpec("api", "ws-a", ["python", "-m", "http.server", "8080"], {**MANAGED, "tier": "web"},
                {"MODE": "prod"}, BUSYBOX, {"API_KEY": "k3y"})
    driver.deploy("api", s, 2, 8080)
    dep = kube.get(kube.apps.read_namespaced_deployment, "api", ns)
    assert dep["metadata"]["labels"] == {**s.labels, "dataos.io/deployment": "api"}
    assert dep["spec"]["replicas"] == 2
    assert dep["spec"]["selector"]["matchLabels"] == {"dataos.io/deployment": "api"}
    assert {**s.labels, "dataos.io/deployment": "api"}.items() <= dep["spec"]["template"]["metadata"]["labels"].items()
    [container] = dep["spec"]["template"]["spec"]["containers"]
    assert (container["image"], container["command"], container["ports"][0]["containerPort"]) == (
        BUSYBOX, s.command, 8080)
    assert "k3y" not in json.dumps(dep)
    svc = kube.get(kube.core.read_namespaced_service, "api", ns)
    assert svc["metadata"]["labels"]["dataos.io/deployment"] == "api"
    assert svc["spec"]["selector"] == {"dataos.io/deployment": "api"}
    assert (svc["spec"]["ports"][0]["port"], svc["spec"]["ports"][0]["targetPort"]) == (8080, 8080)
    secret = kube.get(kube.core.read_namespaced_secret, "api-secrets", ns)
    assert secret["metadata"]["ownerReferences"][0]["uid"] == dep["metadata"]["uid"]

    s2 = PodSpec("api", "ws-a", ["python", "-m", "http.server", "9090"], {**MANAGED}, {}, BUSYBOX)
    driver.deploy("api", s2, 3, None)
    dep = kube.get(kube.apps.read_namespaced_deployment, "api", ns)
    assert dep["spec"]["replicas"] == 3 and "tier" not in dep["metadata"]["labels"]
    assert "tier" not in dep["spec"]["template"]["metadata"]["labels"]
    assert dep["spec"]["template"]["spec"]["containers"][0]["command"][-1] == "9090"
    assert [v["name"] for v in dep["spec"]["template"]["spec"]["volumes"]] == ["dataos-tmp"] and "env" not in \
        dep["spec"]["template"]["spec"]["containers"][0]
    assert_sandboxed(dep["spec"]["template"])
    wait_for(lambda: not kube.exists(kube.core.read_namespaced_service, "api", ns), 60)
    assert not kube.exists(kube.core.read_namespaced_secret, "api-secrets", ns)

    if backend.fake:
        kube.apps.patch_namespaced_deployment_status("api", ns, {"status": {
            "readyReplicas": 2, "availableReplicas": 1, "updatedReplicas": 3}}, _content_type=MERGE,
            _preload_content=False)
        assert driver.deployment_status("api", "ws-a") == {"name": "api", "workspace": "ws-a", "namespace": ns,
                                                           "replicas": 3, "ready": 2, "available": 1,
                                                           "updated": 3}
    else:
        assert driver.deployment_status("api", "ws-a")["replicas"] == 3

    driver.deploy("api", s, 1, 8080)  # the service comes back
    driver.undeploy("api", "ws-a")
    wait_for(lambda: not kube.exists(kube.apps.read_namespaced_deployment, "api", ns), 60)
    wait_for(lambda: not kube.exists(kube.core.read_namespaced_service, "api", ns), 60)
    if backend.fake:
        deletes = [r for r in backend.server.requests if r.method == "DELETE" and r.name == "api"
                   and r.resource.plural in ("deployments", "services")]
        assert {r.resource.plural for r in deletes} == {"deployments", "services"}
        assert all(r.params["propagationPolicy"] == "Foreground" for r in deletes[-2:])
    for call in (lambda: driver.undeploy("api", "ws-a"), lambda: driver.deployment_status("api", "ws-a")):
        with pytest.raises(SyscallError) as e:
            call()
        assert e.value.code == "ENOENT"


# --- configuration and reachability -------------------------------------------------------------

def test_the_kubeconfig_context_selects_the_cluster(fake, tmp_path):
    path = kubeconfig(tmp_path, fake.url, "lab")
    d = KubernetesDriver(kubeconfig=path, context="lab")
    try:
        assert d.context == "lab"
        d.run(spec("via-kubeconfig"))
        assert d.status("via-kubeconfig").phase == "Pending"
    finally:
        d.close()
    assert KubernetesDriver(kubeconfig=path).context == "lab"  # the current context
    with pytest.raises(SyscallError) as e:
        KubernetesDriver(kubeconfig=path, context="elsewhere")
    assert e.value.code == "EINVAL" and "elsewhere" in e.value.message


def test_an_unreachable_api_is_eunavail_naming_the_context(tmp_path):
    d = KubernetesDriver(kubeconfig=kubeconfig(tmp_path, f"http://127.0.0.1:{closed_port()}", "dead-ctx"))
    for call in (lambda: d.run(spec("x")), lambda: d.status("x"), d.poll, lambda: list(d.logs("x")),
                 lambda: d.deploy("x", spec("x"), 1, None), lambda: d.kill("x")):
        with pytest.raises(SyscallError) as e:
            call()
        assert e.value.code == "EUNAVAIL"
        assert e.value.message.startswith("cannot reach the Kubernetes API of context 'dead-ctx': ")


# --- the kernel on Kubernetes: the same manifests, as Jobs and Deployments -------------------------

def test_the_same_manifests_run_on_kubernetes(tmp_path):
    from kernel.kernel import Kernel
    server = KubeServer().start()
    kernel = Kernel(tmp_path / "state", operator="ops", cloud={
        "driver": "kubernetes", "kubeconfig": kubeconfig(tmp_path, server.url, "kmock"), "context": "kmock"})
    api = KubernetesDriver(kubeconfig=kubeconfig(tmp_path, server.url, "kmock"), context="kmock")
    kube = Kube(api.api_client)
    token = kernel.session_token()
    try:
        assert kernel.call(token, "kernel.info")["cloud"] == "kubernetes"
        step = {"stack": "container", "stackSpec": {"image": "busybox", "command": ["sh", "-c", "echo hi"]}}
        kernel.call(token, "resource.apply", {"manifests": [
            {"name": "nightly", "version": "v1", "type": "workflow", "workflow": {"dag": [
                {"name": "extract", "spec": step}, {"name": "load", "dependencies": ["extract"], "spec": step}]}},
            {"name": "orders-api", "version": "v1", "type": "service", "service": {
                "replicas": 2, "servicePort": 8080, **step}}]})

        def job_named(prefix):
            jobs = kube.get(kube.batch.list_namespaced_job, "public")["items"]
            return next((j for j in jobs if j["metadata"]["name"].startswith(prefix)), None)

        first = wait_for(lambda: job_named("nightly-extract-"))
        labels = first["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "dataos" and labels["dataos.io/workspace"] == "public"
        assert labels["dataos.io/resource"] == "nightly" and labels["dataos.io/job"] == "extract"
        assert first["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox"
        assert_sandboxed(first["spec"]["template"])
        assert job_named("nightly-load-") is None  # waits for its dependency
        for prefix in ("nightly-extract-", "nightly-load-"):  # play the Job controller
            name = wait_for(lambda: job_named(prefix))["metadata"]["name"]
            kube.set_pod("public", name, "Succeeded", {"terminated": {"exitCode": 0, "reason": "Completed",
                                                                      "startedAt": T1, "finishedAt": T2}})
            kube.set_job_status("public", name, succeeded=1, completionTime=T2, conditions=[
                {"type": "Complete", "status": "True", "lastTransitionTime": T2}])
        rt = wait_for(lambda: (r := kernel.call(token, "runtime.get", {"type": "workflow", "name": "nightly"}))
                      ["runtime"] == "succeeded" and r)
        assert rt["progress"] == "2/2"

        deployment = wait_for(lambda: kube.exists(kube.apps.read_namespaced_deployment, "orders-api", "public")
                              and kube.get(kube.apps.read_namespaced_deployment, "orders-api", "public"))
        assert deployment["spec"]["replicas"] == 2
        assert_sandboxed(deployment["spec"]["template"])
        assert deployment["metadata"]["labels"]["dataos.io/type"] == "service"
        assert kube.get(kube.core.read_namespaced_service, "orders-api", "public")["spec"]["ports"][0]["port"] == 8080
        kernel.call(token, "resource.delete", {"type": "service", "name": "orders-api"})
        wait_for(lambda: not kube.exists(kube.apps.read_namespaced_deployment, "orders-api", "public"))
    finally:
        kernel.close()
        api.close()
        server.close()


def test_a_workspace_kubernetes_could_not_hold_is_refused_at_apply(tmp_path):
    from kernel.kernel import Kernel
    server = KubeServer().start()
    kernel = Kernel(tmp_path / "state", operator="ops", workloads=False, cloud={
        "driver": "kubernetes", "kubeconfig": kubeconfig(tmp_path, server.url, "kmock"), "context": "kmock",
        "namespacePrefix": "a-very-long-installation-prefix-for-this-cluster-"})
    try:
        with pytest.raises(SyscallError) as e:
            kernel.call(kernel.session_token(), "resource.apply", {"manifests": [
                {"name": "w", "version": "v1", "type": "workflow", "workspace": "analytics-and-reporting",
                 "workflow": {"dag": [{"name": "a", "spec": {"stack": "container",
                                                             "stackSpec": {"command": ["true"]}}}]}}]})
        assert e.value.code == "EINVAL" and e.value.details["field"] == "workspace"
    finally:
        kernel.close()
        server.close()


@pytest.mark.slow
def test_the_kubernetes_test_api_stopped_at_job_start(tmp_path, caplog):
    """An outage when a job should start: the run waits (retrying 1 s, 2 s …), logs are EUNAVAIL,
    the outage is logged once; when the API is back the job (and a service's Deployment) are
    created and the run completes."""
    from kernel.kernel import Kernel
    server = KubeServer().start()
    config = kubeconfig(tmp_path, server.url, "kmock")
    kernel = Kernel(tmp_path / "state", operator="ops", cloud={"driver": "kubernetes", "kubeconfig": config,
                                                               "context": "kmock"})
    kube = Kube(KubernetesDriver(kubeconfig=config, context="kmock").api_client)
    token = kernel.session_token()
    tries: list[float] = []  # when the reconciler tried to start the job, or to see whether it had

    def counted(real):
        def call(arg):
            if getattr(arg, "name", arg).startswith("nightly-"):
                tries.append(time.monotonic())
            return real(arg)
        return call
    for method in ("run", "status"):
        setattr(kernel.cloud, method, counted(getattr(kernel.cloud, method)))
    runtime = lambda: kernel.call(token, "runtime.get", {"type": "workflow", "name": "nightly"})  # noqa: E731
    caplog.set_level("INFO", logger="dataos")
    wait_for(lambda: kernel.cloud.resource_version is not None, 10)  # its first list answered: none in flight
    try:
        server.stop_listening()
        step = {"stack": "container", "stackSpec": {"image": "busybox", "command": ["true"]}}
        kernel.call(token, "resource.apply", {"manifests": [
            {"name": "nightly", "version": "v1", "type": "workflow", "workflow": {"dag": [
                {"name": "extract", "spec": step}]}},
            {"name": "orders-api", "version": "v1", "type": "service", "service": {"replicas": 1, **step}}]})
        wait_for(lambda: len(tries) >= 3, 10)  # at once, after 1 s, after 2 s more
        rt = runtime()
        assert (rt["runtime"], rt["run"]["state"], rt["run"]["jobs"][0]["state"]) == ("pending", "running", "pending")
        assert "waits for the cloud" in rt["message"]
        first, second = tries[1] - tries[0], tries[2] - tries[1]
        assert 1 <= first < second and 2 <= second
        with pytest.raises(SyscallError) as e:
            list(kernel.call(token, "pod.logs", {"name": rt["run"]["jobs"][0]["pod"]}))
        assert e.value.code == "EUNAVAIL"
        outage = [r for r in caplog.records if r.levelname == "WARNING"]
        assert len(outage) == 1 and "unavailable" in outage[0].getMessage(), [r.getMessage() for r in outage]

        server.listen()
        job = wait_for(lambda: kube.get(kube.batch.list_namespaced_job, "public")["items"], 10)[0]["metadata"]["name"]
        kube.set_pod("public", job, "Succeeded", {"terminated": {"exitCode": 0, "reason": "Completed",
                                                                 "startedAt": T1, "finishedAt": T2}})
        kube.set_job_status("public", job, succeeded=1, completionTime=T2, conditions=[
            {"type": "Complete", "status": "True", "lastTransitionTime": T2}])
        assert wait_for(lambda: (r := runtime())["runtime"] == "succeeded" and r)["run"]["jobs"][0]["attempts"] == 1
        wait_for(lambda: kube.exists(kube.apps.read_namespaced_deployment, "orders-api", "public"), 10)
        messages = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" or "recovered" in r.getMessage()]
        assert len(messages) == 2 and "recovered" in messages[1], messages
    finally:
        kernel.close()
        kube.api_client.close()
        server.close()
