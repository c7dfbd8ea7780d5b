"""Kernel-side plugins: entry point group `dataos.kernel`, loaded once when a kernel starts.

The user layer's plugins (group `dataos.plugins`) run in the client; stacks and depot drivers run in
the kernel, so they register here, through `register(api)` with a `KernelAPI` — a plugin package
may carry both halves. A plugin that fails is logged and reported by `kernel.info`; the kernel
goes on without it."""
from __future__ import annotations

import logging
import traceback
from typing import Any, Callable

from .depot.registry import DRIVERS
from .poros import kinds, schema
from .stacks import STACKS, Stack

GROUP = "dataos.kernel"
API_VERSION = 1
log = logging.getLogger("dataos.kernel")


class KernelAPI:
    """What a kernel plugin's `register(api)` may add (version 1, see docs/plugins.md)."""
    version = API_VERSION
    schema = schema  # Map, List, Str, Int, Bool, Scalar, Anything: to describe a stackSpec

    def __init__(self, plugin: str) -> None:
        self.plugin = plugin
        self.adds: list[str] = []

    @property
    def depot_bases(self) -> dict[str, type]:
        """The built-in depot drivers, by type, for a plugin's driver to subclass."""
        return dict(BUILTIN_DRIVERS)

    def stack(self, name: str, summary: str, spec: schema.Schema, command: Callable[[dict[str, Any]], list[str]],
              *, needs_token: bool = False) -> None:
        """A stack: `spec` checks a workload's stackSpec at apply time, `command(stackSpec)` is the
        pod's argv (with `needs_token`, the pod gets a short-lived token for the resource's owner)."""
        if name in STACKS:
            raise ValueError(f"stack {name!r} already exists")
        STACKS[name] = Stack(name, summary, spec, command, needs_token=needs_token)
        self.adds.append(f"stack {name}")

    def depot_driver(self, type: str, driver: type) -> None:
        """A depot type: `driver(name, connection, credentials)` answers like the built-in drivers
        (subclass one of `depot_bases`)."""
        if type in DRIVERS:
            raise ValueError(f"depot type {type!r} already exists")
        DRIVERS[type] = driver
        kinds.depot_types_changed()
        self.adds.append(f"depot type {type}")


BUILTIN_DRIVERS = dict(DRIVERS)
_loaded: list[dict[str, Any]] | None = None


def load() -> list[dict[str, Any]]:
    """Load every kernel plugin once per process: name, package, state, what it adds, error."""
    global _loaded
    if _loaded is None:
        from importlib.metadata import entry_points
        _loaded = [_load(ep) for ep in sorted(entry_points(group=GROUP), key=lambda ep: ep.name)]
    return _loaded


def _load(ep: Any) -> dict[str, Any]:
    dist = getattr(ep, "dist", None)
    report = {"name": ep.name, "value": ep.value, "package": getattr(dist, "name", ""),
              "version": getattr(dist, "version", ""), "state": "loaded", "adds": [], "error": ""}
    api = KernelAPI(ep.name)
    try:
        target = ep.load()
        getattr(target, "register", target)(api)
    except Exception as e:  # noqa: BLE001 — a broken plugin must not stop the kernel
        report |= {"state": "failed", "error": f"{type(e).__name__}: {e}".splitlines()[0]}
        log.warning("kernel plugin %s failed: %s", ep.name, traceback.format_exc())
    report["adds"] = api.adds
    return report
