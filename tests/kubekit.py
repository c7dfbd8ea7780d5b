"""What tests of the Kubernetes driver share: the raw API to check the driver's work and to play
the controllers (the test API has none), and kubeconfigs for it."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

MERGE = "application/merge-patch+json"
T0, T1, T2 = "2030-01-02T03:04:05Z", "2030-01-02T03:04:06Z", "2030-01-02T03:04:09Z"


def kubeconfig(tmp_path: Path, server: str, context: str) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": context, "context": {"cluster": "c", "user": "u"}}]}))
    return str(path)


class Kube:
    """The raw API, to check what the driver did and to play the controller: answers as JSON."""

    def __init__(self, api_client) -> None:
        from kubernetes import client
        self.api_client = api_client
        self.core, self.batch, self.apps = client.CoreV1Api(api_client), client.BatchV1Api(api_client), \
            client.AppsV1Api(api_client)

    def get(self, fn: Callable, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return json.loads(fn(*args, _preload_content=False, **kwargs).data)

    def exists(self, fn: Callable, *args: Any) -> bool:
        """Whether the object is there (even if being deleted)."""
        from kubernetes.client.exceptions import ApiException
        try:
            self.get(fn, *args)
        except ApiException as e:
            if e.status == 404:
                return False
            raise
        return True

    def job(self, ns: str, name: str) -> dict[str, Any]:
        return self.get(self.batch.read_namespaced_job, name, ns)

    # playing the Job controller (kmock only)

    def set_job_status(self, ns: str, name: str, **status: Any) -> None:
        self.batch.patch_namespaced_job_status(name, ns, {"status": status}, _content_type=MERGE,
                                               _preload_content=False)

    def set_pod(self, ns: str, job: str, phase: str, state: dict | None = None, reason: str | None = None) -> str:
        """The Job's pod (created on first use) with this phase and container state."""
        from kubernetes.client.exceptions import ApiException
        name = f"{job}-x7k2p"
        labels = {**self.job(ns, job)["spec"]["template"]["metadata"]["labels"], "job-name": job}
        try:
            self.core.create_namespaced_pod(ns, {"metadata": {"name": name, "labels": labels}, "spec": {
                "nodeName": "node-1", "restartPolicy": "Never", "containers": [{"name": "main", "image": "x"}]}},
                _preload_content=False)
        except ApiException as e:
            if e.status != 409:
                raise
        status: dict[str, Any] = {"phase": phase}
        if state is not None:
            status["containerStatuses"] = [{"name": "main", "state": state, "ready": "running" in state,
                                            "restartCount": 0, "image": "x", "imageID": ""}]
        if reason:
            status["reason"] = reason
        self.core.patch_namespaced_pod_status(name, ns, {"status": status}, _content_type=MERGE,
                                              _preload_content=False)
        return name
