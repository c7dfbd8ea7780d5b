"""Syscall handlers of the Gateway: query.execute, query.cancel, query.history."""
from __future__ import annotations

from typing import Any

from ..call import Call
from ..heimdall.identity import OPERATOR_ROLE
from .model import Dataset


def query_execute(call: Call, sql: str, dialect: str, limit: int, depot: str | None, collection: str | None,
                  timeout: float | None) -> dict[str, Any]:
    def can_select(dataset: Dataset) -> bool:
        return call.allowed("select", dataset.address)

    return call.kernel.gateway.execute(call.caller.id, call.caller.tags, can_select, sql, dialect, limit, depot,
                                       collection, timeout)


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


HANDLERS = {"query.execute": query_execute, "query.cancel": query_cancel, "query.history": query_history}
