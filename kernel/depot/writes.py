"""Writing datasets (`dataset.write`): Arrow data uploaded in chunks, staged, then committed whole.

An upload stages part files in a hidden folder beside the dataset (`.dataos-upload-ID/`), one
per chunk, in the depot's format. Commit swaps the folder in (overwrite) or moves the parts in
(append), so readers see the old dataset or the new one, never half of it: a commit that fails
part-way (a full disk) undoes its moves, and is ENOSPC. Only `file` depots are writable for now.
What a write creates is private to the kernel's user: folders 0700, files 0600.
"""
from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from syscalls.errors import SyscallError

from ..faults import writing
from . import Address
from .file import EXTENSIONS, FileDepot

log = logging.getLogger("dataos.depot")
MAX_CHUNK = 16 * 2**20  # bytes of Arrow IPC per call
STALE = 3600.0  # seconds after which an upload nobody committed is swept


@dataclass
class Upload:
    id: str
    user: str
    address: Address
    mode: str
    folder: Path  # the collection's folder
    staging: Path
    format: str
    parts: int = 0
    rows: int = 0
    touched: float = 0.0


class Uploads:
    def __init__(self) -> None:
        self._uploads: dict[str, Upload] = {}
        self._lock = threading.Lock()

    def begin(self, user: str, address: Address, depot: Any, mode: str) -> Upload:
        if not isinstance(depot, FileDepot):
            raise SyscallError("ENOSYS", f"dataos://{address.depot} is a {type(depot).__name__} depot; only file "
                               f"depots can be written to yet")
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_\-]*(\.[A-Za-z0-9_\-]+)*", address.dataset or ""):
            raise SyscallError("EINVAL", f"{address}: a dataset written here is named with letters, digits, _ and -"
                               f" (dots only between them)", field="address")
        folder = depot.root / address.collection
        if folder.resolve().parent != depot.root:
            raise SyscallError("EINVAL", f"{address}: not a collection of dataos://{address.depot}", field="address")
        with writing(folder):
            folder.mkdir(mode=0o700, exist_ok=True)
            _sweep(folder)
            upload = Upload(secrets.token_hex(8), user, address, mode, folder, Path(), depot.format,
                            touched=time.time())
            upload.staging = folder / f".dataos-upload-{upload.id}"
            upload.staging.mkdir(mode=0o700)
        with self._lock:
            self._uploads[upload.id] = upload
        return upload

    def get(self, upload_id: str, user: str, address: Address) -> Upload:
        with self._lock:
            upload = self._uploads.get(upload_id)
        if upload is None or upload.user != user or upload.address != address:
            raise SyscallError("ENOENT", f"no upload {upload_id!r} of {address} by you")
        return upload

    def append(self, upload: Upload, table: Any) -> None:
        """Write one chunk as a part file."""
        if table.num_rows or not upload.parts:  # an empty first chunk still records the schema
            part = upload.staging / f"part-{upload.id}-{upload.parts:05d}{EXTENSIONS[upload.format][0]}"
            try:
                with writing(upload.folder):
                    _write(table, part, upload.format)
            except BaseException:
                part.unlink(missing_ok=True)  # never half a part
                raise
            upload.parts += 1
        upload.rows += table.num_rows
        upload.touched = time.time()

    def commit(self, upload: Upload) -> None:
        """Swap the staged parts in; all or nothing (what was moved is moved back on a failure)."""
        with self._lock:
            self._uploads.pop(upload.id, None)
        target = upload.folder / upload.address.dataset
        old = upload.folder / f".dataos-old-{upload.id}"
        singles = [upload.folder / f"{upload.address.dataset}{ext}" for ext in EXTENSIONS[upload.format]]
        singles = [p for p in singles if p.is_file()]
        moves = _Moves()
        with writing(upload.folder), moves:
            if upload.mode == "append" and (target.is_dir() or singles):
                if not target.is_dir():  # a single-file dataset becomes a folder of parts
                    folded = moves.mkdir(upload.folder / f".dataos-fold-{upload.id}")
                    for single in singles:
                        moves.rename(single, folded / f"part-0{single.suffix}")
                    moves.rename(folded, target)
                for part in sorted(upload.staging.iterdir()):
                    moves.rename(part, target / part.name)
            else:
                moves.mkdir(old)
                if target.is_dir():
                    moves.rename(target, old / "dataset")
                for single in singles:
                    moves.rename(single, old / single.name)
                moves.rename(upload.staging, target)
        if upload.staging.exists():
            upload.staging.rmdir()
        shutil.rmtree(old, ignore_errors=True)

    def abort(self, upload: Upload) -> None:
        with self._lock:
            self._uploads.pop(upload.id, None)
        shutil.rmtree(upload.staging, ignore_errors=True)


class _Moves:
    """The renames (and folders made) of a commit, undone in reverse if it fails part-way."""

    def __init__(self) -> None:
        self._undo: list[tuple[Path, Path | None]] = []  # (where it is now, where it was; None: made here)

    def mkdir(self, path: Path) -> Path:
        path.mkdir(mode=0o700)
        self._undo.append((path, None))
        return path

    def rename(self, source: Path, destination: Path) -> None:
        source.rename(destination)
        self._undo.append((destination, source))

    def __enter__(self) -> "_Moves":
        return self

    def __exit__(self, kind: Any, error: Any, tb: Any) -> None:
        if error is None:
            return
        for now, was in reversed(self._undo):
            try:
                now.rmdir() if was is None else now.rename(was)
            except OSError:  # a rename back needs no new space; log what could not be undone
                log.error("dataset write: could not move %s back to %s", now, was)


def _write(table: Any, path: Path, fmt: str) -> None:
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # private before anything is in it
    if fmt == "parquet":
        import pyarrow.parquet as pq
        pq.write_table(table, path, compression="zstd")
    elif fmt == "csv":
        import pyarrow.csv as pcsv
        pcsv.write_csv(table, path)
    else:
        import json
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(row, default=str) + "\n" for row in table.to_pylist())


def _sweep(folder: Path) -> None:
    """Remove uploads abandoned for an hour (a pod that died, a kernel that restarted)."""
    for p in folder.glob(".dataos-*"):
        try:
            if time.time() - p.stat().st_mtime > STALE:
                shutil.rmtree(p, ignore_errors=True)
        except OSError:
            pass
