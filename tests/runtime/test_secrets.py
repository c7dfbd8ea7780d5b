"""Secrets: sealed at rest with a key outside the databases, redacted in every answer, given to
pods as env or files, never written where the kernel keeps its own files."""
from __future__ import annotations

import stat

import pytest

from syscalls.client import Client
from syscalls.errors import SyscallError
from clitools import wait_for

PASSWORD = "hunter2-Very-Secret-Value"


def secret(name="db", **data):
    return {"name": name, "version": "v1", "type": "secret",
            "secret": {"type": "key-value", "data": data or {"username": "app", "password": PASSWORD}}}


def job(name, script, **ref):
    return {"name": name, "version": "v1", "type": "workflow", "workflow": {"dag": [{"name": "a", "spec": {
        "stack": "container", "stackSpec": {"command": ["sh", "-c", script]},
        "dataosSecrets": [{"name": "db", **ref}]}}]}}


def everything_on_disk(state) -> bytes:
    return b"".join(p.read_bytes() for p in state.rglob("*") if p.is_file())


def test_values_are_sealed_at_rest_and_redacted_everywhere(k, tmp_path):
    [r] = k.resource.apply(manifests=[secret()])["results"]
    assert r["resource"]["secret"]["data"] == {"username": "<redacted>", "password": "<redacted>"}
    assert k.resource.get(type="secret", name="db")["secret"]["data"]["password"] == "<redacted>"
    assert PASSWORD not in str(k.resource.list()) + str(k.resource.history(type="secret", name="db"))
    assert PASSWORD not in str(k.audit.list(limit=1000))
    state = tmp_path / "state"
    k.transport.kernel.audit.flush()
    assert PASSWORD.encode() not in everything_on_disk(state)
    key = state / "vault.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(key.read_bytes()) == 64


def test_reapplying_the_same_or_a_fetched_secret_changes_nothing(k):
    k.resource.apply(manifests=[secret()])
    assert k.resource.apply(manifests=[secret()])["results"][0]["action"] == "unchanged"
    fetched = k.resource.get(type="secret", name="db")
    assert k.resource.apply(manifests=[fetched])["results"][0]["action"] == "unchanged"
    changed = secret(username="app", password="another")
    assert k.resource.apply(manifests=[changed])["results"][0]["action"] == "configured"
    bad = secret(username="<redacted>", newkey="<redacted>")
    with pytest.raises(SyscallError) as e:
        k.resource.apply(manifests=[bad])
    assert e.value.code == "EINVAL" and e.value.details["field"] == "secret.data.newkey"


def test_pods_get_secrets_as_env_or_files_and_nothing_is_left_on_disk(k, tmp_path):
    k.resource.apply(manifests=[secret(), job("env", 'echo "$username:$password"'),
                                job("file", 'cat "$DATAOS_SECRETS_DIR/db"', consumptionType="propFile",
                                    keys=["password"])])

    def output(name):
        rt = k.runtime.get(type="workflow", name=name)
        if rt["runtime"] != "succeeded":
            return None
        return "".join(k.pod.logs(name=rt["pods"][0]["name"]))

    assert wait_for(lambda: output("env")) == "app:***\n"  # the value, masked in the log
    assert wait_for(lambda: output("file")) == "password=***\n"
    pods = tmp_path / "state" / "pods"
    leftovers = everything_on_disk(pods).replace(f"app:{PASSWORD}".encode(), b"").replace(
        f"password={PASSWORD}".encode(), b"")  # (what the jobs printed is their own log)
    assert PASSWORD.encode() not in leftovers
    assert not any(p.name == "secrets" for p in pods.rglob("*"))


def test_a_workload_may_name_only_existing_secrets_its_author_can_read(k):
    with pytest.raises(SyscallError) as e:
        k.resource.apply(manifests=[job("orphan", "true")])
    assert e.value.code == "EINVAL" and e.value.details["field"] == "workflow.dag[0].spec.dataosSecrets[0].name"
    k.resource.apply(manifests=[secret()])
    with pytest.raises(SyscallError) as e:
        k.resource.apply(manifests=[job("typo", "true", keys=["pasword"])])
    assert e.value.details["field"] == "workflow.dag[0].spec.dataosSecrets[0].keys"
    k.user.create(name="dev", tags=["roles:id:dev"])
    token = k.user.apikey.create(user="dev")["token"]
    k.resource.apply(manifests=[{"name": "devs", "version": "v1", "type": "policy", "policy": {"access": {
        "subjects": {"tags": [["roles:id:dev"]]}, "predicates": ["create", "read"],
        "objects": {"paths": ["/poros/workspaces/public/workflow/*"]}}}}])
    dev = Client(k.transport, token)
    with pytest.raises(SyscallError) as e:
        dev.resource.apply(manifests=[job("steal", 'echo "$password"')])
    assert e.value.code == "EACCES" and "/poros/workspaces/public/secret/db" in e.value.message


def test_consuming_a_secret_takes_use_not_read(k):
    """`read` shows a secret's keys; putting its values in a pod is `use` — at apply, and again
    when a pod starts (a policy may have changed since)."""
    k.resource.apply(manifests=[secret()])
    k.user.create(name="dev", tags=["roles:id:dev"])
    dev = Client(k.transport, k.user.apikey.create(user="dev")["token"])
    readers = {"name": "devs", "version": "v1", "type": "policy", "policy": {"access": {
        "subjects": {"tags": [["roles:id:dev"]]}, "predicates": ["create", "read", "update"],
        "objects": {"paths": ["/poros/workspaces/public/**"]}}}}
    k.resource.apply(manifests=[readers])
    assert dev.resource.get(type="secret", name="db")["secret"]["data"]["password"] == "<redacted>"
    with pytest.raises(SyscallError) as e:
        dev.resource.apply(manifests=[job("steal", 'echo "$password"')])
    assert e.value.code == "EACCES" and "may not use /poros/workspaces/public/secret/db" in e.value.message
    users = {"name": "db-users", "version": "v1", "type": "policy", "policy": {"access": {
        "subjects": {"tags": [["roles:id:dev"]]}, "predicates": ["use"],
        "objects": {"paths": ["/poros/workspaces/public/secret/db"]}}}}
    k.resource.apply(manifests=[users])
    dev.resource.apply(manifests=[job("allowed", 'echo "$password"', consumptionType="envVars")])
    wait_for(lambda: k.runtime.get(type="workflow", name="allowed")["runtime"] == "succeeded")
    k.resource.delete(type="policy", name="db-users")  # taken back: the next run cannot start
    k.runtime.control(type="workflow", name="allowed", action="rerun")
    rt = wait_for(lambda: (r := k.runtime.get(type="workflow", name="allowed"))["runtime"] == "failed" and r)
    assert "could not start" in rt["message"]
