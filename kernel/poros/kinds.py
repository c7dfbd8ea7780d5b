"""Resource types: level (workspace or instance), versions and the schema of their section."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

from syscalls.errors import SyscallError

from ..depot.registry import DRIVERS
from ..names import check_name, check_tag
from .schema import Anything, Bool, Int, List, Map, Scalar, Schema, Str, fail

NAME = Str(validate=lambda v, p: check_name(v, p))
TAG = Str(validate=lambda v, p: check_tag(v, p))
DURATION = Str(pattern=r"\d+(ms|s|m|h|d)", hint="a duration such as 30s, 10m or 2h")
QUANTITY = Str(pattern=r"\d+(\.\d+)?(Ki|Mi|Gi|Ti|K|M|G|T|KB|MB|GB|TB)?", hint="a size such as 512Mi or 2Gi")
ENVS = Map(values=Scalar())
UDL = Str(pattern=r"dataos://[a-z0-9][-a-z0-9_]*(:[A-Za-z0-9_\-]+(/[A-Za-z0-9_.\-]+)?)?",
          hint="an address such as dataos://depot:collection/dataset")


def _timezone(value: str, path: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name longer than a file's may be
        raise fail(path, f"{value!r} is not a time zone (an IANA name such as Europe/Berlin or UTC)") from None


def _instant(value: str, path: str) -> None:
    from datetime import datetime
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise fail(path, f"{value!r} is not an ISO 8601 time such as 2027-01-01T00:00:00Z") from None


def _cron(value: str, path: str) -> None:
    from croniter import croniter
    if len(value.split()) != 5 or not croniter.is_valid(value):
        raise fail(path, f"{value!r} is not a cron expression (five fields: minute hour day month weekday)")


SECRET_REF = Map({"name": NAME, "workspace": NAME, "instance": Bool(), "keys": List(Str(), min=1),
                  "allKeys": Bool(), "consumptionType": Str(enum=("envVars", "propFile"))}, required=("name",))

WORKLOAD = {
    "stack": Str(pattern=r"[a-z][a-z0-9-]*(\+[a-z0-9-]+)?(:\d+(\.\d+)*)?", hint="a stack name such as sql or python"),
    "compute": NAME,
    "stackSpec": Anything(),
    "envs": ENVS,
    "dataosSecrets": List(SECRET_REF),
    "resources": Map({"requests": Map({"cpu": Str(), "memory": QUANTITY}),
                      "limits": Map({"cpu": Str(), "memory": QUANTITY})}),
}

JOB = Map({
    "name": NAME, "title": Str(), "description": Str(),
    "dependencies": List(NAME),
    "retry": Map({"count": Int(min=0, max=100), "strategy": Str(enum=("Always", "OnFailure", "OnError")),
                  "duration": DURATION}),
    "spec": Map(WORKLOAD, required=("stack",)),
}, required=("name", "spec"))

WORKFLOW = Map({
    "title": Str(),
    "schedule": Map({"cron": Str(validate=_cron), "concurrencyPolicy": Str(enum=("Allow", "Forbid", "Replace")),
                     "timezone": Str(validate=_timezone), "endOn": Str(validate=_instant)}, required=("cron",)),
    "dag": List(JOB, min=1, unique_by="name"),
}, required=("dag",))

SERVICE = Map({"title": Str(), "replicas": Int(min=0, max=100), "servicePort": Int(min=1, max=65535),
               "ingress": Anything(), **WORKLOAD}, required=("stack",))

WORKER = Map({"title": Str(), "replicas": Int(min=0, max=100), **WORKLOAD}, required=("stack",))

@dataclass(frozen=True)
class _Connection(Schema):
    """A depot's connection section: never a password, then what its driver declares."""
    driver: Schema

    def check(self, value: Any, path: str) -> None:
        if isinstance(value, dict) and "password" in value:
            raise fail(f"{path}.password", "never put a password in a depot: store it in an instance-secret "
                       "and name it under depot.secrets")
        self.driver.check(value, path)

    def describe(self) -> dict[str, Any]:
        return self.driver.describe()


def depot_schema() -> Map:
    """The depot section for the depot drivers known now: each type has a connection section of its
    name, checked by the schema its driver declares (`connection`; any mapping if it declares none)."""
    return Map({"type": Str(enum=tuple(DRIVERS)), "description": Str(), "external": Bool(),
                "scan": Map({"cron": Str(validate=_cron), "timezone": Str(validate=_timezone)}, required=("cron",)),
                **{t: _Connection(getattr(d, "connection", Anything())) for t, d in DRIVERS.items()},
                "secrets": List(Map({"name": NAME, "workspace": NAME, "keys": List(Str()),
                                     "allkeys": Bool(), "acl": Str(enum=("r", "rw"))}, required=("name",)))},
               required=("type",))

CLUSTER = Map({"type": Str(enum=("duckdb",)), "compute": NAME,
               "depots": List(Map({"address": UDL}, required=("address",))),
               "resources": Map({"memory": QUANTITY, "threads": Int(min=1, max=1024)})},
              required=("type",))

POLICY = Map({"access": Anything(), "data": Anything()}, one_of=("access", "data"))

