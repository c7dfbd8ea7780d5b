"""Errno-style errors: the one error contract of every transport and front end."""
from __future__ import annotations

import errno
import os
import re
from typing import Any

#: code -> (meaning, CLI exit code, HTTP status). DESIGN.md's table, plus EIO for bugs (exit 70, as
#: sysexits' EX_SOFTWARE: exit 1 stays what it means to kubectl-style `diff`, "there are changes").
ERRNO: dict[str, tuple[str, int, int]] = {
    "EAUTH": ("no or invalid credentials", 3, 401),
    "EACCES": ("authenticated, denied by policy", 4, 403),
    "ENOENT": ("no such resource, dataset or pod", 5, 404),
    "EEXIST": ("already exists", 6, 409),
    "ECONFLICT": ("stale version (optimistic concurrency)", 6, 409),
    "EINVAL": ("bad input", 2, 400),
    "EUNAVAIL": ("a service or the cluster is down; safe to retry", 7, 503),
    "ETIMEDOUT": ("a service or the cluster is slow; safe to retry", 7, 504),
    "ECANCELED": ("cancelled by the user", 8, 499),
    "ENOSYS": ("unknown syscall or not supported here", 8, 501),
    # 507 Insufficient Storage: the server lacks the room (disk, memory) this request needs
    "ENOSPC": ("no space left on a device: free space and retry", 9, 507),
    "ENOMEM": ("over a memory limit: a cluster's, or the machine's", 10, 507),
    "EIO": ("internal error (a bug: see the kernel log)", 70, 500),  # 70: sysexits' EX_SOFTWARE
}

#: Every syscall may fail with these, whatever its own list says (each one writes the audit log
#: and needs memory: ENOSPC and ENOMEM).
COMMON = ("EAUTH", "EACCES", "EINVAL", "ENOSYS", "EUNAVAIL", "ENOSPC", "ENOMEM", "EIO")
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
_SQLITE_FULL = 13  # "database or disk is full"


_LONG = re.compile(r"""'[^'\n]{81,}'|"[^"\n]{81,}"|\S{121,}""")
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
MAX_MESSAGE = 1000


def _bounded(text: str) -> str:
    """`text` as one line of bounded length: control characters and lone surrogates escaped,
    every quoted input of more than 80 characters and every other run of more than 120 non-blank
    ones cut to 80 (an error line never carries a megabyte someone sent) — but for a file's path,
    which a disk-full error must name whole — and at most MAX_MESSAGE characters in all."""
    if len(text) <= 120 and text.isprintable():
        return text
    text = _LONG.sub(_cut, _UNPRINTABLE.sub(lambda m: repr(m.group())[1:-1], text))
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE - 1] + "…"


def _cut(match: re.Match[str]) -> str:
    word = match.group()
    if word.lstrip("'\"").startswith("/") and " " not in word and len(word) <= 4096:
        return word
    return word[:79] + "…" + (word[-1] if word[0] in "'\"" else "")


class SyscallError(Exception):
    """A failed syscall: an errno code, a one-line message and optional details."""

    def __init__(self, code: str, message: str, **details: Any) -> None:
        if code not in ERRNO:
            raise ValueError(f"unknown errno code {code!r}")
        message = _bounded(message)
        super().__init__(message)
        self.code = code
        self.message = message
        # details are data (JSON escapes what it must): only a user's megabyte is cut
        self.details = {k: v[:MAX_MESSAGE - 1] + "…" if isinstance(v, str) and len(v) > MAX_MESSAGE else v
                        for k, v in details.items()}

    @property
    def exit_code(self) -> int:
        return ERRNO[self.code][1]

    @property
    def http_status(self) -> int:
        return ERRNO[self.code][2]

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.details}

    @classmethod
    def from_dict(cls, error: dict[str, Any]) -> "SyscallError":
        error = dict(error)
        code = error.pop("code", "EIO")
        message = error.pop("message", "")
        return cls(code if code in ERRNO else "EIO", message, **error)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def __reduce__(self):  # picklable across processes
        return (_rebuild, (self.code, self.message, self.details))


def _rebuild(code: str, message: str, details: dict[str, Any]) -> SyscallError:
    return SyscallError(code, message, **details)


def disk_full(error: BaseException, where: object = None) -> SyscallError | None:
    """ENOSPC naming the path, if `error` says a disk (or a quota) is full: an OSError (Arrow's
    too), SQLite's SQLITE_FULL, DuckDB's IOException; None for any other error."""
    if isinstance(error, SyscallError):
        return error if error.code == "ENOSPC" else None
    if isinstance(error, OSError) and error.errno in _DISK_FULL:
        where = error.filename or where
    elif getattr(error, "sqlite_errorcode", None) != _SQLITE_FULL and not (
            type(error).__name__ == "IOException" and any(os.strerror(n) in str(error) for n in _DISK_FULL)):
        return None
    return SyscallError("ENOSPC", f"the disk is full: cannot write {where or 'a file'}; free space there and retry",
                        **({"path": str(where)} if where else {}))


def exit_code(code: str) -> int:
    return ERRNO.get(code, ERRNO["EIO"])[1]
