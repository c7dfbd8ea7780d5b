"""Two kernels over one PostgreSQL database and one Kubernetes API (the test API): what one writes,
the other holds at once (users, keys revoked, policies); one of them reconciles; kill -9 the one
that leads, and the other takes over within seconds, runs nothing twice and finishes the run."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import syscalls
from syscalls.errors import SyscallError

from clitools import wait_for
from kapi import KubeServer
from pgkit import pg_database
from proctools import ROOT
from kubekit import T1, T2, Kube, kubeconfig

pytestmark = pytest.mark.slow
STEP = {"stack": "container", "stackSpec": {"image": "busybox", "command": ["true"]}}


class Replica:
    def __init__(self, directory: Path, url: str, config: str) -> None:
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.state, self.url = directory / "state", f"http://127.0.0.1:{port}"
        self.log = open(directory / "kernel.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kernel", "serve", "--state", str(self.state), "--listen", f"127.0.0.1:{port}",
             "--cloud", "kubernetes", "--kubeconfig", config, "--kube-context", "kmock"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT, cwd=ROOT,
            env={**os.environ, "DATAOS_DATABASE": url})
        import httpx
        wait_for(lambda: self.proc.poll() is None and _answers(httpx, self.url), 30)

    def client(self, token: str):
        return syscalls.connect(self.url, token)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


def _answers(httpx, url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture
def pair(tmp_path):
    """Replicas a and b: the same database, the same keys, state directories of their own."""
    server = KubeServer().start()
    config = kubeconfig(tmp_path, server.url, "kmock")
    started: list[Replica] = []
    with pg_database() as url:
        try:
            keys = {"vault.key": os.urandom(64), "gateway.key": os.urandom(32)}  # shared (the chart: a Secret)
            for name in ("a", "b"):
                (tmp_path / name / "state").mkdir(parents=True, mode=0o700)
                for key, value in keys.items():
                    (tmp_path / name / "state" / key).write_bytes(value)
                    (tmp_path / name / "state" / key).chmod(0o600)
            a = Replica(tmp_path / "a", url, config)
            started.append(a)
            token = (a.state / "operator.token").read_text().strip()
            b = Replica(tmp_path / "b", url, config)
            started.append(b)
            yield a, b, token, Kube(_api(config)), server
        finally:
            for replica in started:
                replica.stop()
            server.close()


def _api(config: str):
    from kernel.cloud.kubernetes import KubernetesDriver
    return KubernetesDriver(kubeconfig=config, context="kmock").api_client


def test_what_one_replica_writes_the_other_holds_at_once(pair):
    a, b, token, _, _ = pair
    with a.client(token) as on_a, b.client(token) as on_b:
        on_a.user.create(name="ana", tags=["roles:id:user"])
        key = on_a.user.apikey.create(user="ana", name="laptop")["token"]
        with b.client(key) as ana_on_b:
            assert wait_for(lambda: _who(ana_on_b), 5) == "ana"  # made on a, known to b
            on_a.user.apikey.delete(user="ana", name="laptop")
            wait_for(lambda: _who(ana_on_b) is None, 5)  # revoked on a, refused by b
        on_b.resource.apply(manifests=[{"name": "lake", "version": "v1", "type": "depot",
                                        "depot": {"type": "file", "file": {"path": str(a.state.parent)}}}])
        wait_for(lambda: _lists(on_a, "dataos://lake") is not None, 5)  # applied on b, a depot a knows
        on_b.resource.delete(type="depot", name="lake")
        wait_for(lambda: _lists(on_a, "dataos://lake") is None, 5)  # deleted on b, gone from a
        infos = [on_a.kernel.info(), on_b.kernel.info()]
        assert {i["database"] for i in infos} == {infos[0]["database"]} and infos[0]["replica"] != infos[1]["replica"]
        assert sorted(i["leader"] for i in infos) == [False, True]  # one reconciles


def _lists(client, address: str) -> list | None:
    try:
        return client.dataset.list(address=address)
    except SyscallError as e:
        assert e.code == "ENOENT", e
        return None


def _who(client) -> str | None:
    try:
        return client.auth.whoami()["id"]
    except SyscallError as e:
        assert e.code == "EAUTH", e
        return None


def test_the_leader_killed_mid_run_another_takes_over_and_runs_nothing_twice(pair):
    a, b, token, kube, _ = pair
    replicas = {a: a.client(token), b: b.client(token)}
    try:
        leader = next(r for r, c in replicas.items() if c.kernel.info()["leader"])
        other = b if leader is a else a
        replicas[other].resource.apply(manifests=[{"name": "nightly", "version": "v1", "type": "workflow",
                                                   "workflow": {"dag": [{"name": "extract", "spec": STEP},
                                                                        {"name": "load", "dependencies": ["extract"],
                                                                         "spec": STEP}]}}])

        def jobs(prefix: str) -> list[str]:
            return [j["metadata"]["name"] for j in kube.get(kube.batch.list_namespaced_job, "public")["items"]
                    if j["metadata"]["name"].startswith(prefix)]

        [extract] = wait_for(lambda: jobs("nightly-extract-"), 10)  # started by the leader, once
        leader.kill()
        killed = time.monotonic()
        wait_for(lambda: replicas[other].kernel.info()["leader"], 10)
        took_over = time.monotonic() - killed
        assert took_over < 5, took_over
        kube.set_pod("public", extract, "Succeeded", {"terminated": {"exitCode": 0, "reason": "Completed",
                                                                     "startedAt": T1, "finishedAt": T2}})
        kube.set_job_status("public", extract, succeeded=1, completionTime=T2, conditions=[
            {"type": "Complete", "status": "True", "lastTransitionTime": T2}])
        [load] = wait_for(lambda: jobs("nightly-load-"), 15)  # the next step, by the new leader
        kube.set_pod("public", load, "Succeeded", {"terminated": {"exitCode": 0, "reason": "Completed",
                                                                  "startedAt": T1, "finishedAt": T2}})
        kube.set_job_status("public", load, succeeded=1, completionTime=T2, conditions=[
            {"type": "Complete", "status": "True", "lastTransitionTime": T2}])
        done = wait_for(lambda: (r := replicas[other].runtime.get(type="workflow", name="nightly"))["runtime"]
                        == "succeeded" and r, 15)
        assert done["progress"] == "2/2"
        assert jobs("nightly-extract-") == [extract] and jobs("nightly-load-") == [load]  # nothing ran twice
    finally:
        for client in replicas.values():
            client.close()
