"""A resource type's manifest schema for `dataos explain`: the validator's own schemas
(`kinds`) described, each field with what it is for."""
from __future__ import annotations

import difflib
from typing import Any

from syscalls.errors import SyscallError

from .kinds import KINDS, TOP, Kind
from .schema import Map

_WORKLOAD = {
    "stack": "The stack that runs it: sql, python, container, spark … (`name:version` pins a version).",
    "compute": "The compute (pool of machines) it runs on.",
    "stackSpec": "What the stack runs: its own settings (inputs, steps, outputs, command …).",
    "envs": "Environment variables given to its pods.",
    "dataosSecrets": "Secrets given to its pods, as environment variables or files.",
    "dataosSecrets.name": "The secret's name.",
    "dataosSecrets.workspace": "The secret's workspace (default: the resource's).",
    "dataosSecrets.instance": "An instance-secret rather than a secret.",
    "dataosSecrets.keys": "Only these keys of the secret.",
    "dataosSecrets.allKeys": "Every key of the secret.",
    "dataosSecrets.consumptionType": "How pods get the values: as environment variables or a properties file.",
    "resources": "CPU and memory its pods request and may not exceed.",
}

DOCS: dict[str, str] = {
    "name": "The resource's name: lower-case letters, digits and '-', at most 48 characters; unique per "
            "type (and workspace).",
    "version": "The version of the type's schema, e.g. v1.",
    "type": "The resource type: workflow, service, depot, policy …",
    "tags": "Labels: for search, for `get -l`, and for policies that select by tag.",
    "description": "What the resource is for, in a sentence.",
    "owner": "Who owns it; set from the caller who first applies it.",
    "workspace": "The workspace of a workspace-level resource (default: public).",
    "layer": "system for resources the kernel manages (you cannot change them), else user.",
    "status": "Set by the kernel (uid, generation, runtime …); `status.generation` as read makes an apply "
              "fail with ECONFLICT if the resource changed since.",
    "workflow.title": "A title to show.",
    "workflow.schedule": "Run on a schedule instead of once.",
    "workflow.schedule.cron": "When to run: a cron expression (minute hour day month weekday).",
    "workflow.schedule.concurrencyPolicy": "What happens when a run is due while one is running: run both, skip the new one, or replace the old.",
    "workflow.schedule.timezone": "The time zone the cron expression is read in (IANA name).",
    "workflow.schedule.endOn": "No run after this time (ISO 8601).",
    "workflow.dag": "The jobs; a job runs once the jobs it depends on have succeeded.",
    "workflow.dag.name": "The job's name, unique in the DAG.",
    "workflow.dag.title": "A title to show.",
    "workflow.dag.description": "What the job does.",
    "workflow.dag.dependencies": "Jobs of this DAG that must succeed first.",
    "workflow.dag.retry": "Run a failed job again.",
    "workflow.dag.retry.count": "How many more times, at most.",
    "workflow.dag.retry.strategy": "Which failures are retried.",
    "workflow.dag.retry.duration": "How long to wait between tries (30s, 10m …).",
    "workflow.dag.spec": "What the job runs.",
    **{f"workflow.dag.spec.{k}": v for k, v in _WORKLOAD.items()},
    "service.replicas": "How many pods run it.",
    "service.servicePort": "The port it listens on.",
    "service.ingress": "How it is reached from outside.",
    **{f"service.{k}": v for k, v in _WORKLOAD.items()},
    "worker.replicas": "How many pods run it.",
    **{f"worker.{k}": v for k, v in _WORKLOAD.items()},
    "depot.type": "The driver: its connection settings go in the section of that name.",
    "depot.description": "What the source holds.",
    "depot.external": "The data is managed outside DataOS.",
    "depot.scan": "Scan the depot into the catalog on a schedule.",
    "depot.scan.cron": "When to scan: a cron expression.",
    "depot.scan.timezone": "The time zone the cron expression is read in.",
    "depot.secrets": "Instance-secrets holding the connection's credentials (never put a password here).",
    "cluster.type": "The engine.",
    "cluster.compute": "The compute it runs on.",
    "cluster.depots": "The depots it can query.",
    "cluster.depots.address": "A depot (or a collection of one) as dataos://DEPOT[:COLLECTION].",
    "cluster.resources": "Memory and threads the engine may use.",
    "policy": "An access policy (Heimdall) or a data policy (Gateway): give exactly one of access, data.",
    "policy.access": "Who (subjects' tags) may do what (predicates) on which objects (paths or addresses).",
    "policy.data": "How data is masked or filtered for whom.",
    "secret.type": "The kind of values.",
    "secret.acl": "Whether consumers may only read it (r) or also write it (rw).",
    "secret.data": "The values by key; `get` shows <redacted>, which applies as the stored value.",
    "compute.purpose": "What runs on it: runnable (workloads), query (clusters) or gpu (GPU jobs).",
}
DOCS.update({f"instance-{k}": v for k, v in DOCS.items() if k.startswith("secret.")})


def manifest_schema(type_name: str) -> dict[str, Any]:
    """The whole manifest of `type_name` described: its type's facts and the schema tree."""
    kind = KINDS.get(type_name)
    if kind is None:
        near = difflib.get_close_matches(type_name, KINDS, n=1, cutoff=0.5)
        raise SyscallError("ENOENT", f"no resource type {type_name!r}{f' (did you mean {near[0]}?)' if near else ''}; "
                           f"known: {', '.join(sorted(KINDS))}", field="type")
    top = {k: v for k, v in TOP.items() if not (k == "workspace" and kind.level == "instance")}
    root = Map({**top, kind.type: kind.section}, required=("name", "version", "type", kind.type)).describe()
    _annotate(root, "", kind)
    return {**kind.describe(), "schema": root}


def _annotate(node: dict[str, Any], path: str, kind: Kind, described: bool = True) -> None:
    """Put each field's description in it (a list's items are described by their list's path)."""
    doc = DOCS.get(path) or (kind.summary if path == kind.type else None)
    if doc and described:
        node["description"] = doc
    if "items" in node:
        _annotate(node["items"], path, kind, described=False)
    for name, field in node.get("fields", {}).items():
        _annotate(field, f"{path}.{name}" if path else name, kind)
