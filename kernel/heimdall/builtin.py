"""Built-in access policies: applied on first start, visible like any other, never deletable."""
from __future__ import annotations

from .identity import OPERATOR_ROLE


def _policy(name: str, description: str, subjects: list[list[str]], predicates: list[str],
            paths: list[str]) -> dict:
    return {
        "name": name, "version": "v1", "type": "policy", "description": description, "layer": "system",
        "policy": {"access": {"subjects": {"tags": subjects}, "predicates": predicates,
                              "objects": {"paths": paths}, "allow": True}},
    }


BUILTIN_POLICIES = [
    _policy("operator-full-access", "Operators may do everything.", [[OPERATOR_ROLE]], ["*"], ["**"]),
    _policy("self-read", "Every user may read their own identity and the resource type catalog.",
            [["users:id:*"]], ["read"], ["/heimdall/users/${user}", "/poros/types"]),
    _policy("query-submit", "Every user may submit SQL on the default cluster; each dataset it reads still "
            "needs `select`.", [["users:id:*"]], ["execute"],
            ["/gateway/queries", "/poros/workspaces/public/cluster/default"]),
]
