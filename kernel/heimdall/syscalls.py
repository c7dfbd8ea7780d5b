"""Syscall handlers of Heimdall: auth.*, user.*, policy.check."""
from __future__ import annotations

from typing import Any

from ..call import Call


def auth_whoami(call: Call) -> dict[str, Any]:
    return call.caller.identity()


def user_create(call: Call, name: str, type: str, tags: list[str], description: str) -> dict[str, Any]:
    return call.kernel.heimdall.identities.create_user(name, type, tags, description)


def user_get(call: Call, name: str) -> dict[str, Any]:
    return call.kernel.heimdall.identities.get_user(name)


def user_list(call: Call) -> list[dict[str, Any]]:
    users = call.kernel.heimdall.identities.list_users()
    return [u for u in users if call.allowed("read", f"/heimdall/users/{u['id']}")]


def user_update(call: Call, name: str, add_tags: list[str], remove_tags: list[str],
                description: str | None) -> dict[str, Any]:
    if add_tags or remove_tags:  # tags grant rights: a separate object from the profile
        call.authorize("update", f"/heimdall/users/{name}/tags")
    if description is not None or not (add_tags or remove_tags):
        call.authorize("update", f"/heimdall/users/{name}")
    return call.kernel.heimdall.identities.update_user(name, add_tags, remove_tags, description)


def user_delete(call: Call, name: str) -> dict[str, Any]:
    return call.kernel.heimdall.identities.delete_user(name)


def user_apikey_create(call: Call, user: str, name: str | None, expires: str | None) -> dict[str, Any]:
    return call.kernel.heimdall.identities.create_key(user, name, expires)


def user_apikey_list(call: Call, user: str) -> list[dict[str, Any]]:
    call.kernel.heimdall.identities.caller(user)
    return call.kernel.heimdall.identities.list_keys(user)


def user_apikey_delete(call: Call, user: str, name: str) -> dict[str, Any]:
    return call.kernel.heimdall.identities.delete_key(user, name)


def policy_check(call: Call, user: str, predicate: str, object: str, object_tags: list[str]) -> dict[str, Any]:
    heimdall = call.kernel.heimdall
    tags = frozenset(object_tags) or call.kernel.object_tags(object)
    decision = heimdall.decide(heimdall.identities.caller(user), predicate, object, tags)
    return {"allow": decision.allow, "policy": decision.policy, "reason": decision.reason}


HANDLERS = {
    "auth.whoami": auth_whoami,
    "user.create": user_create,
    "user.get": user_get,
    "user.list": user_list,
    "user.update": user_update,
    "user.delete": user_delete,
    "user.apikey.create": user_apikey_create,
    "user.apikey.list": user_apikey_list,
    "user.apikey.delete": user_apikey_delete,
    "policy.check": policy_check,
}
