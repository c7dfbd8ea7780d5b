"""A pod is read exactly as its owner is: the owner's path and its tags now. Before, pods were
decided on the owner's path alone, so a workflow hidden by a deny on its tag showed its pods."""
from __future__ import annotations

import pytest
from clitools import wait_for

from syscalls.errors import SyscallError

ROLE, SECRET_TAG = "roles:id:pat", "classified"


def _workflow(name: str, tags: list[str], script: str = "true") -> dict:
    return {"name": name, "version": "v1", "type": "workflow", "tags": tags, "workflow": {"dag": [
        {"name": "a", "spec": {"stack": "container", "stackSpec": {"command": ["sh", "-c", script]}}}]}}


def _policy(name: str, objects: dict, allow: bool) -> dict:
    return {"name": name, "version": "v1", "type": "policy", "policy": {"access": {
        "subjects": {"tags": [[ROLE]]}, "predicates": ["read"], "objects": objects, "allow": allow}}}


@pytest.fixture(scope="module")
def pat(embedded):
    """The operator, and pat: may read workspace public, except what is tagged classified."""
    op, client = embedded
    op.user.create(name="pat", tags=[ROLE])
    op.resource.apply(manifests=[_policy("pat-reads", {"paths": ["/poros/workspaces/public/**"]}, True),
                                 _policy("pat-not-classified", {"tags": [SECRET_TAG]}, False)])
    return op, client(op.user.apikey.create(user="pat")["token"])


def _pods(op, name: str) -> list[str]:
    return wait_for(lambda: [p["name"] for p in op.pod.list(type="workflow", name=name) if p["phase"] == "Succeeded"])


def test_pods_are_hidden_once_their_owner_is_tagged_out_of_reach(pat):
    op, pat = pat
    op.resource.apply(manifests=[_workflow("tagged-later", [])])
    pod = _pods(op, "tagged-later")[0]
    assert pod in [p["name"] for p in pat.pod.watch(type="workflow", name="tagged-later", timeout=0.3)]
    op.resource.apply(manifests=[_workflow("tagged-later", [SECRET_TAG])])
    assert pod not in [p["name"] for p in pat.pod.list()]
    assert pod not in [p["name"] for p in pat.pod.watch(timeout=0.3)]
    for call in (lambda: pat.pod.get(name=pod), lambda: pat.event.list(type="pod", name=pod)):
        with pytest.raises(SyscallError) as e:
            call()
        assert e.value.code == "ENOENT"
    assert pod in [p["name"] for p in op.pod.list()]  # the operator still sees it


def test_events_of_a_generation_the_reader_could_not_read_stay_hidden(pat):
    op, pat = pat
    op.resource.apply(manifests=[_workflow("declassified", [SECRET_TAG], "echo then; exit 9")])
    then = wait_for(lambda: [p["name"] for p in op.pod.list(type="workflow", name="declassified")
                             if p["phase"] == "Failed"])[0]
    op.resource.apply(manifests=[_workflow("declassified", [])])
    wait_for(lambda: len(op.pod.list(type="workflow", name="declassified")) == 2)
    seen = str(pat.event.list(type="workflow", name="declassified", limit=1000))
    assert "generation 2 " in seen
    assert then not in seen and "exit code 9" not in seen and "generation 1" not in seen
    assert then in str(op.event.list(type="workflow", name="declassified", limit=1000))
