"""Syscall handlers of the catalog (`catalog.*`).

Who sees what: a dataset's entry is visible to whoever may `select` it, a resource's to whoever
may `read` it; search and lineage never show the rest. What a user sees of a dataset's profile
follows what they would see in a query: no values of a column masked for them, and no values
or row counts at all when a row filter applies to them; likewise its last data quality check
shows every rule's pass/fail, but no counts under a row filter or for a rule on a column masked
for them. Editing an entry, and recording a quality check run (`catalog.quality`), takes
`update` on it; adding or removing a tag that a data policy selects on (`PII.*` and any tag a mask
policy names: it masks or unmasks a column for everyone) takes `govern`. Column tags a dataset
gets from its inputs along column-level lineage count as its own for masks and for what a
profile shows. Lineage shows a dataset or resource the caller may not see, and the job it was
made by, as hidden.
"""
from __future__ import annotations

from typing import Any, Iterator

from syscalls.errors import SyscallError

from .. import streams
from ..call import Call
from ..gateway.client import Rules
from ..poros.kinds import KINDS
from ..poros.store import object_path
from .model import RESOURCE, Ref, kind_of
from .service import check_quality_results


def _object(urn: str) -> tuple[str, str]:
    """(predicate to read it, Heimdall object) of a catalog entry."""
    if kind_of(urn) == RESOURCE:
        workspace, type_name, name = urn.removeprefix("resource://").split("/", 2)
        return "read", object_path(type_name, name, "" if workspace == "instance" else workspace)
    return "select", urn


def _can_see(call: Call, urn: str) -> bool:
    return call.allowed(*_object(urn))


def _visible(call: Call, ref: Ref) -> Ref:
    """The ref, if the caller may see it (else ENOENT, as if it were not there)."""
    if not _can_see(call, ref.urn):
        raise SyscallError("ENOENT", f"no catalog entry {ref.urn}")
    return ref


def _ref(text: str) -> Ref:
    ref = Ref.parse(text)
    parts = ref.urn.removeprefix("resource://").split("/", 2)
    resource = kind_of(ref.urn) == RESOURCE and len(parts) == 3 and all(parts) and parts[1] in KINDS
    if not (ref.urn.startswith("dataos://") or resource):
        raise SyscallError("EINVAL", f"{text!r} is not a dataset address (dataos://depot:collection/dataset"
                           f"[#column]) or a resource (resource://WORKSPACE/TYPE/NAME)", field="ref")
    return ref


def catalog_scan(call: Call, depot: str) -> Iterator[dict[str, Any]]:
    call.authorize("update", object_path("depot", depot, ""))
    return call.kernel.metis.scan(depot, call.caller.id, cancelled=streams.cancelled)


def catalog_get(call: Call, ref: str) -> dict[str, Any]:
    found = _visible(call, _ref(ref))
    entity = call.kernel.metis.entity(found)
    return as_seen(call, entity) if kind_of(found.urn) != RESOURCE else entity


def catalog_search(call: Call, text: str, tag: str | None, depot: str | None, type: str | None,
                   owner: str | None, tier: str | None, limit: int, offset: int) -> dict[str, Any]:
    facets = {k: v for k, v in {"tag": tag, "depot": depot, "type": type, "owner": owner, "tier": tier}.items()
              if v is not None}
    call.decisions += 1  # no gate: every result (and facet count) is filtered by `_can_see`, one by one
    return call.kernel.metis.search(text, facets, None, lambda urn: _can_see(call, urn), max(1, min(limit, 200)),
                                    max(0, offset))


def catalog_tag(call: Call, ref: str, tag: str, remove: bool) -> dict[str, Any]:
    found = _visible(call, _ref(ref))
    call.authorize("govern" if call.kernel.metis.governance.governs_tag(tag) else "update", found.urn)
    return as_seen(call, call.kernel.metis.tag(found, tag, remove, call.caller.id))


def catalog_describe(call: Call, ref: str, text: str) -> dict[str, Any]:
    found = _visible(call, _ref(ref))
    call.authorize("update", found.urn)
    return as_seen(call, call.kernel.metis.describe(found, text, call.caller.id))


