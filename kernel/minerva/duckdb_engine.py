"""The embedded DuckDB engine: one locked-down connection per query.

Before user SQL runs: file access only below the depots' directories (`allowed_directories`
with `enable_external_access = false`), no extension installed or loaded on the fly, memory
and thread limits, then `lock_configuration` so the query cannot undo any of it. A query past
its timeout, or cancelled, is interrupted.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from syscalls.errors import SyscallError


@dataclass(frozen=True)
class Limits:
    memory: str | None = None  # e.g. "2GB"
    threads: int | None = None
    timeout: float | None = 300.0


class Query:
    """One running query: `result()` waits for it, `cancel()` interrupts it."""

    def __init__(self, sql: str, allowed_directories: list[str], limits: Limits,
                 params: dict[str, Any] | None = None, setup: tuple[str, ...] = ()) -> None:
        """`setup` runs before the lockdown (the depots' own statements, never user SQL)."""
        import duckdb
        self._duckdb = duckdb
        self.con = duckdb.connect(config={"autoload_known_extensions": False, "autoinstall_known_extensions": False})
        self.con.execute("SET allowed_directories = $dirs", {"dirs": list(allowed_directories)})
        for statement in dict.fromkeys(setup):
            self.con.execute(statement)
        if limits.memory:
            self.con.execute("SET memory_limit = $m", {"m": limits.memory})
        if limits.threads:
            self.con.execute(f"SET threads = {int(limits.threads)}")
        self.con.execute("SET enable_external_access = false")
        self.con.execute("SET lock_configuration = true")
        self.sql = sql
        self.params = params or {}
        self.limits = limits
        self.cancelled = False
        self.timed_out = False

    def cancel(self) -> None:
        self.cancelled = True
        self.con.interrupt()

    def _expire(self) -> None:
        self.timed_out = True
        self.con.interrupt()

    def run(self) -> Any:
        """Execute; returns the DuckDB relation result (fetch it with fetchall/arrow)."""
        timer = None
        if self.limits.timeout:
            timer = threading.Timer(self.limits.timeout, self._expire)
            timer.daemon = True
            timer.start()
        try:
            return self.con.execute(self.sql, self.params) if self.params else self.con.execute(self.sql)
        except self._duckdb.InterruptException:
            if self.timed_out:
                raise SyscallError("ETIMEDOUT", f"the query ran past its {self.limits.timeout:g} s timeout") from None
            raise SyscallError("ECANCELED", "the query was cancelled") from None
        except self._duckdb.Error as e:
            raise SyscallError("EINVAL", f"the engine refused the query: {type(e).__name__}: "
                               f"{str(e).splitlines()[0]}") from None
        finally:
            if timer is not None:
                timer.cancel()

    def close(self) -> None:
        self.con.close()
