"""What a shell session knows between lines, shared by the REPL, its commands and completion."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class ShellState:
    cwd: str = ""                    # "" (the root: depots), "dataos://depot" or "dataos://depot:collection"
    context: str = "local"
    workspace: str = "public"
    aliases: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)   # `export NAME=VALUE` ($NAME in commands and manifests)
    timing: bool = False             # `\timing`
    last_exit: int = 0

    @property
    def depot(self) -> str | None:
        return self.cwd.removeprefix("dataos://").partition(":")[0] or None

    @property
    def collection(self) -> str | None:
        return self.cwd.removeprefix("dataos://").partition(":")[2] or None


class CatalogSource(Protocol):
    """What completion reads: names the caller may see, served from memory (a snapshot
    refreshed in the background and swapped whole), never a syscall on the typing path."""

    def depots(self) -> list[str]: ...
    def collections(self, depot: str) -> list[str]: ...
    def datasets(self, depot: str, collection: str) -> list[str]: ...
    def columns(self, urn: str) -> list[str]: ...          # dataos://depot:collection/dataset -> names
    def resources(self, type_name: str) -> list[str]: ...
    def pods(self) -> list[str]: ...
