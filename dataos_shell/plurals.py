"""Resource type names as people type them."""
from __future__ import annotations


def singular(type_name: str) -> str:
    """`workflows` → `workflow`, `policies` → `policy`: kubectl users type plurals."""
    t = type_name.strip().lower()
    if t.endswith("ies"):
        return t[:-3] + "y"
    if t.endswith("s") and not t.endswith("ss"):
        return t[:-1]
    return t
