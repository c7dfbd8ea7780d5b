"""The secrets a manifest names: workloads' `dataosSecrets`, depots' `secrets`."""
from __future__ import annotations

from typing import Any


def secret_refs(manifest: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(field, reference) of every `dataosSecrets` entry of a workload manifest."""
    section = manifest.get(manifest["type"], {})
    if manifest["type"] == "depot":  # a depot's credentials: instance-secrets
        return [(f"depot.secrets[{j}]", {**ref, "instance": True}) for j, ref in enumerate(section.get("secrets") or [])]
    if manifest["type"] == "workflow":
        specs = [(f"workflow.dag[{i}].spec", job["spec"]) for i, job in enumerate(section.get("dag", []))]
    else:
        specs = [(manifest["type"], section)]
    return [(f"{where}.dataosSecrets[{j}]", ref) for where, spec in specs
            for j, ref in enumerate(spec.get("dataosSecrets") or [])]


def secret_path(ref: dict[str, Any], workspace: str) -> tuple[str, str | None]:
    """The type and workspace of the secret a reference names."""
    if ref.get("instance"):
        return "instance-secret", None
    return "secret", ref.get("workspace") or workspace or "public"