def catalog_owner(call: Call, ref: str, user: str) -> dict[str, Any]:
    found = _visible(call, _ref(ref))
    call.authorize("update", found.urn)
    call.kernel.heimdall.identities.get_user(user)  # ENOENT for someone who does not exist
    return as_seen(call, call.kernel.metis.set_owner(found, user, call.caller.id))


def catalog_quality(call: Call, ref: str, results: list[dict[str, Any]]) -> dict[str, Any]:
    """Recording a check run takes `update` on the dataset, as describing it does. The runner's row
    filters on it are recorded with the run: its counts are of the rows the runner could see."""
    found = _visible(call, _ref(ref))
    call.authorize("update", found.urn)
    checked = check_quality_results(results)
    filtered = _governance(call, found.urn).filtered if kind_of(found.urn) != RESOURCE else []
    return as_seen(call, call.kernel.metis.record_quality(found, checked, call.caller.id, filtered))


def catalog_history(call: Call, ref: str) -> list[dict[str, Any]]:
    found = _visible(call, _ref(ref))
    return call.kernel.metis.history(found)


def catalog_lineage(call: Call, ref: str, direction: str, depth: int) -> dict[str, Any]:
    found = _visible(call, _ref(ref))
    graph = call.kernel.metis.lineage(found, direction in ("upstream", "both"), direction in ("downstream", "both"),
                                      max(1, min(depth, 10)), lambda urn: _can_see(call, urn))
    for edge in graph["edges"]:  # the job that made it: a resource like any other
        if edge.get("via") and edge["via"].startswith("resource://") and not _can_see(call, edge["via"]):
            edge["via"] = "(hidden)"
    return graph


def _governance(call: Call, urn: str, aspects: dict[str, Any] | None = None) -> Rules:
    """The masks and row filters the caller gets on a dataset (the Gateway's, asked through its client)."""
    if aspects is None:
        aspects = call.kernel.metis.entity(Ref(urn))["aspects"]
    columns = {c["name"]: c["type"] for c in (aspects.get("schema") or {}).get("columns", [])}
    metis = call.kernel.metis
    return metis.governance.rules(urn, columns, metis.column_tags(urn), call.caller.tags)


def as_seen(call: Call, entity: dict[str, Any]) -> dict[str, Any]:
    """A dataset's entry as this caller may see it (see the module docstring)."""
    if kind_of(entity["urn"]) == RESOURCE:
        return entity
    aspects = dict(entity["aspects"])
    rules = _governance(call, entity["urn"], aspects)
    masked = rules.masked
    profile = aspects.get("profile")
    if profile and rules.filtered:  # of rows the caller cannot see: nothing, not even counts
        aspects["profile"] = {"sampled": profile.get("sampled"), "sample_rows": None,
                              "columns": {column: {} for column in profile.get("columns", {})}}
    elif profile:
        aspects["profile"] = {**profile, "columns": {column: {} if column in masked else stats
                                                     for column, stats in profile.get("columns", {}).items()}}
    quality = aspects.get("quality")
    if quality and (rules.filtered or masked):
        # pass/fail shows; counts over rows the caller cannot see, or of a column masked for them, do not
        hidden = {c.lower() for c in masked}
        aspects["quality"] = {**quality, "results": [
            {**r, "failed_rows": None, "total_rows": None}
            if rules.filtered or hidden & {c.lower() for c in r.get("columns", [])} else r
            for r in quality["results"]]}
    if rules.filtered and aspects.get("properties"):
        aspects["properties"] = {**aspects["properties"], "rows": None, "bytes": None}
    return {**entity, "aspects": aspects, "masked": masked,
            "filtered": rules.filtered}


HANDLERS = {"catalog.scan": catalog_scan, "catalog.get": catalog_get, "catalog.search": catalog_search,
            "catalog.tag": catalog_tag, "catalog.describe": catalog_describe, "catalog.owner": catalog_owner,
            "catalog.quality": catalog_quality, "catalog.history": catalog_history,
            "catalog.lineage": catalog_lineage}
