"""`dataos://` paths in the shell: the root holds depots, a depot collections, a collection datasets.

Users type `dataos://lakehouse:retail`, `/lakehouse/retail`, `lakehouse:retail`, `retail`,
`../other`, or a dataset as in SQL, `lakehouse.retail.orders`; names resolve against the cwd.
"""
from __future__ import annotations

from dataclasses import dataclass

from syscalls.errors import SyscallError

SCHEME = "dataos://"


@dataclass(frozen=True)
class Where:
    depot: str | None = None
    collection: str | None = None
    dataset: str | None = None

    @property
    def level(self) -> int:
        """0 the root, 1 a depot, 2 a collection, 3 a dataset."""
        return sum(part is not None for part in (self.depot, self.collection, self.dataset))

    def __str__(self) -> str:
        if self.depot is None:
            return SCHEME
        text = SCHEME + self.depot
        if self.collection is not None:
            text += ":" + self.collection
        if self.dataset is not None:
            text += "/" + self.dataset
        return text

    @property
    def cwd(self) -> str:
        """As ShellState.cwd keeps it: "" for the root."""
        return str(self) if self.depot else ""

    @property
    def sql(self) -> str:
        """The dataset's name in SQL: depot.collection.dataset, each part quoted."""
        return ".".join('"' + part.replace('"', '""') + '"' for part in (self.depot, self.collection, self.dataset))

    def parent(self) -> "Where":
        if self.dataset is not None:
            return Where(self.depot, self.collection)
        if self.collection is not None:
            return Where(self.depot)
        return Where()

    def child(self, name: str) -> "Where":
        if self.depot is None:
            return Where(name)
        if self.collection is None:
            return Where(self.depot, name)
        if self.dataset is None:
            return Where(self.depot, self.collection, name)
        raise SyscallError("EINVAL", f"{self}/{name}: a dataset has nothing under it", field="path")


def parse(address: str) -> Where:
    """`dataos://depot[:collection[/dataset]]` (or "" for the root)."""
    rest = address.removeprefix(SCHEME).strip("/")
    if not rest:
        return Where()
    depot, _, inner = rest.partition(":")
    collection, _, dataset = inner.partition("/")
    return Where(depot or None, collection or None, dataset.strip("/") or None)


def resolve(cwd: str, text: str) -> Where:
    """What `text` names, seen from `cwd`."""
    text = text.strip()
    if text.startswith(SCHEME):
        return parse(text)
    parts = text.split(".")
    if "/" not in text and ":" not in text and len(parts) == 3 and all(parts):
        return Where(*parts)
    where = Where() if text.startswith("/") else parse(cwd)
    for segment in text.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            where = where.parent()
        elif ":" in segment and where.depot is None:
            depot, _, collection = segment.partition(":")
            where = Where(depot, collection or None)
        else:
            where = where.child(segment)
    return where
