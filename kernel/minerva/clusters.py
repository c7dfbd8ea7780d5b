"""Minerva clusters: which depots a query engine serves, and its limits.

    cluster: {type: duckdb, depots: [{address: dataos://hr}], resources: {memory: 2Gi, threads: 2}}

A cluster without `depots` serves every depot, as the built-in `default` cluster does, so a
depot is queryable the moment it is applied. Running SQL on a cluster takes `execute` on it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from syscalls.errors import SyscallError

from ..depot import Address
from ..poros.store import object_path
from .duckdb_engine import Limits

DEFAULT_NAME, DEFAULT_WORKSPACE = "default", "public"
DEFAULT_CLUSTER: dict[str, Any] = {
    "name": DEFAULT_NAME, "version": "v1", "type": "cluster", "workspace": DEFAULT_WORKSPACE, "layer": "system",
    "description": "The built-in query engine: every depot, the machine's memory and threads.",
    "cluster": {"type": "duckdb"},
}
_UNITS = {"": "B", "K": "KB", "M": "MB", "G": "GB", "T": "TB", "KB": "KB", "MB": "MB", "GB": "GB", "TB": "TB",
          "Ki": "KiB", "Mi": "MiB", "Gi": "GiB", "Ti": "TiB"}


@dataclass(frozen=True)
class Cluster:
    name: str
    workspace: str
    depots: frozenset[str] | None  # None: every depot
    limits: Limits

    @property
    def path(self) -> str:
        return object_path("cluster", self.name, self.workspace)

    def check_depot(self, depot: str) -> None:
        if self.depots is not None and depot not in self.depots:
            raise SyscallError("EINVAL", f"depot {depot!r} is not attached to cluster {self.name!r} (it serves "
                               f"{', '.join(sorted(self.depots)) or 'no depots'}; add it under cluster.depots, "
                               f"or query on the default cluster)")


def from_resource(resource: dict[str, Any]) -> Cluster:
    section = resource["cluster"]
    depots = section.get("depots")
    resources = section.get("resources") or {}
    memory = resources.get("memory")
    return Cluster(resource["name"], resource["workspace"],
                   None if depots is None else frozenset(Address.parse(d["address"]).depot for d in depots),
                   Limits(memory=_duckdb_memory(memory) if memory else None, threads=resources.get("threads")))


def _duckdb_memory(quantity: str) -> str:
    """A Kubernetes quantity (512Mi, 2G, 4Gi) as DuckDB's memory_limit wants it (512MiB, 2GB)."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|KB|MB|GB|TB|K|M|G|T)?", str(quantity))
    if match is None:
        raise SyscallError("EINVAL", f"cluster.resources.memory: {quantity!r} is not a quantity such as 2Gi",
                           field="cluster.resources.memory")
    return match.group(1) + _UNITS[match.group(2) or ""]


class Clusters:
    """The clusters of this kernel, fed by Poros."""

    def __init__(self) -> None:
        self._clusters: dict[tuple[str, str], Cluster] = {}

    def load(self, resource: dict[str, Any]) -> None:
        cluster = from_resource(resource)
        self._clusters[(cluster.workspace, cluster.name)] = cluster

    def unload(self, resource: dict[str, Any]) -> None:
        self._clusters.pop((resource["workspace"], resource["name"]), None)

    def get(self, name: str | None, workspace: str | None) -> Cluster:
        key = (workspace or DEFAULT_WORKSPACE, name or DEFAULT_NAME)
        try:
            return self._clusters[key]
        except KeyError:
            raise SyscallError("ENOENT", f"no cluster {key[1]!r} in workspace {key[0]!r} "
                               f"(see `dataos get cluster -A`)") from None
