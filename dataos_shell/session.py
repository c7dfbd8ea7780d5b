"""The kernel connection of one CLI process (or shell session), opened on first use."""
from __future__ import annotations

from typing import TYPE_CHECKING

from userlib.output import notice

if TYPE_CHECKING:
    from syscalls.client import Client

_client: "Client | None" = None
auto_demo = True  # a new local kernel's first start installs the demo (`dataos demo …` turns this off)


def client() -> "Client":
    global _client
    if _client is None:
        from syscalls import connect
        from . import demo
        first = auto_demo and demo.pending()
        _client = connect()
        for line in _client.notices:
            notice(line)
        if first:
            demo.first_start(_client, "local://")
    return _client


def close() -> None:
    global _client
    if _client is not None:
        _client.close()
        _client = None


def prog() -> str:
    """How the user runs dataos, for the commands hints suggest: `./dataos` from a clone (that
    script says so in DATAOS_PROG), else `dataos`."""
    import os
    return os.environ.get("DATAOS_PROG", "dataos")
