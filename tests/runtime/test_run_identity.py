"""A run acts as the user who applied its generation, and its pods' keys die with the pods.

Before: a workflow kept its first owner's identity when another user with `update` re-applied it,
so that user's code ran with the owner's rights (an escalation to operator); pod keys of stopped,
resumed and rolled-out pods piled up, live, under the owner's name.
"""
from __future__ import annotations

import json
import textwrap

import pytest

from clitools import wait_for
from syscalls import connect
from syscalls.client import Client

WHOAMI = textwrap.dedent("""\
    name: etl
    version: v1
    type: workflow
    workflow:
      dag:
        - name: ask
          spec:
            stack: python
            stackSpec:
              script: |
                from syscalls import connect
                from syscalls.errors import SyscallError
                with connect() as c:
                    print("{label} runs as", c.auth.whoami()["id"])
                    try:
                        c.user.create(name="minted-by-{label}")
                        print("created a user")
                    except SyscallError as e:
                        print("refused", e.code)
    """)


def _runtime(run, *args):
    r = run("get", "runtime", "workflow", "etl", "-o", "json", *args)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.slow
def test_a_reapplied_workflow_runs_as_whoever_applied_it(run_dataos, tmp_path):
    manifest = tmp_path / "etl.yaml"
    manifest.write_text(WHOAMI.format(label="first"))
    assert run_dataos("apply", "-f", manifest).returncode == 0  # the operator's generation 1
    wait_for(lambda: _runtime(run_dataos)["runtime"] == "succeeded")
    operator = json.loads(run_dataos("whoami", "-o", "json").stdout)["id"]
    assert run_dataos("user", "create", "dev", "--tag", "roles:id:dev").returncode == 0
    token = run_dataos("user", "apikey", "create", "dev").stdout.strip()
    (tmp_path / "p.yaml").write_text("name: devs\nversion: v1\ntype: policy\npolicy:\n  access:\n"
                                     "    subjects: {tags: [[roles:id:dev]]}\n    predicates: [read, update]\n"
                                     "    objects: {paths: ['/poros/workspaces/public/workflow/etl']}\n")
    assert run_dataos("apply", "-f", tmp_path / "p.yaml").returncode == 0
    manifest.write_text(WHOAMI.format(label="second"))
    assert run_dataos("apply", "-f", manifest, env={"DATAOS_TOKEN": token}).returncode == 0  # dev's generation 2
    wait_for(lambda: (rt := _runtime(run_dataos))["run"]["generation"] == 2 and rt["runtime"] == "succeeded")
    rt = _runtime(run_dataos)
    assert rt["runAs"] == "dev"
    assert "runs as dev" in run_dataos("get", "runtime", "workflow", "etl").stdout
    assert "Runs as:      dev (who applied generation 2)" in run_dataos("describe", "workflow", "etl").stdout
    logs = {p["name"]: run_dataos("logs", p["name"]).stdout for p in
            json.loads(run_dataos("pods", "-r", "workflow/etl", "-o", "json").stdout)}
    assert sorted(logs.values()) == [f"first runs as {operator}\ncreated a user\n",
                                     "second runs as dev\nrefused EACCES\n"]  # dev's code has dev's rights
    assert run_dataos("user", "get", "minted-by-second").returncode == 5
    assert run_dataos("runtime", "rerun", "workflow", "etl").returncode == 0  # the operator reruns dev's code…
    wait_for(lambda: _runtime(run_dataos)["run"]["id"] == 3 and _runtime(run_dataos)["runtime"] == "succeeded")
    assert _runtime(run_dataos)["runAs"] == "dev"  # …which still runs as dev


@pytest.fixture
def k(tmp_path, monkeypatch):
    import kernel.poros.reconcile as reconcile
    monkeypatch.setattr(reconcile, "SWEEP_EVERY", 0.0)
    monkeypatch.setattr(reconcile, "KEY_GRACE", 0.0)
    c = connect(f"embedded://{tmp_path / 'state'}")
    c.user.create(name="dev", tags=["roles:id:dev"])
    c.resource.apply(manifests=[{"name": "devs", "version": "v1", "type": "policy", "policy": {"access": {
        "subjects": {"tags": [["roles:id:dev"]]}, "predicates": ["create", "read", "update"],
        "objects": {"paths": ["/poros/workspaces/public/**"]}}}}])
    yield c
    kernel = c.transport.kernel
    kernel.reconciler.stop()
    for pod in kernel.cloud.poll():
        kernel.cloud.kill(pod.name, grace=1)
    c.close()


def _service(script: str) -> dict:
    return {"name": "api", "version": "v1", "type": "service",
            "service": {"replicas": 2, "stack": "python", "stackSpec": {"script": script}}}


def _pod_keys(k) -> set[str]:
    return {key["name"] for key in k.user.apikey.list(user="dev") if key["name"].startswith("pod-")}


def _live(k) -> list[dict]:
    return [p for p in k.pod.list(type="service", name="api") if p["phase"] in ("Pending", "Running")]


def test_pod_keys_live_exactly_as_long_as_their_pods(k):
    from kernel.poros.reconcile import token_key
    dev = Client(k.transport, k.user.apikey.create(user="dev")["token"])
    dev.resource.apply(manifests=[_service("import time; time.sleep(600)")])
    wait_for(lambda: len(_live(k)) == 2)
    assert {p["labels"]["dataos.io/run-as"] for p in _live(k)} == {"dev"}
    wait_for(lambda: _pod_keys(k) == {token_key(p["name"]) for p in _live(k)})
    dev.resource.apply(manifests=[_service("import time; time.sleep(601)")])  # a rollout: both replaced
    wait_for(lambda: len(_live(k)) == 2 and all(p["labels"]["dataos.io/generation"] == "2" for p in _live(k)),
             timeout=30)
    wait_for(lambda: _pod_keys(k) == {token_key(p["name"]) for p in _live(k)})
    k.runtime.control(type="service", name="api", action="stop")
    wait_for(lambda: not _live(k) and not _pod_keys(k))
    k.runtime.control(type="service", name="api", action="resume")
    wait_for(lambda: len(_live(k)) == 2 and _pod_keys(k) == {token_key(p["name"]) for p in _live(k)})


def test_a_stray_pod_key_is_revoked(k):
    stray = k.transport.kernel.heimdall.identities.create_key("dev", "pod-0123456789abcdef", "24h")
    wait_for(lambda: "pod-0123456789abcdef" not in _pod_keys(k))
    with pytest.raises(Exception):
        Client(k.transport, stray["token"]).auth.whoami()


def test_a_forbidden_pod_is_answered_as_a_missing_one(k):
    k.resource.apply(manifests=[_service("import time; time.sleep(600)")])
    wait_for(lambda: len(_live(k)) == 2)
    k.user.create(name="eve", tags=["roles:id:nobody"])
    eve = Client(k.transport, k.user.apikey.create(user="eve")["token"])
    pod = _live(k)[0]["name"]
    answers = []
    for name in (pod, pod[:-1] + "9"):
        with pytest.raises(Exception) as e:
            eve.pod.get(name=name)
        answers.append((e.value.code, e.value.message.replace(name, "NAME")))
    assert answers == [("ENOENT", "no pod 'NAME'")] * 2
    assert k.pod.get(name=pod)["name"] == pod
