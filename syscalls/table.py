"""The syscall table: every way into the kernel, declared once.

Objects are API paths (`/heimdall/…`, `/poros/…`, `/kernel/…`) or `dataos://` addresses; a
policy allows a predicate on them. Syscalls without `predicate` authorize inside the handler,
per object (see `syscalls.spec`).
"""
from __future__ import annotations

from typing import Annotated, Any, Iterator, Literal

from .spec import Range, Syscall, syscall
from .types import (ApiKey, ApplyResult, AuditEntry, Decision, Event, Generation, Identity, KernelInfo,
                    NewApiKey, Pod, QueryResult, Resource, ResourceType, Runtime, User, UserType)


Seconds = Annotated[float, Range(0, 7 * 86400)]  # a timeout: at most a week
Rows = Annotated[int, Range(-1, None)]  # -1: no limit
Count = Annotated[int, Range(0, None)]


# --- kernel ---------------------------------------------------------------------------------

@syscall("kernel.info", predicate="read", object="/kernel")
def kernel_info() -> KernelInfo:
    """The kernel's version, process, state directory and cloud driver."""


@syscall("audit.list", predicate="read", object="/kernel/audit")
def audit_list(user: str | None = None, syscall: str | None = None, since: str | None = None,
               errors_only: bool = False, limit: int = 100) -> list[AuditEntry]:
    """Recent audit records, newest first (since: ISO time or a duration such as 1h)."""


# --- heimdall: identity and access ----------------------------------------------------------

@syscall("auth.whoami", predicate="read", object="/heimdall/users/{caller}")
def auth_whoami() -> Identity:
    """Who the caller is: user id, type and tags."""


@syscall("user.create", predicate="create", object="/heimdall/users/{name}", errors=("EEXIST",))
def user_create(name: str, type: UserType = "person", tags: list[str] = [],  # noqa: B006 (a schema)
                description: str = "") -> User:
    """Create a user (person or application) with tags; users:id:NAME is implied."""


@syscall("user.get", predicate="read", object="/heimdall/users/{name}", errors=("ENOENT",))
def user_get(name: str) -> User:
    """A user, their tags and API keys (never the tokens)."""


@syscall("user.list")
def user_list() -> list[User]:
    """The users the caller may read."""


@syscall("user.update", errors=("ENOENT",))
def user_update(name: str, add_tags: list[str] = [], remove_tags: list[str] = [],  # noqa: B006
                description: str | None = None) -> User:
    """Add or remove a user's tags (update on /heimdall/users/NAME/tags), or change the description."""


@syscall("user.delete", predicate="delete", object="/heimdall/users/{name}", errors=("ENOENT",))
def user_delete(name: str) -> User:
    """Delete a user and revoke all their API keys."""


@syscall("user.apikey.create", predicate="create", object="/heimdall/users/{user}/apikeys",
         errors=("ENOENT", "EEXIST"))
def user_apikey_create(user: str, name: str | None = None, expires: str | None = None) -> NewApiKey:
    """Create an API key (≥ 256 random bits); the token is returned this once only."""


@syscall("user.apikey.list", predicate="read", object="/heimdall/users/{user}/apikeys", errors=("ENOENT",))
def user_apikey_list(user: str) -> list[ApiKey]:
    """A user's API keys: names, creation and expiry (never the tokens)."""


@syscall("user.apikey.delete", predicate="delete", object="/heimdall/users/{user}/apikeys/{name}",
         errors=("ENOENT",))
def user_apikey_delete(user: str, name: str) -> ApiKey:
    """Revoke an API key."""


@syscall("policy.check", predicate="read", object="/heimdall/decisions", errors=("ENOENT",))
def policy_check(user: str, predicate: str, object: str, object_tags: list[str] = []  # noqa: B006
                 ) -> Decision:
    """Would this user be allowed this predicate on this object? Names the deciding policy."""


# --- poros: resources -----------------------------------------------------------------------

@syscall("resource.types", predicate="read", object="/poros/types")
def resource_types() -> list[ResourceType]:
    """The resource types this kernel knows, their level and versions."""


@syscall("resource.apply", errors=("ECONFLICT",))
def resource_apply(manifests: list[dict], workspace: str | None = None, dry_run: bool = False
                   ) -> ApplyResult:
    """Create or update resources from manifests, all or nothing."""


