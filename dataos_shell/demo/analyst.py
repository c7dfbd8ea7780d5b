"""The demo's `analyst` user, its API key, and the `demo-analyst` context that holds the key."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from syscalls.contexts import Contexts
from syscalls.errors import SyscallError

if TYPE_CHECKING:
    from syscalls.client import Client

USER = "analyst"
ROLE = "roles:id:analyst"
KEY = "demo-analyst"
CONTEXT = "demo-analyst"
DESCRIPTION = "The demo lakehouse's analyst: masked emails, EU rows only (`dataos demo uninstall` removes it)."


def ensure(c: "Client", url: str, say: Callable[[str], None]) -> list[str]:
    """Create the user if absent, and a key stored for the context unless its key still works."""
    lines = []
    if _user(c) is None:
        c.user.create(name=USER, type="person", tags=[ROLE], description=DESCRIPTION)
        lines.append(f"user/{USER} created")
    else:
        lines.append(f"user/{USER} unchanged")
    contexts = Contexts()
    url_now = _context_url(contexts)
    if url_now == url and _works(c, contexts.token(CONTEXT)):
        return [*lines, f"context/{CONTEXT} unchanged"]
    if url_now is not None:
        _drop_context(contexts)
    contexts.add(CONTEXT, url)
    if any(key["name"] == KEY for key in c.user.apikey.list(user=USER)):
        c.user.apikey.delete(user=USER, name=KEY)
    message = contexts.save_token(CONTEXT, c.user.apikey.create(user=USER, name=KEY)["token"])
    if message:
        say(message)
    return [*lines, f"context/{CONTEXT} created"]


def state(c: "Client") -> dict[str, Any]:
    """{user: exists, demo: created by the demo, context: its URL or None, token: it works}."""
    user = _user(c)
    contexts = Contexts()
    url = _context_url(contexts)
    return {"user": user is not None, "demo": user is not None and user["description"] == DESCRIPTION,
            "context": url, "token": url is not None and _works(c, contexts.token(CONTEXT))}


def remove(c: "Client") -> list[str]:
    """Delete the user (when the demo created it) and the context with its stored token."""
    lines = []
    user = _user(c)
    if user is not None and user["description"] == DESCRIPTION:
        c.user.delete(name=USER)
        lines.append(f"user/{USER} deleted")
    contexts = Contexts()
    if _context_url(contexts) is not None:
        _drop_context(contexts)
        lines.append(f"context/{CONTEXT} deleted")
    return lines


def _user(c: "Client") -> dict | None:
    try:
        return c.user.get(name=USER)
    except SyscallError as e:
        if e.code != "ENOENT":
            raise
        return None


def _works(c: "Client", token: str | None) -> bool:
    """Does `token` authenticate as the analyst on the operator's kernel?"""
    if not token:
        return False
    from syscalls.client import Client
    try:
        return Client(c.transport, token).auth.whoami()["id"] == USER
    except SyscallError as e:
        if e.code != "EAUTH":
            raise
        return False


def _context_url(contexts: Contexts) -> str | None:
    return next((ctx.url for ctx in contexts.list() if ctx.name == CONTEXT), None)


def _drop_context(contexts: Contexts) -> None:
    """Forget the context and its token (`local` becomes current if it was)."""
    contexts.remove(CONTEXT)
