"""Faults of the machine, not of the caller — a full disk, memory run out — as the errno that
names them (ENOSPC with the path, ENOMEM), and how a background writer reports waiting one out:
once when it begins, once when it ends."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from syscalls.errors import SyscallError, disk_full


def fault(error: BaseException, where: object = None) -> SyscallError | None:
    """ENOSPC (naming `where` unless the error names its file) or ENOMEM for `error`, else None."""
    if isinstance(error, MemoryError):
        return SyscallError("ENOMEM", "the kernel ran out of memory for this call; retry it with less data")
    return disk_full(error, where)


@contextmanager
def writing(where: object) -> Iterator[None]:
    """Run a write: a full disk becomes ENOSPC naming `where`."""
    try:
        yield
    except SyscallError:
        raise
    except Exception as e:
        full = disk_full(e, where)
        if full is None:
            raise
        raise full from None


class Outage:
    """A background writer's failures, logged once per outage: one line for a full disk (a
    traceback for anything else) when the writer starts failing, one when it writes again."""

    def __init__(self, log: logging.Logger, what: str) -> None:
        self.log, self.what, self.failing = log, what, False

    def failed(self, error: BaseException) -> None:
        if self.failing:
            self.log.debug("%s still fails: %s", self.what, error)
            return
        self.failing = True
        full = disk_full(error)
        if full is not None:
            self.log.warning("%s waits for disk space: %s", self.what, full.message)
        else:
            self.log.error("%s failed; retrying", self.what, exc_info=error)

    def resumed(self) -> None:
        if self.failing:
            self.failing = False
            self.log.warning("%s: resumed", self.what)
