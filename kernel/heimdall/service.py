"""Heimdall: authentication (API tokens) and the policy decision point."""
from __future__ import annotations

import threading
from typing import Any

from syscalls.errors import SyscallError

from ..store import Place
from .identity import Caller, Identities
from .policy import Decision, PolicyError, PolicyIndex, parse_access_policy
from .vault import REDACTED, Vault


class Heimdall:
    def __init__(self, place: Place) -> None:
        self.identities = Identities(place)
        self.policies = PolicyIndex()
        self.vault = Vault(place.directory / "vault.key")
        self._policy_lock = threading.Lock()  # the index is not safe to read while it changes

    def authenticate(self, token: str | None) -> Caller:
        return self.identities.authenticate(token)

    def decide(self, caller: Caller, predicate: str, obj: str, object_tags: frozenset[str] = frozenset()
               ) -> Decision:
        with self._policy_lock:
            return self.policies.decide(caller.tags, predicate, obj, object_tags, caller.id)

    # --- access policies, fed by Poros when policy resources are applied or deleted ----------

    @staticmethod
    def admit(manifest: dict[str, Any]) -> None:
        """Reject a policy manifest whose access section does not parse (EINVAL naming the field)."""
        access = manifest["policy"].get("access")
        if access is not None:
            try:
                parse_access_policy(manifest["name"], access)
            except PolicyError as e:
                raise SyscallError("EINVAL", f"{e.field}: {e.message}", field=e.field) from None

    def load(self, resource: dict[str, Any]) -> None:
        access = resource["policy"].get("access")
        policy = None if access is None else parse_access_policy(resource["name"], access)
        with self._policy_lock:
            self.policies.remove(resource["name"])
            if policy is not None:
                self.policies.put(policy)

    def trial(self, caller: Caller, manifests: dict[str, dict[str, Any]], checks: list[tuple[str, str]]
              ) -> tuple[str, str] | None:
        """With these policy manifests in force, would `caller` still be allowed every (predicate,
        object) in `checks`? Returns the first that would be denied; the index is left as it was."""
        trial = {name: parse_access_policy(name, m["policy"]["access"]) for name, m in manifests.items()}
        with self._policy_lock:
            saved = {name: self.policies.get(name) for name in trial}
            try:
                for policy in trial.values():
                    self.policies.remove(policy.name)
                    self.policies.put(policy)
                for predicate, obj in checks:
                    if not self.policies.decide(caller.tags, predicate, obj, frozenset(), caller.id).allow:
                        return predicate, obj
                return None
            finally:
                for name, old in saved.items():
                    self.policies.remove(name)
                    if old is not None:
                        self.policies.put(old)

    def unload(self, resource: dict[str, Any]) -> None:
        with self._policy_lock:
            self.policies.remove(resource["name"])

    # --- secrets ---------------------------------------------------------------------------

    def seal_secret(self, manifest: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        """The stored form of a secret: every value sealed; a value shown as <redacted> (a
        manifest fetched with `get -o yaml`) keeps the sealed value it stands for."""
        section = manifest[manifest["type"]]
        old = (current or {}).get(manifest["type"], {}).get("data", {})
        data = {}
        for key, value in section["data"].items():
            if value == REDACTED:
                if key not in old:
                    raise SyscallError("EINVAL", f"{manifest['type']}.data.{key}: {REDACTED} stands for a stored "
                                       "value, and this secret has none under that key", field=f"{manifest['type']}.data.{key}")
                data[key] = old[key]
            else:
                data[key] = self.vault.seal(str(value), *_context(manifest, key))
        return {**manifest, manifest["type"]: {**section, "data": data}}

    def open_secret(self, resource: dict[str, Any]) -> dict[str, str]:
        return {key: self.vault.unseal(value, *_context(resource, key))
                for key, value in resource[resource["type"]]["data"].items()}

    def close(self) -> None:
        self.identities.close()


def _context(resource: dict[str, Any], key: str) -> tuple[str, ...]:
    return resource["type"], resource.get("workspace", ""), resource["name"], key


def redact(resource: dict[str, Any]) -> dict[str, Any]:
    """A secret as anyone may see it: its keys, never its values (sealed or not)."""
    if resource.get("type") not in SECRET_TYPES or resource["type"] not in resource:
        return resource
    section = resource[resource["type"]]
    return {**resource, resource["type"]: {**section, "data": {k: REDACTED for k in section.get("data", {})}}}


SECRET_TYPES = ("secret", "instance-secret")
