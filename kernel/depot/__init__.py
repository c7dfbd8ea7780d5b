"""Depots: connections to data, addressed `dataos://depot:collection/dataset` (in SQL
`depot.collection.dataset`). A driver lists collections and datasets and tells the engine how
to read one (an SQL expression) and which paths it may touch."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from syscalls.errors import SyscallError

ADDRESS = re.compile(r"dataos://(?P<depot>[a-z0-9][-a-z0-9_]*)(?::(?P<collection>[A-Za-z0-9_\-]+)"
                     r"(?:/(?P<dataset>[A-Za-z0-9_.\-]+))?)?")


@dataclass(frozen=True)
class Address:
    depot: str
    collection: str | None = None
    dataset: str | None = None

    @classmethod
    def parse(cls, text: str) -> "Address":
        m = ADDRESS.fullmatch(text)
        if not m:
            raise SyscallError("EINVAL", f"{text!r} is not an address such as dataos://depot:collection/dataset",
                               field="address")
        return cls(m["depot"], m["collection"], m["dataset"])

    def __str__(self) -> str:
        out = f"dataos://{self.depot}"
        if self.collection:
            out += f":{self.collection}"
            if self.dataset:
                out += f"/{self.dataset}"
        return out

    @property
    def sql_name(self) -> str:
        return ".".join(p for p in (self.depot, self.collection, self.dataset) if p)


@dataclass(frozen=True)
class Source:
    """How the engine reads one dataset: an SQL table expression, the files it needs, and
    statements that prepare the engine before it is locked down (e.g. a read-only ATTACH)."""
    sql: str
    paths: tuple[str, ...] = field(default_factory=tuple)
    setup: tuple[str, ...] = field(default_factory=tuple)
