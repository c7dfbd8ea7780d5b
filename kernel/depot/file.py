"""The `file` depot driver: a directory of Parquet, CSV or JSON files.

    depot: {type: file, file: {path: /data/hr, format: parquet}}

Collections are the sub-directories of `path`; datasets are the files in a collection (named
without their extension) or folders of part files (`employees/part-0.parquet`, …).
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from syscalls.errors import SyscallError

from ..poros.schema import Map, Str
from . import Source

READERS = {"parquet": "read_parquet", "csv": "read_csv", "json": "read_json"}
EXTENSIONS = {"parquet": (".parquet",), "csv": (".csv", ".tsv"), "json": (".json", ".jsonl", ".ndjson")}
_RACY_NS = 2_000_000_000  # a folder changed this recently may change again within its mtime's tick
_KEPT = 4096  # sources kept


def quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class FileDepot:
    connection = Map({"path": Str(), "format": Str(enum=tuple(READERS))}, required=("path",))
    """The schema of the depot's `file:` section (checked at apply, before anything is stored)."""
    def __init__(self, name: str, spec: dict) -> None:
        self.name = name
        self.root = Path(spec["path"]).expanduser().resolve()
        self.format = spec.get("format", "parquet")
        self._sources: dict[tuple[str, str], tuple[tuple[int, ...], Source]] = {}

    def _check_root(self) -> None:
        if not self.root.is_dir():
            raise SyscallError("EUNAVAIL", f"depot {self.name!r}: {self.root} is not a directory", depot=self.name)

    def collections(self) -> list[str]:
        self._check_root()
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))

    def datasets(self, collection: str) -> list[str]:
        folder = self._collection(collection)
        names = set()
        for p in folder.iterdir():
            if p.name.startswith((".", "_")):
                continue
            if p.is_file() and p.suffix.lower() in EXTENSIONS[self.format]:
                names.add(p.stem)
            elif p.is_dir() and self._parts(p):
                names.add(p.name)
        return sorted(names)

    def source(self, collection: str, dataset: str) -> Source:
        """How the engine reads a dataset. That of a single file is kept while neither the depot's
        folder nor the collection's changes (what is in them, their names): two `stat`s, not a
        search; a folder of parts is looked into each time."""
        if dataset.startswith(".") or "/" in dataset or "\\" in dataset:  # `..` would be the whole depot
            raise SyscallError("ENOENT", f"no dataset dataos://{self.name}:{collection}/{dataset}")
        stamp = self._stamp(collection)
        kept = self._sources.get((collection, dataset))
        if kept is not None and kept[0] == stamp:
            return kept[1]
        found = self._source(collection, dataset)
        if stamp and found.paths[0].endswith(EXTENSIONS[self.format]) and \
                time.time_ns() - max(stamp[1], stamp[3]) > _RACY_NS:  # (a folder of parts changes inside)
            if len(self._sources) >= _KEPT:
                self._sources.clear()
            self._sources[(collection, dataset)] = (stamp, found)
        return found

    def _stamp(self, collection: str) -> tuple[int, ...]:
        try:
            root, folder = os.stat(self.root), os.stat(os.path.join(self.root, collection))
        except (OSError, ValueError):
            return ()
        return root.st_ino, root.st_mtime_ns, folder.st_ino, folder.st_mtime_ns

    def _source(self, collection: str, dataset: str) -> Source:
        folder = self._collection(collection)
        for ext in EXTENSIONS[self.format]:
            file = folder / f"{dataset}{ext}"
            if file.is_file():
                return Source(f"{READERS[self.format]}({quote(str(file))})", (str(file),))
        parts = folder / dataset
        if parts.is_dir() and self._parts(parts):
            pattern = str(parts / "**" / f"*{EXTENSIONS[self.format][0]}")
            return Source(f"{READERS[self.format]}({quote(pattern)})", (str(parts),))
        raise SyscallError("ENOENT", f"no dataset dataos://{self.name}:{collection}/{dataset}")

    def allowed_directories(self) -> list[str]:
        return [str(self.root)]

    def _collection(self, collection: str) -> Path:
        self._check_root()
        folder = (self.root / collection).resolve()
        if folder.parent != self.root or not folder.is_dir():
            raise SyscallError("ENOENT", f"no collection dataos://{self.name}:{collection}")
        return folder

    def _parts(self, folder: Path) -> bool:
        return any(p.suffix.lower() in EXTENSIONS[self.format] for p in folder.rglob("*") if p.is_file())
