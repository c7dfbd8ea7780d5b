"""The kernel's services as deployment targets (Grafana Mimir's `-target`): what each owns.

`all` runs every service in one process, the laptop's daemon (monolithic mode). Each other
target is one service: the syscalls it answers (the API gateway routes each call to its owner),
the state it keeps (a schema of its own in PostgreSQL, a file in SQLite) and the work it does in
the background. Every syscall the kernel serves is owned by exactly one target.
"""
from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase


@dataclass(frozen=True)
class Target:
    name: str
    about: str
    syscalls: tuple[str, ...] = ()  # name patterns
    state: tuple[str, ...] = ()  # its databases (a schema each on PostgreSQL)
    background: str = ""

    def owns(self, syscall: str) -> bool:
        return any(fnmatchcase(syscall, pattern) for pattern in self.syscalls)


SERVICES = (
    Target("api", "the only ingress: authenticates bearer tokens through Heimdall, routes each syscall to the "
           "service that owns it, writes the audit log", ("kernel.info", "audit.list"), ("audit",)),
    Target("heimdall", "identity and policy: users, API keys, access decisions, sealed secrets",
           ("auth.*", "user.*", "policy.check"), ("heimdall",)),
    Target("poros", "resources: apply, history, watch; their runs and schedules", ("resource.*", "runtime.*"),
           ("poros", "runtime"), "reconcilers and schedules"),
    Target("caretaker", "pods: phases, logs and events, through the cloud driver", ("pod.*", "event.list"),
           ("caretaker",), "the pod watch"),
    Target("gateway", "governed SQL on Minerva's engines, query history, dataset reads and writes",
           ("query.*", "dataset.*"), ("gateway",)),
    Target("metis", "the catalog: scans, search, tags, descriptions, quality, lineage", ("catalog.*",), ("metis",),
           "scheduled scans, usage counts"),
)
ALL = Target("all", "every service in one process (monolithic mode: the laptop's daemon)")
TARGETS = {t.name: t for t in (ALL, *SERVICES)}


def owner(syscall: str) -> Target | None:
    """The service that answers `syscall` (None: no service does)."""
    return next((t for t in SERVICES if t.owns(syscall)), None)


def listing() -> str:
    """`--list-targets`: each target, what it owns and keeps."""
    lines = []
    for t in TARGETS.values():
        lines.append(f"{t.name:<10} {t.about}")
        if t.syscalls:
            lines.append(f"{'':<10} syscalls: {', '.join(t.syscalls)}")
        if t.state:
            lines.append(f"{'':<10} state: {', '.join(t.state)}" + (f"; background: {t.background}"
                                                                     if t.background else ""))
    return "\n".join(lines)