@syscall("resource.get", errors=("ENOENT",))
def resource_get(type: str, name: str, workspace: str | None = None) -> Resource:
    """One resource: its manifest and status."""


@syscall("resource.list")
def resource_list(type: str | None = None, workspace: str | None = None) -> list[Resource]:
    """Resources the caller may read (type and workspace None: all)."""


@syscall("resource.delete", errors=("ENOENT", "ECONFLICT"))
def resource_delete(type: str, name: str, workspace: str | None = None,
                    generation: Annotated[int, Range(1, None)] | None = None) -> Resource:
    """Delete a resource (its history is kept)."""


@syscall("resource.watch", stream=True)
def resource_watch(type: str | None = None, workspace: str | None = None, timeout: Seconds | None = None
                   ) -> Iterator[Resource]:
    """Resources as they change (first the current ones; a deleted one with status deleted), until the timeout."""


@syscall("resource.schema", predicate="read", object="/poros/types", errors=("ENOENT",))
def resource_schema(type: str) -> dict:
    """A type's manifest schema, as the validator checks it: fields, types, required, descriptions."""


@syscall("resource.history", errors=("ENOENT",))
def resource_history(type: str, name: str, workspace: str | None = None) -> list[Generation]:
    """Every applied generation of a resource, oldest first."""


# --- runtime: pods and workloads -----------------------------------------------------------

@syscall("pod.list")
def pod_list(workspace: str | None = None, type: str | None = None, name: str | None = None) -> list[Pod]:
    """Pods of the resources the caller may read (optionally of one workspace or resource)."""


@syscall("pod.get", errors=("ENOENT",))
def pod_get(name: str) -> Pod:
    """One pod: phase, times, exit code, and its phase history."""


@syscall("pod.logs", errors=("ENOENT",), stream=True)
def pod_logs(name: str, tail: Count | None = None, follow: bool = False) -> Iterator[str]:
    """A pod's output, line by line; with follow, until the pod ends."""


@syscall("pod.watch", stream=True)
def pod_watch(workspace: str | None = None, type: str | None = None, name: str | None = None,
              timeout: Seconds | None = None) -> Iterator[Pod]:
    """Pods as they change (first the current ones), until the timeout (seconds) if any."""


@syscall("pod.kill", errors=("ENOENT",))
def pod_kill(name: str) -> Pod:
    """Stop a pod (SIGTERM, then SIGKILL); its controller decides what happens next."""


@syscall("event.list", errors=("ENOENT",))
def event_list(type: str, name: str, workspace: str | None = None,
               limit: Annotated[int, Range(1, 1000)] = 20) -> list[Event]:
    """What happened to a resource (its generations, runs, pods) or to a pod (type pod), oldest first."""


@syscall("runtime.get", errors=("ENOENT",))
def runtime_get(type: str, name: str, workspace: str | None = None) -> Runtime:
    """A workload's runtime: state, progress, the current run's jobs or the replicas, and pods."""


@syscall("runtime.control", errors=("ENOENT",))
def runtime_control(type: str, name: str, action: Literal["pause", "resume", "stop", "rerun", "run"],
                    workspace: str | None = None) -> Runtime:
    """Pause, resume, stop (abort the run or the pods), rerun or run a workload now."""


# --- gateway: governed SQL ------------------------------------------------------------------

@syscall("query.execute", predicate="execute", object="/gateway/queries",
         errors=("ENOENT", "EEXIST", "ETIMEDOUT", "ECANCELED"))
def query_execute(sql: str, dialect: str = "duckdb", limit: Rows = 1000, depot: str | None = None,
                  collection: str | None = None, timeout: Seconds | None = None, cluster: str | None = None,
                  workspace: str | None = None, id: str | None = None) -> QueryResult:
    """Run governed SQL (any dialect): select checked per dataset, masks and filters applied.
    `id` (yours to choose, unique) lets you cancel the query before it answers."""


@syscall("query.stream", predicate="execute", object="/gateway/queries",
         errors=("ENOENT", "EEXIST", "ETIMEDOUT", "ECANCELED"), stream=True, binary=True)
def query_stream(sql: str, dialect: str = "duckdb", limit: Rows = -1, depot: str | None = None,
                 collection: str | None = None, timeout: Seconds | None = None, cluster: str | None = None,
                 workspace: str | None = None, id: str | None = None) -> Iterator[Any]:
    """Governed SQL as Arrow: a header (id, columns, governance), the schema, batches, a footer (rows)."""


