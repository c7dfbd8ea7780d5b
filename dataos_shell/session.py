"""The kernel connection of one CLI process (or shell session), opened on first use."""
from __future__ import annotations

from typing import TYPE_CHECKING

from .output import notice

if TYPE_CHECKING:
    from syscalls.client import Client

_client: "Client | None" = None


def client() -> "Client":
    global _client
    if _client is None:
        from syscalls import connect
        _client = connect()
        for line in _client.notices:
            notice(line)
    return _client


def close() -> None:
    global _client
    if _client is not None:
        _client.close()
        _client = None