SECRET = Map({"type": Str(enum=("key-value", "key-value-properties", "certificates")),
              "acl": Str(enum=("r", "rw")), "data": Map(values=Scalar())}, required=("data",))

COMPUTE = Map({"dataplane": Str(), "purpose": Str(enum=("runnable", "query", "gpu")),
               "nodePool": Anything(), "resources": Anything()}, required=("purpose",))


@dataclass(frozen=True)
class Kind:
    type: str
    level: str  # "workspace" or "instance"
    summary: str
    section: Schema
    versions: tuple[str, ...] = ("v1",)
    check: Callable[[dict[str, Any]], None] | None = None  # cross-field checks on the section

    def describe(self) -> dict[str, Any]:
        return {"type": self.type, "level": self.level, "versions": list(self.versions), "summary": self.summary}


def _check_dag(section: dict[str, Any]) -> None:
    jobs = {job["name"]: job.get("dependencies", []) for job in section["dag"]}
    for i, job in enumerate(section["dag"]):
        for j, dep in enumerate(job.get("dependencies", [])):
            if dep not in jobs:
                raise fail(f"workflow.dag[{i}].dependencies[{j}]",
                           f"no job named {dep!r} in this dag (jobs: {', '.join(jobs)})")
    state: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = trail[trail.index(name):] + [name]
            raise SyscallError("EINVAL", f"workflow.dag: dependency cycle {' -> '.join(cycle)}",
                               field="workflow.dag")
        state[name] = 1
        for dep in jobs[name]:
            visit(dep, trail + [name])
        state[name] = 2

    for name in jobs:
        visit(name, [])


def _check_depot(section: dict[str, Any]) -> None:
    if section["type"] not in section:
        raise fail(f"depot.{section['type']}", f"a {section['type']} depot needs its connection section "
                   f"`{section['type']}:`")
    extra = [t for t in DRIVERS if t in section and t != section["type"]]
    if extra:
        raise fail(f"depot.{extra[0]}", f"this is a {section['type']} depot; remove the {extra[0]} section")


KINDS: dict[str, Kind] = {k.type: k for k in (
    Kind("workflow", "workspace", "A DAG of jobs, run once or on a schedule", WORKFLOW, check=_check_dag),
    Kind("service", "workspace", "A long-running workload with a port and replicas", SERVICE),
    Kind("worker", "workspace", "A long-running workload without a port", WORKER),
    Kind("cluster", "workspace", "A Minerva query engine over a set of depots", CLUSTER),
    Kind("depot", "instance", "A connection to a data source, addressed dataos://depot", depot_schema(),
         versions=("v1", "v2alpha"), check=_check_depot),
    Kind("policy", "instance", "An access policy (Heimdall) or a data policy (Gateway)", POLICY),
    Kind("secret", "workspace", "Values sealed at rest, given to pods as env or files", SECRET),
    Kind("instance-secret", "instance", "A secret for every workspace (depots' credentials)", SECRET),
    Kind("compute", "instance", "A pool of machines workloads and clusters run on", COMPUTE),
)}

TOP = {"name": NAME, "version": Str(), "type": Str(), "tags": List(TAG), "description": Str(),
       "owner": Str(), "workspace": NAME, "layer": Str(enum=("user", "system")), "status": Anything()}


def depot_types_changed() -> None:
    """A kernel plugin added a depot driver: manifests may now name its type and section."""
    KINDS["depot"] = replace(KINDS["depot"], section=depot_schema())


def kind_of(type_name: Any, field: str = "type") -> Kind:
    if not isinstance(type_name, str) or not type_name:
        raise fail(field, "required field is missing (the resource type, e.g. workflow)")
    try:
        return KINDS[type_name]
    except KeyError:
        raise fail(field, f"unknown resource type {type_name!r} (known: {', '.join(sorted(KINDS))})") from None


def validate(manifest: Any) -> Kind:
    """Check a manifest's shape; raises EINVAL naming the field. Returns its kind."""
    if not isinstance(manifest, dict):
        raise SyscallError("EINVAL", "a manifest must be a mapping", field="")
    kind = kind_of(manifest.get("type"))
    for key in manifest:
        if key not in TOP and key != kind.type:
            other = f" (the section of a {key} resource)" if key in KINDS else ""
            raise fail(key, f"unknown field {key!r}{other}; a {kind.type} has: "
                       f"{', '.join([*TOP, kind.type])}")
        if key in TOP:
            TOP[key].check(manifest[key], key)
    for key in ("name", "version", kind.type):
        if key not in manifest:
            raise fail(key, "required field is missing" + (f" (the {kind.type} section)" if key == kind.type else ""))
    if manifest["version"] not in kind.versions:
        raise fail("version", f"{kind.type} supports version {', '.join(kind.versions)}, "
                   f"not {manifest['version']!r}")
    if kind.level == "instance" and "workspace" in manifest:
        raise fail("workspace", f"a {kind.type} is an instance-level resource and has no workspace")
    kind.section.check(manifest[kind.type], kind.type)
    if kind.check:
        kind.check(manifest[kind.type])
    return kind
