"""The system layer: the syscall table, its errno codes, transports and the client API.

    from syscalls import connect
    with connect() as dataos:              # the current context (local kernel by default)
        print(dataos.auth.whoami())
        dataos.resource.apply(manifests=[...])

`connect(url)` takes `local://` (the local kernel daemon, started on demand),
`embedded://DIR` (a kernel inside this process), `unix://SOCKET`, or `http(s)://HOST`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import SyscallError

__version__ = "0.2.0"  # the wire: streams end with a marker (a 0.1 client would take them as cut)

if TYPE_CHECKING:
    from .client import Client


def connect(url: str | None = None, token: str | None = None) -> "Client":
    """A client for the kernel at `url` (default: the current context) as the holder of `token`."""
    from .client import connect as _connect
    return _connect(url, token)


__all__ = ["connect", "SyscallError", "__version__"]
