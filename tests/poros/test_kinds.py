"""Validation per resource type: a good manifest of each type passes; each mistake is an
EINVAL naming the field a user has to fix."""
from __future__ import annotations

import copy

import pytest

from kernel.poros.kinds import KINDS, validate
from syscalls.errors import SyscallError

GOOD = {
    "workflow": {"dag": [{"name": "a", "spec": {"stack": "python", "stackSpec": {"module": "m"}}},
                         {"name": "b", "dependencies": ["a"], "retry": {"count": 2, "strategy": "OnFailure"},
                          "spec": {"stack": "container", "stackSpec": {"command": ["true"]}}}],
                 "schedule": {"cron": "*/5 * * * *", "concurrencyPolicy": "Forbid"}},
    "service": {"replicas": 2, "servicePort": 8080, "stack": "container", "stackSpec": {"image": "x"}},
    "worker": {"replicas": 1, "stack": "python", "stackSpec": {"module": "w"}},
    "cluster": {"type": "duckdb", "depots": [{"address": "dataos://lakehouse"}],
                "resources": {"memory": "2Gi", "threads": 2}},
    "depot": {"type": "file", "file": {"path": "/data", "format": "parquet"}},
    "policy": {"access": {"subjects": {"tags": [["roles:id:x"]]}, "predicates": ["read"],
                          "objects": {"paths": ["/x"]}}},
    "compute": {"purpose": "runnable"},
    "secret": {"type": "key-value", "data": {"user": "x", "port": 5432}},
    "instance-secret": {"type": "key-value-properties", "acl": "r", "data": {"password": "x"}},
}


def manifest(type_name: str, **changes):
    m = {"name": "ok-name", "version": "v1", "type": type_name, type_name: copy.deepcopy(GOOD[type_name])}
    m.update(changes)
    return m


def test_every_known_type_has_a_good_example():
    assert set(GOOD) == set(KINDS)


@pytest.mark.parametrize("type_name", sorted(GOOD))
def test_good_manifests_pass(type_name):
    assert validate(manifest(type_name)).type == type_name


def field_of(m) -> tuple[str, str]:
    with pytest.raises(SyscallError) as e:
        validate(m)
    assert e.value.code == "EINVAL"
    return e.value.details["field"], e.value.message


@pytest.mark.parametrize("change, field, words", [
    ({"name": "Bad_Name"}, "name", "not a valid name"),
    ({"name": "x" * 49}, "name", "longer than 48"),
    ({"version": "v9"}, "version", "supports version v1"),
    ({"type": "wrkflow"}, "type", "unknown resource type"),
    ({"tags": ["ok", "bad tag"]}, "tags[1]", "not a valid tag"),
    ({"extra": 1}, "extra", "unknown field"),
    ({"service": {}}, "service", "section of a service resource"),
])
def test_top_level_mistakes_name_the_field(change, field, words):
    got_field, message = field_of(manifest("workflow", **change))
    assert got_field == field and words in message


def test_missing_section_and_name():
    m = manifest("workflow")
    del m["workflow"]
    assert field_of(m)[0] == "workflow"
    m = manifest("workflow")
    del m["name"]
    assert field_of(m)[0] == "name"


@pytest.mark.parametrize("mutate, field", [
    (lambda s: s["dag"][0].pop("spec"), "workflow.dag[0].spec"),
    (lambda s: s["dag"][1]["spec"].update(stack=3), "workflow.dag[1].spec.stack"),
    (lambda s: s["dag"][1].update(dependencies=["zz"]), "workflow.dag[1].dependencies[0]"),
    (lambda s: s["dag"][1]["retry"].update(strategy="Sometimes"), "workflow.dag[1].retry.strategy"),
    (lambda s: s["schedule"].update(cron="every hour"), "workflow.schedule.cron"),
    (lambda s: s["dag"].append({"name": "a", "spec": {"stack": "sql"}}), "workflow.dag[2].name"),
    (lambda s: s.update(dag=[]), "workflow.dag"),
])
def test_workflow_mistakes_name_the_field(mutate, field):
    m = manifest("workflow")
    mutate(m["workflow"])
    assert field_of(m)[0] == field


def test_dag_cycle_is_refused_with_the_cycle():
    m = manifest("workflow")
    m["workflow"]["dag"][0]["dependencies"] = ["b"]
    field, message = field_of(m)
    assert field == "workflow.dag" and "cycle" in message and "a -> b -> a" in message


def test_instance_level_types_have_no_workspace():
    field, message = field_of(manifest("depot", workspace="public"))
    assert field == "workspace" and "instance-level" in message


def test_depot_needs_the_section_of_its_type():
    m = manifest("depot")
    m["depot"] = {"type": "postgresql", "file": {"path": "/x"}}
    assert field_of(m)[0] == "depot.postgresql"


def test_policy_has_access_or_data_not_both():
    m = manifest("policy")
    m["policy"]["data"] = {}
    assert field_of(m)[0] == "policy"


def test_service_replicas_are_bounded_integers():
    assert field_of(manifest("service", service={**GOOD["service"], "replicas": "2"}))[0] == "service.replicas"
    assert field_of(manifest("service", service={**GOOD["service"], "replicas": -1}))[0] == "service.replicas"
