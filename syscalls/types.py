"""Typed shapes of syscall responses (JSON objects on the wire, TypedDicts in Python)."""
from __future__ import annotations

from typing import Any, Literal, TypedDict

UserType = Literal["person", "application"]


class Identity(TypedDict):
    id: str
    type: UserType
    tags: list[str]


class ApiKey(TypedDict):
    name: str
    user: str
    created: str
    expires: str | None
    expired: bool


class NewApiKey(ApiKey):
    token: str  # shown once, never stored or returned again


class User(Identity):
    description: str
    created: str
    apikeys: list[ApiKey]


class Decision(TypedDict):
    allow: bool
    policy: str | None
    reason: str


class Resource(TypedDict, total=False):
    """A manifest as applied (name, version, type, workspace, owner, the type's section…) + status."""
    name: str
    version: str
    type: str
    workspace: str
    owner: str
    status: dict[str, Any]


class ApplyOutcome(TypedDict):
    type: str
    name: str
    workspace: str | None
    action: Literal["created", "configured", "unchanged"]
    generation: int
    resource: Resource


class ApplyResult(TypedDict):
    dry_run: bool
    results: list[ApplyOutcome]


class Generation(TypedDict):
    uid: str
    generation: int
    applied: str
    by: str
    action: str
    manifest: dict[str, Any]


class ResourceType(TypedDict):
    type: str
    level: Literal["workspace", "instance"]
    versions: list[str]
    summary: str


class AuditEntry(TypedDict):
    time: str
    user: str | None
    syscall: str
    object: str | None
    decision: Literal["allow", "deny", "none"]
    policy: str | None
    errno: str | None
    duration_us: int


class KernelInfo(TypedDict):
    version: str
    pid: int
    started: str
    state_dir: str
    cloud: str
    database: str  # "sqlite", or the PostgreSQL URL the services' state is in (no password)
    replica: str  # this kernel among the replicas over one database (its journals' owner)
    leader: bool  # whether it holds the reconciler's lease: reconciles, runs schedules (always, alone)
    syscalls: int
    plugins: list[dict[str, Any]]  # kernel-side plugins: name, package, version, state, adds, error


class Pod(TypedDict):
    name: str
    workspace: str
    resource: str | None  # WORKSPACE/TYPE/NAME
    job: str | None
    phase: Literal["Pending", "Running", "Succeeded", "Failed", "Stopped", "Unknown"]
    labels: dict[str, str]
    created: str
    started: str | None
    finished: str | None
    exit_code: int | None
    reason: str | None
    node: str | None


class Event(TypedDict):
    time: str
    object: str  # TYPE/NAME: the resource, or pod/NAME
    type: Literal["Normal", "Warning"]
    reason: str  # one CamelCase word: Applied, Created, Failed, OOMKilled, Retry, BackOff, ReconcileError …
    source: str  # what saw it happen: poros, caretaker, workflow-controller …
    message: str


class Runtime(TypedDict):
    type: str
    name: str
    workspace: str | None
    runAs: str  # who applied the generation its pods run: they act as that user
    runtime: str | None
    progress: str | None
    run: dict[str, Any] | None
    replicas: list[dict[str, Any]] | None
    message: str | None
    pods: list[Pod]


class QueryColumn(TypedDict):
    name: str
    type: str
    masked: str | None  # the mask operator, when the column shows masked values


class QueryResult(TypedDict):
    id: str
    columns: list[QueryColumn]
    rows: list[list[Any]]
    row_count: int
    truncated: bool
    elapsed_ms: float
    governance: dict[str, Any]  # {"policies": [...], "datasets": [...], "sql": the rewritten SQL}
