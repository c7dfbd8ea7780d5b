"""Syscall handlers of the Gateway: query.execute, query.stream, query.cancel, query.history."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from syscalls.errors import SyscallError

from ..call import Call
from ..heimdall.identity import OPERATOR_ROLE
from ..heimdall.policy import Decision
from ..minerva.clusters import Cluster
from .model import Dataset
from .service import Caller


def _caller(call: Call, denied: list[tuple[Decision, str]]) -> Caller:
    """The query's caller; each `select` it is denied goes to `denied`."""
    def can_select(dataset: Dataset) -> bool:
        decision = call.decide("select", dataset.address)
        if not decision.allow:
            denied.append((decision, dataset.address))
        return decision.allow
    def may_list(dataset: Dataset) -> bool:
        return call.decide("select", dataset.address).allow

    return Caller(call.caller.id, call.caller.tags, can_select, may_list, call.caller.key)


@contextmanager
def _audited(call: Call) -> Iterator[list[tuple[Decision, str]]]:
    """A dataset the caller may not select is answered as unknown (ENOENT); the audit still shows
    the denial of the relation refused."""
    denied: list[tuple[Decision, str]] = []
    try:
        yield denied
    except SyscallError as e:
        if e.code == "ENOENT" and denied:
            call.hide(*denied[0])
        raise


def _cluster(call: Call, name: str | None, workspace: str | None) -> Cluster:
    """The cluster to run on; running SQL there takes `execute` on it."""
    cluster = call.kernel.clusters.get(name, workspace)
    call.authorize("execute", cluster.path)
    return cluster


def query_execute(call: Call, sql: str, dialect: str, limit: int, depot: str | None, collection: str | None,
                  timeout: float | None, cluster: str | None, workspace: str | None, id: str | None) -> dict[str, Any]:
    where = _cluster(call, cluster, workspace)
    with _audited(call) as denied:
        return call.kernel.gateway.execute(_caller(call, denied), sql, dialect, limit, depot, collection, timeout,
                                           where, id)


def query_stream(call: Call, sql: str, dialect: str, limit: int, depot: str | None, collection: str | None,
                 timeout: float | None, cluster: str | None, workspace: str | None, id: str | None) -> Iterator[Any]:
    where = _cluster(call, cluster, workspace)
    with _audited(call) as denied:
        return call.kernel.gateway.stream(_caller(call, denied), sql, dialect, limit, depot, collection, timeout,
                                          where, id)


def query_list(call: Call) -> list[dict[str, Any]]:
    """Your running queries; everyone's with read on /gateway/history."""
    everyone = call.allowed("read", "/gateway/history")
    return [q for q in call.kernel.gateway.running_queries() if everyone or q["user"] == call.caller.id]


def query_cancel(call: Call, id: str) -> dict[str, Any]:
    """Your own query; anyone's as an operator."""
    return call.kernel.gateway.cancel(id, call.caller.id, OPERATOR_ROLE in call.caller.tags)


def query_history(call: Call, limit: int, user: str | None) -> list[dict[str, Any]]:
    """Everyone sees their own queries (the default without read on /gateway/history); asking
    for someone else's, or everyone's, needs that read."""
    if user is None and not call.allowed("read", "/gateway/history"):
        user = call.caller.id
    elif user is not None and user != call.caller.id:
        call.authorize("read", "/gateway/history")
    return call.kernel.gateway.history(limit, user)


HANDLERS = {"query.execute": query_execute, "query.stream": query_stream, "query.cancel": query_cancel,
            "query.list": query_list,
            "query.history": query_history}
