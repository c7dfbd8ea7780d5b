"""The Metis service: what other services and the `catalog.*` syscalls call.

It owns the catalog database (`store.Catalog`); the Gateway reads column tags here (cached in
memory), Poros tells it about resources, the sql stack's specs give lineage, and query history
gives usage and the lineage of jobs that write datasets.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from typing import Any, Callable, Iterator

from syscalls.errors import SyscallError

from ..depot import Address
from ..depot.registry import Depots
from ..faults import Outage
from ..gateway.client import Governance
from ..store import Place, now
from .model import DATASET, Ref, kind_of, resource_urn
from .store import Catalog

log = logging.getLogger("dataos.metis")
TAG_PATTERN = r"[A-Za-z][A-Za-z0-9_\-]*(\.[A-Za-z0-9_\-]+)*"
USAGE_FLUSH = 5.0  # seconds between writes of usage counts


class Metis:
    def __init__(self, place: Place, depots: Depots) -> None:
        self.catalog = Catalog(place)
        self.depots = depots
        # the Gateway, through its client (set once it exists): which column tags drive data
        # policies (those follow lineage), and what a caller gets on a dataset
        self.governance: Governance | None = None
        self._tags: dict[str, dict[str, frozenset[str]]] = {}
        self._running: dict[str, threading.Lock] = {}  # depot -> held while it is scanned
        self._scanning: dict[str, threading.Event] = {}  # depot -> cancel its scan
        self._queued: set[str] = set()  # depots a background scan will start on
        self._background: list[threading.Thread] = []
        self._closed = False
        self._workflows: dict[str, dict[str, Any]] = {}  # urn -> workflows with sql jobs (for lineage)
        self._lock = threading.Lock()
        self._usage: Counter[str] = Counter()
        self._usage_flushed = time.monotonic()
        self._usage_outage = Outage(log, "metis: writing usage counts")
        self.catalog.db.on_change(self.policies_changed)  # tags another replica changed: masks follow
        self._tags_version = self.catalog.db.version()

    # --- governance: the Gateway asks ---------------------------------------------------------

    def column_tags(self, urn: str) -> dict[str, frozenset[str]]:
        """A dataset's column tags, its own and those propagated to it (what drives masks), from memory
        (dropped when the catalog was written since: by another replica a moment ago, perhaps)."""
        version = self.catalog.db.version()
        if version != self._tags_version:
            self._tags.clear()
            self._tags_version = version
        cached = self._tags.get(urn)
        if cached is None:
            tags = {c: set(t) for c, t in ((self.catalog.aspect(urn, "tags") or {}).get("columns", {})).items()}
            for column, found in self.propagated(urn).items():
                tags.setdefault(column, set()).update(found)
            cached = self._tags[urn] = {c: frozenset(t) for c, t in tags.items()}
        return cached

    def datasets(self) -> list[str]:
        """The addresses of the datasets in the catalog."""
        return self.catalog.urns("dataos://", DATASET)

    def propagated(self, urn: str, _seen: frozenset[str] = frozenset()) -> dict[str, dict[str, str]]:
        """{column: {tag: "source-urn#column"}}: the policy-driving tags of the input columns each
        column of `urn` is computed from (column-level lineage of sql jobs), transitively — so a mask
        follows the data into what is derived from it."""
        out: dict[str, dict[str, str]] = {}
        if urn in _seen or len(_seen) > 32:
            return out
        for upstream in (self.catalog.aspect(urn, "lineage") or {}).get("upstream", []):
            for column, sources in (upstream.get("columns") or {}).items():
                for source_urn, source_column in sources:
                    own = (self.catalog.aspect(source_urn, "tags") or {}).get("columns", {})
                    found = {t: f"{source_urn}#{source_column}" for c, ts in own.items()
                             if c.lower() == source_column.lower() for t in ts}
                    for c, tags in self.propagated(source_urn, _seen | {urn}).items():
                        if c.lower() == source_column.lower():
                            found = {**tags, **found}
                    for tag, origin in found.items():
                        if self.governance is not None and self.governance.governs_tag(tag):
                            out.setdefault(column, {}).setdefault(tag, origin)
        return out

    def policies_changed(self) -> None:
        """Data policies or tags changed: the column tags that drive masks are read again."""
        self._tags.clear()

    # --- scans --------------------------------------------------------------------------------

    def scan(self, depot: str, by: str, cancelled: Callable[[], bool] = lambda: False) -> Iterator[dict[str, Any]]:
        """Scan one depot (only what changed since its last scan); progress dicts as it goes.
        One scan per depot at a time: a second waits for the first (then finds little to do).
        An unreachable source fails with EUNAVAIL and keeps the last good metadata."""
        from .scan import Progress, Scanned, scan_depot
        driver = self.depots.get(depot)
        with self._lock:
            running = self._running.setdefault(depot, threading.Lock())
        while not running.acquire(timeout=0.2):
            if cancelled() or self._closed:
                raise SyscallError("ECANCELED", f"the scan of {depot!r} was cancelled")
        stop = threading.Event()
        if self._closed:
            stop.set()
        self._scanning[depot] = stop
        try:
            known = {}  # what earlier scans found (an entry known only from lineage is not the scan's)
            for urn in self.catalog.urns(f"dataos://{depot}:", DATASET):
                properties = self.catalog.aspect(urn, "properties")
                if properties is not None:
                    known[urn] = properties.get("fingerprint", "")
            for item in scan_depot(depot, driver, known, cancelled=lambda: cancelled() or stop.is_set()):
                if isinstance(item, Scanned):
                    self.catalog.put_many(item.urn, item.aspects, by)
                    continue
                if isinstance(item, Progress) and item.state == "done":
                    for urn in set(known) - item.seen if item.seen is not None else ():
                        self.catalog.delete(urn, by)
                    self._relineage(depot)
                yield _progress(item)
        finally:
            self._scanning.pop(depot, None)
            running.release()

    def scan_later(self, depot: str, by: str) -> None:
        """Scan in the background (a depot just applied, a dataset just written); requests that
        arrive while one is queued are one scan. Failures are logged."""
        with self._lock:
            if depot in self._queued:
                return
            self._queued.add(depot)

        def run() -> None:
            with self._lock:
                self._queued.discard(depot)  # a change from now on queues another scan
            try:
                for _ in self.scan(depot, by):
                    pass
            except SyscallError as e:
                log.warning("scan of depot %s: %s", depot, e)
            except Exception:
                log.exception("scan of depot %s failed", depot)

        thread = threading.Thread(target=run, name=f"scan-{depot}", daemon=True)
        with self._lock:
            self._background = [t for t in self._background if t.is_alive()] + [thread]
        thread.start()

    def forget_depot(self, depot: str, by: str) -> None:
        stop = self._scanning.get(depot)
        if stop is not None:
            stop.set()
        for urn in self.catalog.urns(f"dataos://{depot}:", DATASET):
            self.catalog.delete(urn, by)
            self._tags.pop(urn, None)

    # --- edits --------------------------------------------------------------------------------

    def tag(self, ref: Ref, tag: str, remove: bool, by: str) -> dict[str, Any]:
        import re
        if not re.fullmatch(TAG_PATTERN, tag):
            raise SyscallError("EINVAL", f"{tag!r} is not a tag such as PII.Email or Tier.Gold", field="tag")
        entity = self.entity(ref)
        tags = entity["aspects"].get("tags") or {"dataset": [], "columns": {}}
        tags = {"dataset": list(tags.get("dataset", [])), "columns": {k: list(v) for k, v in
                                                                      tags.get("columns", {}).items()}}
        current = tags["columns"].setdefault(ref.column, []) if ref.column else tags["dataset"]
        if remove:
            if tag not in current:
                raise SyscallError("ENOENT", f"{_show(ref)} has no tag {tag!r}")
            current.remove(tag)
        elif tag not in current:
            current.append(tag)
        tags["columns"] = {c: sorted(t) for c, t in tags["columns"].items() if t}
        tags["dataset"] = sorted(tags["dataset"])
        self.catalog.put(ref.urn, "tags", tags, by)
        self._tags.clear()  # what it propagates to changes too
        return self.entity(ref)

    def describe(self, ref: Ref, text: str, by: str) -> dict[str, Any]:
        entity = self.entity(ref)
        description = dict(entity["aspects"].get("description") or {"dataset": "", "columns": {}})
        if ref.column:
            description["columns"] = {**description.get("columns", {}), ref.column: text}
        else:
            description["dataset"] = text
        self.catalog.put(ref.urn, "description", description, by)
        return self.entity(ref)

    def set_owner(self, ref: Ref, user: str, by: str) -> dict[str, Any]:
        if ref.column:
            raise SyscallError("EINVAL", "a column has no owner of its own: name the dataset", field="ref")
        self.entity(ref)
        self.catalog.put(ref.urn, "ownership", {"owner": user}, by)
        return self.entity(ref)

    def record_quality(self, ref: Ref, results: list[dict[str, Any]], by: str,
                       filtered: list[str]) -> dict[str, Any]:
        """Record a data quality check run (results already checked by `check_quality_results`) as a
        new version of the dataset's `quality` aspect; `filtered` names the row filters the runner's
        rows went through (their counts are of those rows only)."""
        if ref.column:
            raise SyscallError("EINVAL", "quality is recorded for a dataset: name the dataset, not a column",
                               field="ref")
        if kind_of(ref.urn) != DATASET:
            raise SyscallError("EINVAL", f"{ref.urn} is not a dataset: quality is recorded for datasets",
                               field="ref")
        schema = [c["name"] for c in (self.entity(ref)["aspects"].get("schema") or {}).get("columns", [])]
        known = {name.lower(): name for name in schema}
        for i, result in enumerate(results):
            for column in result["columns"]:
                if schema and column.lower() not in known:
                    raise SyscallError("EINVAL", f"catalog.quality: results[{i}].columns: {ref.urn} has no column "
                                       f"{column!r} (columns: {', '.join(schema)})", field=f"results[{i}].columns")
            result["columns"] = [known.get(c.lower(), c) for c in result["columns"]]
        passed = sum(1 for r in results if r["passed"])
        self.catalog.put(ref.urn, "quality", {
            "time": now(), "by": by, "passed": passed, "failed": len(results) - passed, "filtered": filtered,
            "results": results}, by)
        return self.entity(ref)

    # --- reads --------------------------------------------------------------------------------

    def entity(self, ref: Ref) -> dict[str, Any]:
        """The entity `ref` names (ENOENT if unknown; EINVAL naming the columns for a missing column)."""
        found = self.catalog.get(ref.urn)
        if found is None:
            hint = ""
            if kind_of(ref.urn) == DATASET:
                try:
                    hint = f" (not scanned yet? `dataos catalog scan {Address.parse(ref.urn).depot}`)"
                except SyscallError:
                    hint = " (a dataset is dataos://depot:collection/dataset)"
            raise SyscallError("ENOENT", f"no catalog entry {ref.urn}{hint}")
        if ref.column is not None:
            columns = [c["name"] for c in (found["aspects"].get("schema") or {}).get("columns", [])]
            if ref.column not in columns:
                raise SyscallError("EINVAL", f"{ref.urn} has no column {ref.column!r} (columns: "
                                   f"{', '.join(columns) or 'none known'})", field="ref")
        propagated = self.propagated(ref.urn) if kind_of(ref.urn) == DATASET else {}
        if propagated:
            tags = found["aspects"].get("tags") or {"dataset": [], "columns": {}}
            found["aspects"]["tags"] = {**tags, "propagated": propagated}
        return found

    def history(self, ref: Ref) -> list[dict[str, Any]]:
        """What changed, oldest first (usage counts are not changes)."""
        self.entity(ref)
        return [h for h in self.catalog.history(ref.urn) if h["aspect"] != "usage"]

    def lineage(self, ref: Ref, upstream: bool, downstream: bool, depth: int,
                allowed: Callable[[str], bool]) -> dict[str, Any]:
        """The lineage graph around an entity: nodes (urns, the hidden ones as `hidden`) and edges."""
        self.entity(ref)
        edges: list[dict[str, Any]] = []
        seen = {ref.urn}
        frontier = [ref.urn]
        for _ in range(max(0, depth)):
            following: list[str] = []
            for urn in frontier:
                found: list[dict[str, Any]] = []
                if upstream:
                    found += [{"from": u["urn"], "to": urn, "via": u.get("via"), "columns": u.get("columns", {})}
                              for u in (self.catalog.aspect(urn, "lineage") or {}).get("upstream", [])]
                if downstream:
                    found += [{"from": urn, "to": d, "via": u.get("via"), "columns": u.get("columns", {})}
                              for d, u in self._downstream(urn)]
                for edge in found:
                    if edge not in edges:
                        edges.append(edge)
                    for end in (edge["from"], edge["to"]):
                        if end not in seen:
                            seen.add(end)
                            following.append(end)
            frontier = following
        hidden = {u for u in seen if not allowed(u)}
        shown = [{**e, "from": _hide(e["from"], hidden), "to": _hide(e["to"], hidden),
                  "columns": {} if hidden & {e["from"], e["to"]} else e["columns"]} for e in edges]
        return {"urn": ref.urn, "nodes": sorted(_hide(u, hidden) for u in seen), "edges": shown}

    def _downstream(self, urn: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for other in self.catalog.urns("dataos://", DATASET):
            for u in (self.catalog.aspect(other, "lineage") or {}).get("upstream", []):
                if u["urn"] == urn:
                    yield other, u

    def search(self, text: str, facets: dict[str, str], kind: str | None, allowed: Callable[[str], bool],
               limit: int, offset: int) -> dict[str, Any]:
        self.flush_usage()
        return self.catalog.search(text, facets=facets, kind=kind, allowed=allowed, limit=limit, offset=offset)

    # --- what other services report -----------------------------------------------------------

    def resource_applied(self, resource: dict[str, Any]) -> None:
        status = resource.get("status") or {}
        self.catalog.put(resource_urn(resource["type"], resource["name"], resource.get("workspace")), "resource", {
            "type": resource["type"], "workspace": resource.get("workspace"), "name": resource["name"],
            "owner": resource.get("owner"), "tags": resource.get("tags", []),
            "description": resource.get("description", ""), "generation": status.get("generation")},
            resource.get("owner") or "system")
        if resource["type"] == "workflow":
            self.track(resource)

    def catch_up(self, resources: list[dict[str, Any]]) -> None:
        """At start: the catalog's resource entries and depots in step with Poros, whatever an
        apply or delete did not write here (a full disk) or a crash cut short."""
        live = {resource_urn(r["type"], r["name"], r.get("workspace")): r for r in resources}
        for urn in self.catalog.urns("resource://"):
            if urn not in live:
                self.catalog.delete(urn, "system")
        for urn, resource in live.items():
            known = self.catalog.aspect(urn, "resource") or {}
            if known.get("generation") != resource["status"].get("generation"):
                self.resource_applied(resource)
        depots = {r["name"] for r in resources if r["type"] == "depot"}
        for depot in {Address.parse(urn).depot for urn in self.catalog.urns("dataos://", DATASET)} - depots:
            self.forget_depot(depot, "system")

    def track(self, workflow: dict[str, Any]) -> None:
        """Remember a workflow's sql jobs (their lineage is redone when their inputs are rescanned)."""
        urn = resource_urn("workflow", workflow["name"], workflow.get("workspace"))
        if any(job["spec"].get("stack") == "sql" for job in workflow["workflow"]["dag"]):
            self._workflows[urn] = workflow
            self._lineage_of_workflow(workflow)
        else:
            self._workflows.pop(urn, None)

    def untrack(self, workflow: dict[str, Any]) -> None:
        """Forget a deleted workflow's jobs."""
        self._workflows.pop(resource_urn("workflow", workflow["name"], workflow.get("workspace")), None)

    def _relineage(self, depot: str) -> None:
        """A depot was scanned: schemas are known now, so lineage of jobs reading it gets columns."""
        for workflow in list(self._workflows.values()):
            if f"dataos://{depot}:" in str(workflow["workflow"]["dag"]):
                self._lineage_of_workflow(workflow)

    def resource_deleted(self, resource: dict[str, Any]) -> None:
        self.catalog.delete(resource_urn(resource["type"], resource["name"], resource.get("workspace")),
                            resource.get("owner") or "system")

    def written(self, urn: str, by: str, reads: list[str]) -> None:
        """A job wrote a dataset after reading others through the Gateway: dataset-level lineage
        (unless its spec gave column-level lineage already), and a rescan of its depot."""
        current = (self.catalog.aspect(urn, "lineage") or {}).get("upstream", [])
        known = {u["urn"] for u in current}
        added = [{"urn": r, "via": f"history:{by}", "columns": {}} for r in reads if r != urn and r not in known]
        if added:
            self.catalog.put(urn, "lineage", {"upstream": current + added}, by)
            self._tags.clear()
        self.scan_later(Address.parse(urn).depot, by)

    def used(self, urns: list[str]) -> None:
        """Queries read these datasets (counted in memory, written now and then: a search boost)."""
        with self._lock:
            self._usage.update(urns)
        if time.monotonic() - self._usage_flushed > USAGE_FLUSH:
            self.flush_usage()

    def flush_usage(self) -> None:
        """Write the counts; what cannot be written now (a full disk) is kept for the next time."""
        with self._lock:
            counts, self._usage = self._usage, Counter()
            self._usage_flushed = time.monotonic()
        try:
            for urn, n in list(counts.items()):
                self.catalog.count_usage(urn, n, "gateway")
                del counts[urn]
        except Exception as e:  # a search boost is never a reason to fail a query or a search
            with self._lock:
                self._usage.update(counts)
            self._usage_outage.failed(e)
        else:
            self._usage_outage.resumed()

    def _lineage_of_workflow(self, resource: dict[str, Any]) -> None:
        from .lineage import sql_stack_lineage
        via = resource_urn("workflow", resource["name"], resource.get("workspace"))
        for job in resource["workflow"]["dag"]:
            spec = job["spec"]
            if spec.get("stack") != "sql":
                continue
            try:
                graph = sql_stack_lineage(spec["stackSpec"], self._columns, via)
            except Exception:  # lineage is a help, never a reason to refuse a workflow
                log.exception("lineage of %s failed", via)
                continue
            for output, lineage in graph.items():
                others = [u for u in (self.catalog.aspect(output, "lineage") or {}).get("upstream", [])
                          if u.get("via") != via]
                self.catalog.put(output, "lineage", {"upstream": others + lineage["upstream"]},
                                 resource.get("owner") or "system")
            self._tags.clear()  # tags propagate along the new lineage

    def _columns(self, urn: str) -> list[str] | None:
        schema = self.catalog.aspect(urn, "schema")
        return [c["name"] for c in schema["columns"]] if schema else None

    def close(self) -> None:
        self._closed = True
        for stop in list(self._scanning.values()):
            stop.set()
        with self._lock:
            threads = list(self._background)
        for thread in threads:
            thread.join(timeout=10)
        self.flush_usage()
        self.catalog.close()


