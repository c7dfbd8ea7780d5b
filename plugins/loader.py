"""Finding and loading plugins: entry point group `dataos.plugins`.

Listing reads the installed packages' metadata and imports nothing; a plugin is imported when it is
first needed (an unknown command, `--help`, the shell's command table, the TUI's palette). A plugin
that fails to import or register, or claims a name another already has, is set aside with its
error: the rest of the tool goes on."""
from __future__ import annotations

import os
import threading
import traceback
from dataclasses import dataclass, field
from typing import Any, Iterable

from .host import API_VERSION, Host, Registrations

GROUP = "dataos.plugins"


@dataclass
class Plugin:
    name: str
    value: str  # the entry point: "package.module" or "package.module:object"
    package: str = ""
    version: str = ""
    state: str = "available"  # available | loaded | failed
    error: str = ""  # one line
    details: str = ""  # the traceback, for `plugins doctor`
    added: Registrations = field(default_factory=Registrations)
    entry: Any = None

    def fail(self, error: str, details: str = "") -> None:
        self.state, self.error, self.details = "failed", error, details


def disabled() -> bool:
    return os.environ.get("DATAOS_NO_PLUGINS", "") not in ("", "0")


class Registry:
    """The plugins of this process, discovered once and loaded on demand."""

    def __init__(self) -> None:
        self._plugins: dict[str, Plugin] | None = None
        self._loaded = False
        self._lock = threading.RLock()
        self.problems: list[str] = []  # one line each: broken plugins and name clashes

    def plugins(self) -> dict[str, Plugin]:
        """Every installed plugin by name, from metadata only (nothing is imported)."""
        with self._lock:
            if self._plugins is None:
                self._plugins = {}
                for ep in _entry_points():
                    dist = getattr(ep, "dist", None)
                    plugin = Plugin(ep.name, ep.value, getattr(dist, "name", "") or "",
                                    getattr(dist, "version", "") or "", entry=ep)
                    other = self._plugins.get(ep.name)
                    if other is not None:
                        why = (f"plugin name {ep.name!r} is claimed by two packages: {_who(other)} and "
                               f"{_who(plugin)}")
                        other.fail(why)
                        self.problems.append(why)
                        continue
                    self._plugins[ep.name] = plugin
            return self._plugins

    def load_all(self) -> dict[str, Plugin]:
        """Import and register every plugin (once); a command two plugins claim is left out of
        both, with an error naming them."""
        with self._lock:
            if not self._loaded:
                self._loaded = True
                for plugin in self.plugins().values():
                    if plugin.state == "available":
                        _load(plugin)
                    line = f"plugin {plugin.name}: {plugin.error}"
                    if plugin.state == "failed" and line not in self.problems:
                        self.problems.append(line)
                self._drop_clashes()
            return self._plugins or {}

    def commands(self, builtin: Iterable[str] = ()) -> dict[str, tuple[Plugin, Any]]:
        """Plugin command name -> (plugin, its Typer app); one named like a built-in command is left out."""
        builtin = set(builtin)
        with self._lock:
            for plugin in self.loaded():
                for name in [n for n in plugin.added.commands if n in builtin]:
                    plugin.added.commands.pop(name)
                    self._problem(plugin, f"command {name!r} of plugin {_who(plugin)} clashes with the "
                                          "built-in command")
            return {name: (p, cli) for p in self.loaded() for name, cli in p.added.commands.items()}

    def command_of(self, name: str, builtin: Iterable[str] = ()) -> tuple[Plugin, Any] | None:
        """(plugin, Typer app) of command `name` when the plugin of that name provides it, loading
        only that plugin; None otherwise (then every plugin must be loaded to find it)."""
        with self._lock:
            plugin = self.plugins().get(name)
            if plugin is None or self._loaded or name in set(builtin):
                return None
            if plugin.state == "available":
                _load(plugin)
                if plugin.state == "failed":
                    self.problems.append(f"plugin {plugin.name}: {plugin.error}")
            cli = plugin.added.commands.get(name) if plugin.state == "loaded" else None
            return (plugin, cli) if cli is not None else None

    def formats(self) -> dict[str, tuple[Plugin, Any]]:
        return {name: (p, fn) for p in self.loaded() for name, (_, fn) in p.added.formats.items()}

    def loaded(self) -> list[Plugin]:
        return [p for p in self.load_all().values() if p.state == "loaded"]

    def _drop_clashes(self) -> None:
        owners: dict[str, Plugin] = {}
        for plugin in self.loaded():
            for name in list(plugin.added.commands):
                if name not in owners:
                    owners[name] = plugin
                    continue
                why = f"command {name!r} is claimed by plugins {_who(owners[name])} and {_who(plugin)}"
                for p in (owners[name], plugin):
                    p.added.commands.pop(name, None)
                    self._problem(p, why)

    def _problem(self, plugin: Plugin, why: str) -> None:
        if why not in plugin.error:
            plugin.error = "; ".join(filter(None, (plugin.error, why)))
        if why not in self.problems:
            self.problems.append(why)


def unseen(problems: Iterable[str]) -> list[str]:
    """The problems not reported before in this DATAOS_HOME (each is shown once; `plugins doctor`
    always shows them all)."""
    import hashlib
    from syscalls.locations import Locations
    path = Locations.current().data / "plugin-warnings"
    try:
        seen = set(path.read_text().split())
    except OSError:
        seen = set()
    keys = {p: hashlib.sha256(p.encode()).hexdigest()[:16] for p in problems}
    fresh = [p for p, key in keys.items() if key not in seen]
    if fresh:
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            with path.open("a") as f:
                f.writelines(keys[p] + "\n" for p in fresh)
        except OSError:
            pass
    return fresh


def _who(plugin: Plugin) -> str:
    package = f"{plugin.package} {plugin.version}".strip()
    return f"{plugin.name} ({package or plugin.value})"


def _entry_points() -> list[Any]:
    from importlib.metadata import entry_points
    return sorted(entry_points(group=GROUP), key=lambda ep: ep.name)


def _load(plugin: Plugin) -> None:
    """Import the plugin and run its register(host); any failure is kept, never raised."""
    try:
        target = plugin.entry.load()
        register = getattr(target, "register", target)
        if not callable(register):
            raise TypeError(f"{plugin.value} has no register(host)")
        wants = getattr(target, "DATAOS_API", API_VERSION)
        if wants != API_VERSION:
            raise RuntimeError(f"needs host API {wants}; this dataos offers {API_VERSION}")
        host = Host(plugin.name)
        register(host)
    except BaseException as e:  # noqa: BLE001 — a plugin must not take the tool down
        if isinstance(e, KeyboardInterrupt):
            raise
        plugin.fail(f"{type(e).__name__}: {e}".strip().splitlines()[0], traceback.format_exc())
        return
    plugin.added, plugin.state = host.added, "loaded"


registry = Registry()
