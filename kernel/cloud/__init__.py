"""The cloud kernel: where pods run. One interface, two drivers: `local` (OS processes) and
`kubernetes` (Jobs and Deployments through the official client).

A pod is one run of one command. Drivers report phases in Kubernetes' vocabulary, plus `Stopped`:
a pod the kernel ended on purpose (killed, stopped, replaced, torn down), which is no failure.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Iterator, Protocol

PENDING, RUNNING, SUCCEEDED, FAILED, UNKNOWN = "Pending", "Running", "Succeeded", "Failed", "Unknown"
STOPPED = "Stopped"
TERMINAL = frozenset({SUCCEEDED, FAILED, STOPPED})


@dataclass(frozen=True)
class PodSpec:
    name: str
    workspace: str
    command: list[str]
    labels: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    image: str | None = None  # used by the kubernetes driver; the local driver runs `command` directly
    secret_env: dict[str, str] = field(default_factory=dict, repr=False)  # never written to disk
    secret_files: dict[str, str] = field(default_factory=dict, repr=False)  # name -> content

    def to_dict(self) -> dict[str, Any]:
        """What may be stored: everything but the secrets."""
        return {k: v for k, v in asdict(self).items() if not k.startswith("secret_")}


@dataclass(frozen=True)
class PodStatus:
    name: str
    workspace: str
    phase: str
    labels: dict[str, str]
    created: str
    started: str | None = None
    finished: str | None = None
    exit_code: int | None = None
    reason: str | None = None
    node: str = "local"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Driver(Protocol):
    name: str

    def run(self, spec: PodSpec) -> PodStatus: ...
    def status(self, name: str) -> PodStatus: ...
    def kill(self, name: str, grace: float = 5.0) -> None: ...
    def delete(self, name: str) -> None: ...
    def poll(self) -> Iterable[PodStatus]: ...
    def logs(self, name: str, tail: int | None = None, follow: bool = False) -> Iterator[str]: ...


DRIVERS = ("local", "kubernetes")


def make_driver(state_dir, config: dict[str, Any], hidden=lambda: [], socket: str | None = None) -> Driver:
    """The cloud driver a kernel's `cloud.json` asks for: {"driver": "local"} (the default) or
    {"driver": "kubernetes", "kubeconfig": PATH, "context": NAME, "namespacePrefix": "dataos-"}.
    For the local driver: `hidden()` names paths its pods must not see, `socket` is the kernel's."""
    driver = config.get("driver", "local")
    if driver == "local":
        from .local import LocalDriver
        return LocalDriver(state_dir, hidden, socket)
    if driver == "kubernetes":
        from .kubernetes import KubernetesDriver
        return KubernetesDriver(kubeconfig=config.get("kubeconfig"), context=config.get("context"),
                                namespace_prefix=config.get("namespacePrefix", ""))
    from syscalls.errors import SyscallError
    raise SyscallError("EINVAL", f"unknown cloud driver {driver!r} (known: {', '.join(DRIVERS)})", field="cloud")
