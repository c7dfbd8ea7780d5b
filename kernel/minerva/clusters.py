"""Minerva clusters: which depots a query engine serves, and its limits.

    cluster: {type: duckdb, depots: [{address: dataos://hr}], resources: {memory: 2Gi, threads: 2}}

A cluster without `depots` serves every depot, as the built-in `default` cluster does, so a
depot is queryable the moment it is applied. Running SQL on a cluster takes `execute` on it.

`resources.memory` is the most one query on the cluster may use (past it: ENOMEM). The built-in
`default` cluster's, and that of any cluster that sets none, is a share of the machine's memory
(of its cgroup's limit, if lower): DATAOS_DEFAULT_CLUSTER_MEMORY, a percentage (the default
50%) or a quantity such as 4Gi, read when the kernel starts.
"""
from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from syscalls.errors import SyscallError

from ..depot import Address
from ..poros.store import object_path
from .duckdb_engine import Limits

DEFAULT_NAME, DEFAULT_WORKSPACE = "default", "public"
MEMORY_VARIABLE, MEMORY_SHARE = "DATAOS_DEFAULT_CLUSTER_MEMORY", "50%"
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


def default_cluster() -> dict[str, Any]:
    """The built-in cluster: every depot, the machine's threads, the default share of its memory."""
    memory = default_memory()
    return {"name": DEFAULT_NAME, "version": "v1", "type": "cluster", "workspace": DEFAULT_WORKSPACE,
            "layer": "system", "description": f"The built-in query engine: every depot, the machine's threads, "
                                              f"{memory} of memory per query ({MEMORY_VARIABLE}).",
            "cluster": {"type": "duckdb", "resources": {"memory": memory}}}


def default_memory() -> str:
    """DATAOS_DEFAULT_CLUSTER_MEMORY as a quantity: a share of the machine's memory, or as given."""
    value = os.environ.get(MEMORY_VARIABLE, "").strip() or MEMORY_SHARE
    share = re.fullmatch(r"(\d+(?:\.\d+)?)%", value)
    if share is None:
        _duckdb_memory(value, MEMORY_VARIABLE)
        return value
    if not 0 < float(share[1]) <= 100:
        raise SyscallError("EINVAL", f"{MEMORY_VARIABLE}: {value!r} is not a share between 0% and 100%",
                           field=MEMORY_VARIABLE)
    return f"{max(1, int(machine_memory() * float(share[1]) / 100) // 2**20)}Mi"


def machine_memory() -> int:
    """Bytes of memory this process may use: the machine's, or its cgroup's limit if lower."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for limit in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):  # v2, v1
        try:
            total = min(total, int(Path(limit).read_text()))
        except (OSError, ValueError):  # absent, or "max"
            continue
    return total


def from_resource(resource: dict[str, Any], spill: Path | None = None) -> Cluster:
    section = resource["cluster"]
    depots = section.get("depots")
    resources = section.get("resources") or {}
    return Cluster(resource["name"], resource["workspace"],
                   None if depots is None else frozenset(Address.parse(d["address"]).depot for d in depots),
                   Limits(memory=_duckdb_memory(resources.get("memory") or default_memory()),
                          threads=resources.get("threads"), cluster=resource["name"],
                          spill=str(spill) if spill else None))


def _duckdb_memory(quantity: str, field: str = "cluster.resources.memory") -> str:
    """A Kubernetes quantity (512Mi, 2G, 4Gi) as DuckDB's memory_limit wants it (512MiB, 2GB)."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|KB|MB|GB|TB|K|M|G|T)?", str(quantity))
    if match is None:
        raise SyscallError("EINVAL", f"{field}: {quantity!r} is not a quantity such as 2Gi", field=field)
    return match.group(1) + _UNITS[match.group(2) or ""]


class Clusters:
    """The clusters of this kernel, fed by Poros. Their queries spill to `spill` (emptied at start:
    what is there is left over from a kernel that stopped mid-query)."""

    def __init__(self, spill: Path | None = None) -> None:
        self._clusters: dict[tuple[str, str], Cluster] = {}
        self.spill = spill
        if spill is not None:
            shutil.rmtree(spill, ignore_errors=True)
            spill.mkdir(mode=0o700, parents=True)

    def load(self, resource: dict[str, Any]) -> None:
        cluster = from_resource(resource, self.spill)
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