QUALITY_RESULTS = 500  # rules in one recorded run, at most
_RESULT_FIELDS = {"rule": str, "passed": bool, "failed_rows": int, "total_rows": int, "detail": str}


def check_quality_results(results: Any) -> list[dict[str, Any]]:
    """A check run's results as stored, or EINVAL naming the field: a non-empty list of
    {rule, passed, failed_rows, total_rows, detail[, columns]}."""
    def bad(where: str, problem: str) -> SyscallError:
        return SyscallError("EINVAL", f"catalog.quality: {where} {problem}", field=where)

    if not isinstance(results, list) or not results:
        raise bad("results", "must be a non-empty list of rule results")
    if len(results) > QUALITY_RESULTS:
        raise bad("results", f"has {len(results)} items; at most {QUALITY_RESULTS}")
    out = []
    for i, item in enumerate(results):
        at = f"results[{i}]"
        if not isinstance(item, dict):
            raise bad(at, "must be an object {rule, passed, failed_rows, total_rows, detail}")
        unknown = sorted(set(item) - set(_RESULT_FIELDS) - {"columns"})
        if unknown:
            raise bad(f"{at}.{unknown[0]}", f"is not a field (expected: {', '.join(_RESULT_FIELDS)}, columns)")
        for name, kind in _RESULT_FIELDS.items():
            value = item.get(name)
            if name not in item:
                raise bad(f"{at}.{name}", "is missing")
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise bad(f"{at}.{name}", f"must be {'an integer' if kind is int else 'true or false' if kind is bool else 'a string'}")
            if kind is int and value < 0:
                raise bad(f"{at}.{name}", f"must not be negative, got {value}")
        if not item["rule"].strip() or len(item["rule"]) > 1000:
            raise bad(f"{at}.rule", "must be 1 to 1000 characters")
        if len(item["detail"]) > 2000:
            raise bad(f"{at}.detail", "must be at most 2000 characters")
        columns = item.get("columns", [])
        if not isinstance(columns, list) or not all(isinstance(c, str) and c for c in columns) or len(columns) > 100:
            raise bad(f"{at}.columns", "must be a list of column names")
        out.append({**{name: item[name] for name in _RESULT_FIELDS}, "columns": list(columns)})
    return out


def _progress(item: Any) -> dict[str, Any]:
    return {"depot": item.depot, "done": item.done, "total": item.total, "dataset": item.dataset,
            "state": item.state, "error": item.error}


def _hide(urn: str, hidden: set[str]) -> str:
    return "(hidden)" if urn in hidden else urn


def _show(ref: Ref) -> str:
    return f"{ref.urn}#{ref.column}" if ref.column else ref.urn
