"""Syscall handlers of the Gateway: query.execute, query.stream, query.cancel, query.history."""
from __future__ import annotations

from typing import Any, Iterator

from ..call import Call
from ..heimdall.identity import OPERATOR_ROLE
from ..minerva.clusters import Cluster
from .service import Caller


def _caller(call: Call) -> Caller:
    return Caller(call.caller.id, call.caller.tags, lambda dataset: call.allowed("select", dataset.address),
                  call.caller.key)


def _cluster(call: Call, name: str | None, workspace: str | None) -> Cluster:
    """The cluster to run on; running SQL there takes `execute` on it."""
    cluster = call.kernel.clusters.get(name, workspace)
    call.authorize("execute", cluster.path)
    return cluster


def query_execute(call: Call, sql: str, dialect: str, limit: int, depot: str | None, collection: str | None,
                  timeout: float | None, cluster: str | None, workspace: str | None, id: str | None) -> dict[str, Any]:
    return call.kernel.gateway.execute(_caller(call), sql, dialect, limit, depot, collection, timeout,
                                       _cluster(call, cluster, workspace), id)


def query_stream(call: Call, sql: str, dialect: str, limit: int, depot: str | None, collection: str | None,
                 timeout: float | None, cluster: str | None, workspace: str | None, id: str | None) -> Iterator[Any]:
    return call.kernel.gateway.stream(_caller(call), sql, dialect, limit, depot, collection, timeout,
                                      _cluster(call, cluster, workspace), id)


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