@syscall("query.cancel", predicate="execute", object="/gateway/queries", errors=("ENOENT",))
def query_cancel(id: str) -> dict:
    """Cancel a running query (yours, or any as an operator)."""


@syscall("query.list", predicate="execute", object="/gateway/queries")
def query_list() -> list[dict]:
    """Running queries: yours (everyone's with read on /gateway/history): id, user, SQL, elapsed."""


@syscall("query.history", predicate="execute", object="/gateway/queries")
def query_history(limit: int = 50, user: str | None = None) -> list[dict]:
    """Recent queries: who, SQL, rewritten SQL, policies applied, rows, time."""


# --- depots: datasets ---------------------------------------------------------------------

@syscall("dataset.list", errors=("ENOENT",))
def dataset_list(address: str) -> list[dict]:
    """What is under an address: a depot's collections, or a collection's datasets (with rows, size,
    owner and tags from the catalog); only datasets the caller may select."""


@syscall("dataset.write", errors=("ENOENT",), large=("data",))
def dataset_write(address: str, data: str, mode: Literal["overwrite", "append"] = "overwrite",
                  upload: str | None = None, commit: bool = True) -> dict:
    """Write Arrow data (a base64 IPC stream, ≤ 16 MiB a call) to a dataset; commit makes it visible."""


# --- metis: the catalog --------------------------------------------------------------------
# `ref` is a dataset address, optionally with a column (dataos://depot:collection/dataset#column),
# or a resource (resource://WORKSPACE/TYPE/NAME).

@syscall("catalog.scan", errors=("ENOENT", "ECANCELED"), stream=True)
def catalog_scan(depot: str) -> Iterator[dict]:
    """Scan a depot into the catalog (only what changed); progress as it goes."""


@syscall("catalog.search")
def catalog_search(text: str = "", tag: str | None = None, depot: str | None = None, type: str | None = None,
                   owner: str | None = None, tier: str | None = None, limit: int = 20, offset: int = 0) -> dict:
    """Find datasets and resources by words and facets (only what the caller may read)."""


@syscall("catalog.get", errors=("ENOENT",))
def catalog_get(ref: str) -> dict:
    """An entry: schema with tags, profile, owner, description, lineage (masked as the caller sees data)."""


@syscall("catalog.tag", errors=("ENOENT",))
def catalog_tag(ref: str, tag: str, remove: bool = False) -> dict:
    """Tag a dataset or a column (PII.* tags mask the column for users without roles:id:pii-reader)."""


@syscall("catalog.describe", errors=("ENOENT",))
def catalog_describe(ref: str, text: str) -> dict:
    """Describe a dataset or a column."""


@syscall("catalog.owner", errors=("ENOENT",))
def catalog_owner(ref: str, user: str) -> dict:
    """Set a dataset's owner."""


@syscall("catalog.quality", errors=("ENOENT", "EINVAL", "EACCES"))
def catalog_quality(ref: str, results: list[dict]) -> dict:
    """Record a data quality check run on a dataset: per rule {rule, passed, failed_rows, total_rows, detail}."""


@syscall("catalog.history", errors=("ENOENT",))
def catalog_history(ref: str) -> list[dict]:
    """Every change to an entry, oldest first ("column added", "type changed", "tag added"…)."""


@syscall("catalog.lineage", errors=("ENOENT",))
def catalog_lineage(ref: str, direction: Literal["upstream", "downstream", "both"] = "both",
                    depth: int = 3) -> dict:
    """Where an entry comes from and what depends on it: nodes and edges (with column mappings)."""


TABLE: dict[str, Syscall] = {s.name: s for s in globals().values() if isinstance(s, Syscall)}


def lookup(name: str) -> Syscall:
    from .errors import SyscallError
    try:
        return TABLE[name]
    except KeyError:
        near = _nearest(name)
        hint = f" (did you mean {near}?)" if near else ""
        raise SyscallError("ENOSYS", f"unknown syscall {name!r}{hint}; see `dataos syscall --list`") from None


def _nearest(name: str) -> str | None:
    import difflib
    found = difflib.get_close_matches(name, TABLE, n=1, cutoff=0.6)
    return found[0] if found else None

