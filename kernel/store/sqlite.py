"""SQLite in WAL mode: a service's database file, its migrations numbered in `PRAGMA user_version`."""
from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from syscalls.errors import disk_full


class SQLiteStore:
    """One service's database: a connection shared by the kernel's threads, writes serialized."""
    dialect = "sqlite"
    IntegrityError = sqlite3.IntegrityError
    TextError: tuple[type[Exception], ...] = (UnicodeEncodeError,)  # text it cannot store (lone surrogates)

    def __init__(self, path: Path, migrations: Sequence[str]) -> None:
        self.path = path
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.execute("PRAGMA busy_timeout=5000")
        self.lock = threading.RLock()
        self._migrate(migrations)

    def _migrate(self, migrations: Sequence[str]) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(migrations[version:], start=version + 1):
            with self.transaction() as c:
                for statement in filter(str.strip, script.split(";")):
                    c.execute(statement)
                c.execute(f"PRAGMA user_version={number}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT, rolled back on any exception (a failed COMMIT too): all or
        nothing. A full disk is ENOSPC naming this database."""
        with self.lock, self._full():
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
                self.conn.execute("COMMIT")
            except BaseException:
                if self.conn.in_transaction:  # SQLite may have rolled back already (a full disk)
                    self.conn.execute("ROLLBACK")
                raise

    def on_change(self, callback: Callable[[], None]) -> None:
        """Nothing to hear: one kernel owns these files (its state directory's lock)."""

    def replicated(self) -> bool:
        """One kernel owns these files."""
        return False

    def version(self) -> int:
        """No one else writes here."""
        return 0

    def on_message(self, topic: str, callback: Callable[[str, str], None]) -> None:
        """No other replica to hear from."""

    def send(self, topic: str, data: str) -> None:
        """No other replica to tell."""

    def query(self, sql: str, params: Sequence = ()) -> list[sqlite3.Row]:
        with self.lock, self._full():
            return self.conn.execute(sql, params).fetchall()

    @contextmanager
    def _full(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as e:
            raise disk_full(e, self.path) or e

    def close(self) -> None:
        with self.lock:
            self.conn.close()

