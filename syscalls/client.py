"""The typed client: `client.user.create(name="ana")`, or `client.call("user.create", {...})`."""
from __future__ import annotations

import inspect
import os
from functools import cache
from typing import Any

from .contexts import Contexts
from .errors import SyscallError
from .spec import Syscall
from .table import TABLE, lookup
from .transports import Embedded, Http, Transport, UnixSocket


class Client:
    """A connection to one kernel as one user. Attribute access follows the syscall names."""

    def __init__(self, transport: Transport, token: str | None, context: str | None = None,
                 notices: list[str] | None = None) -> None:
        self.transport = transport
        self.token = token
        self.context = context
        self.notices = notices or []  # one-line messages for a front end to show (e.g. a restart)

    @property
    def url(self) -> str:
        return self.transport.url

    def call(self, name: str, request: dict[str, Any] | None = None) -> Any:
        """Run a syscall; a streaming one returns an iterator of its items."""
        spec = TABLE.get(name)
        if spec is not None and spec.stream:
            return self.transport.stream(name, request, self.token)
        return self.transport.call(name, request, self.token)

    def __getattr__(self, attr: str) -> "_Namespace":
        if attr.startswith("_"):
            raise AttributeError(attr)
        return _Namespace(self, attr)

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Namespace:
    def __init__(self, client: Client, prefix: str) -> None:
        self._client, self._prefix = client, prefix
        if prefix not in _prefixes():
            raise AttributeError(f"no syscalls under {prefix!r}")

    def __getattr__(self, attr: str) -> Any:
        name = f"{self._prefix}.{attr}"
        if name in TABLE:
            return _bind(self._client, TABLE[name])
        return _Namespace(self._client, name)


def _bind(client: Client, spec: Syscall):
    names = [f.name for f in spec.fields]

    def method(*args: Any, **kwargs: Any) -> Any:
        if len(args) > len(names):
            raise TypeError(f"{spec.name} takes at most {len(names)} positional arguments")
        return client.call(spec.name, {**dict(zip(names, args)), **kwargs})

    method.__name__ = spec.name.replace(".", "_")
    method.__doc__ = spec.summary
    method.__signature__ = _signature(spec.name)  # type: ignore[attr-defined]
    return method


@cache
def _prefixes() -> frozenset[str]:
    """Every dotted prefix of a syscall's name ("query" of "query.execute")."""
    return frozenset(name.rsplit(".", i)[0] for name in TABLE for i in range(1, name.count(".") + 1))


@cache
def _signature(name: str) -> inspect.Signature:
    spec = TABLE[name]
    return inspect.Signature(
        [inspect.Parameter(f.name, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                           default=inspect.Parameter.empty if f.required else f.default, annotation=f.annotation)
         for f in spec.fields], return_annotation=spec.response)


def connect(url: str | None = None, token: str | None = None) -> Client:
    """A client for `url`, or for the current context (its URL and stored credential)."""
    contexts = None
    context = None
    url = url or os.environ.get("DATAOS_URL")  # set for pods, so a job's syscalls reach its kernel
    if url is None:
        contexts = Contexts()
        ctx = contexts.get()
        url, context = ctx.url, ctx.name
    notices: list[str] = []
    if url.startswith("embedded://"):
        transport: Transport = Embedded(url.removeprefix("embedded://"))
        token = token or _env_token() or transport.session_token()
    elif url.startswith("local://"):
        from .daemon import LocalKernel
        contexts = contexts or Contexts()
        local = LocalKernel(contexts.locations)
        transport = local.ensure(notices)
        context = context or "local"
        handed = local.take_handoff_token()  # a new kernel's operator token: store it at once
        if handed is not None:
            notice = contexts.save_token(context, handed)
            if notice:
                notices.append(notice)
        token = token or contexts.token(context)
    elif url.startswith("unix://"):
        transport = UnixSocket(url.removeprefix("unix://"))
    elif url.startswith(("http://", "https://")):
        transport = Http(url)
    else:
        raise SyscallError("EINVAL", f"unsupported kernel URL {url!r} (local://, embedded://DIR, unix://PATH, "
                           "http(s)://HOST)")
    if token is None and context is not None and not url.startswith("local://"):
        token = (contexts or Contexts()).token(context)
    return Client(transport, token or _env_token(), context, notices)


def _env_token() -> str | None:
    return os.environ.get("DATAOS_TOKEN") or None


__all__ = ["Client", "connect", "lookup"]
