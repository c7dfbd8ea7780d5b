"""Resource type names as people type them: singular, plural or short (kubectl habits)."""
from __future__ import annotations

SHORT_NAMES = {"workflow": "wf", "service": "svc", "worker": "wk", "cluster": "cl", "depot": "dp",
               "policy": "pol", "secret": "sec", "instance-secret": "isec", "compute": "cmp", "pod": "po"}
_LONG = {short: long for long, short in SHORT_NAMES.items()}


def plural(type_name: str) -> str:
    """`policy` → `policies`, `workflow` → `workflows`."""
    return type_name[:-1] + "ies" if type_name.endswith("y") else type_name + "s"


def singular(type_name: str) -> str:
    """`workflows` → `workflow`, `policies` → `policy`, `wf` → `workflow`: kubectl users type
    plurals and short names."""
    t = type_name.strip().lower()
    if t in _LONG:
        return _LONG[t]
    if t.endswith("ies"):
        return t[:-3] + "y"
    if t.endswith("s") and not t.endswith("ss"):
        return t[:-1]
    return t
