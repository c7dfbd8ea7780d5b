"""resource.watch: the resources a caller may read, then each change (a deletion too), each
checked against the caller's policies as it goes by; and resource.schema: what the validator checks."""
from __future__ import annotations

import threading
import time
import uuid

import pytest

from syscalls import SyscallError


def worker(name: str, tags: list[str], replicas: int = 0) -> dict:
    return {"name": name, "version": "v1", "type": "worker", "tags": tags,
            "worker": {"stack": "container", "replicas": replicas, "stackSpec": {"command": ["true"]}}}


def test_a_watch_shows_only_what_the_caller_may_read_and_every_change_of_it(embedded):
    op = embedded.op
    run = uuid.uuid4().hex[:8]
    seen_tag, role, user = f"seen-{run}", f"roles:id:watcher-{run}", f"watcher-{run}"
    op.user.create(name=user, tags=[role])
    client = embedded.make_client(op.user.apikey.create(user=user)["token"])
    op.resource.apply(manifests=[worker(f"seen-{run}", [seen_tag]), worker(f"hidden-{run}", []), {
        "name": f"watchers-{run}", "version": "v1", "type": "policy", "policy": {"access": {
            "subjects": {"tags": [[role]]}, "predicates": ["read"], "objects": {"tags": [seen_tag]}, "allow": True}}}])

    def meanwhile() -> None:
        time.sleep(0.5)
        op.resource.apply(manifests=[worker(f"seen-{run}", [seen_tag], replicas=1), worker(f"hidden-{run}", [], 1)])
        time.sleep(0.3)  # a watch polls the store: changes within one wake-up are told as their result
        op.resource.delete(type="worker", name=f"seen-{run}")

    threading.Thread(target=meanwhile, daemon=True).start()
    started = time.monotonic()
    events = [(r["name"], r["worker"]["replicas"], r["status"]["aggregateStatus"])
              for r in client.resource.watch(type="worker", timeout=2)]
    assert time.monotonic() - started < 10
    assert events[0] == (f"seen-{run}", 0, "active") and events[-1] == (f"seen-{run}", 1, "deleted"), events
    assert (f"seen-{run}", 1, "active") in events and {e[0] for e in events} == {f"seen-{run}"}, events


def test_a_watch_of_an_unknown_type_is_einval(embedded):
    with pytest.raises(SyscallError) as e:
        list(embedded.op.resource.watch(type="nosuchtype", timeout=0.1))
    assert e.value.code == "EINVAL" and e.value.details.get("field") == "type"


def test_the_schema_of_a_type_is_what_the_validator_checks(embedded):
    schema = embedded.op.resource.schema(type="workflow")["schema"]
    dag = schema["fields"]["workflow"]["fields"]["dag"]
    assert dag["required"] and dag["type"] == "list" and dag["min"] == 1 and dag["uniqueBy"] == "name"
    assert dag["items"]["fields"]["spec"]["fields"]["stack"]["required"]
    assert "workspace" not in embedded.op.resource.schema(type="depot")["schema"]["fields"]  # instance-level
