"""The audit log: one record per answered syscall (who, what, object, decision, errno, duration),
on disk before the answer.

The calling thread appends its record to the journal (`audit.<n>.journal`, one JSON line, one
`write` to an O_APPEND file) before the call is answered, so a kill -9 a moment later cannot lose
it; if the journal cannot be written, the call is answered EUNAVAIL instead — nothing is answered
without its record. The record is also kept in memory, and a writer thread moves what is kept into
the database (`audit.db`) in batches (every 200 ms, or when the log is read), recording in the
same transaction how far into the journal it got, and syncs the journal to the disk. A restart
reads the journal from there: exactly what was not moved yet. The writer never stops: a batch it
cannot store (a full disk, text that is not valid Unicode) is logged once and tried again (the
text escaped), every `RETRY_MAX` seconds at most, until it is stored. A journal is replaced by a
new one past `ROTATE_AT` bytes, and deleted once moved.

On a full disk a record that does not fit in the journal is cut off again (the journal never
holds half a line) and the call is answered ENOSPC, naming the journal, until there is room.
So that this never happens to a call that did its work (an apply stored, then answered ENOSPC),
the journal keeps `RESERVE` bytes allocated past its end (fallocate, the size unchanged), and a
call is admitted only while at least `LOW` of them are left, or more can be reserved: on a full
disk new calls are refused with ENOSPC before they do anything, and the records of calls
already running fit in what is reserved.
"""
from __future__ import annotations

import ctypes
import errno
import functools
import json
import logging
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

from syscalls.errors import SyscallError, disk_full

from .clock import iso, parse_since
from .faults import Outage
from .store import Place, now

log = logging.getLogger("dataos.audit")
MIGRATIONS = [
    """
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, user TEXT, syscall TEXT NOT NULL,
        object TEXT, decision TEXT NOT NULL, policy TEXT, errno TEXT, duration_us INTEGER NOT NULL);
    CREATE INDEX audit_time ON audit (time);
    CREATE INDEX audit_user ON audit (user, time)
    """,
    "CREATE TABLE journal (segment INTEGER NOT NULL, offset INTEGER NOT NULL); "
    "INSERT INTO journal VALUES (0, 0)",
    # How far each replica's journals are moved (each kernel has journals of its own); the row of
    # the kernel that was alone so far is claimed by the first replica to start ('').
    "CREATE TABLE journals (replica TEXT PRIMARY KEY, segment INTEGER NOT NULL, offset INTEGER NOT NULL); "
    "INSERT INTO journals (replica, segment, offset) SELECT '', segment, offset FROM journal; "
    "DROP TABLE journal",
]
_MATCHES = {"sqlite": "GLOB", "postgresql": "~"}  # a syscall name against `--syscall`'s pattern
FLUSH_EVERY = 0.2  # seconds between moves of the journal into the database
ROTATE_AT = 8 * 2**20  # bytes: a fully moved journal this large is replaced by a new one
RETRY_MAX = 5.0  # seconds between attempts while the database cannot be written (how soon it resumes)
RESERVE = 64 * 2**10  # bytes allocated past the journal's end for records to come
LOW = 16 * 2**10  # with less reserve left, a new call waits for more (or is refused on a full disk)
MAX_OBJECT = 1024  # characters of a record's object (a megabyte-long name must not make a megabyte record)
_SEGMENT = re.compile(r"audit\.(\d+)\.journal")
_INSERT = ('INSERT INTO audit (time, "user", syscall, object, decision, policy, errno, duration_us) '
           "VALUES (?,?,?,?,?,?,?,?)")


class Audit:
    def __init__(self, place: Place) -> None:
        self.dir = place.directory
        self.db = place.database("audit", MIGRATIONS)
        self._append = threading.Lock()  # appends: the journal, its size, the records kept
        self._moving = threading.Lock()  # one mover at a time
        self._wake = threading.Event()
        self._closed = False
        self._failing = 0.0  # seconds to wait before the next attempt, while failing
        self._outage = Outage(log, "audit: moving records into the database")
        self._kept: list[tuple] = []  # appended, not yet moved
        self.replica = place.replica
        self._moved = self._claim()
        self._recover()
        self.segment = self._moved[0]
        self._fd = self._open(self.segment)
        self._size = os.fstat(self._fd).st_size  # = the offset moved to, all of it is in the database
        self._reserved = 0  # the journal's offset up to which its blocks are allocated
        self._reserve()
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    def _claim(self) -> tuple[int, int]:
        """This replica's row: how far its journals are moved (the lone kernel's of before replicas,
        if unclaimed and this directory has journals: it was that kernel)."""
        with self.db.transaction() as c:
            row = c.execute('SELECT segment, "offset" FROM journals WHERE replica=?', (self.replica,)).fetchone()
            if row is not None:
                return (row[0], row[1])
            journals = any(_SEGMENT.fullmatch(p.name) for p in self.dir.iterdir())  # a kernel ran here before
            claimed = journals and c.execute("UPDATE journals SET replica=? WHERE replica=''", (self.replica,)).rowcount
            if not claimed:
                c.execute('INSERT INTO journals (replica, segment, "offset") VALUES (?, 0, 0)', (self.replica,))
            row = c.execute('SELECT segment, "offset" FROM journals WHERE replica=?', (self.replica,)).fetchone()
            return (row[0], row[1])

    # --- the calling side ---------------------------------------------------------------------

    def admit(self) -> None:
        """Before a call does anything: ENOSPC, naming the journal, if its record might not fit."""
        if self._reserved - self._size >= LOW:
            return
        with self._append:
            if self._reserve():
                return
            journal = self._path(self.segment)
        raise SyscallError("ENOSPC", f"the disk is full: no room for the audit record of this call in {journal}; "
                           "nothing was done", path=str(journal))

    def record(self, user: str | None, syscall: str, obj: str | None, decision: str, policy: str | None,
               errno: str | None, duration_us: int) -> None:
        """Append one record to the journal; if it cannot be written, nothing is answered: ENOSPC
        on a full disk, EUNAVAIL otherwise."""
        if obj is not None and len(obj) > MAX_OBJECT:
            obj = obj[:MAX_OBJECT - 1] + "…"
        row = (now(), user, syscall, obj, decision, policy, errno, duration_us)
        line = (json.dumps(row) + "\n").encode()
        with self._append:
            written = 0
            try:
                while written < len(line):  # after a short write, the next one says what stopped it
                    written += os.write(self._fd, line[written:])
            except OSError as e:
                if written:  # cut off what fitted: the journal holds whole lines only
                    os.ftruncate(self._fd, self._size)
                error = e
            else:
                self._size += written
                self._kept.append((row, self.segment, self._size))
                if self._size >= ROTATE_AT:
                    self._rotate()
                elif self._reserved - self._size < LOW:
                    self._reserve()
                return
            journal = self._path(self.segment)
        log.error("audit journal %s not written (%s): call %s by %s refused", journal, error.strerror, syscall, user)
        full = disk_full(error, journal)
        if full is not None:
            raise SyscallError("ENOSPC", f"{full.message} (the audit log: the call was not answered)",
                               path=str(journal))
        raise SyscallError("EUNAVAIL", f"the audit log cannot be written ({error.strerror}); the call was not answered")

    def backlog(self) -> int:
        """Records in the journal not yet moved into the database."""
        return len(self._kept)

    def list(self, user: str | None = None, syscall: str | None = None, since: str | None = None,
             errors_only: bool = False, limit: int = 100) -> list[dict[str, Any]]:
        """The records, newest first: every call answered before this one, here or (after one
        move of their writers, FLUSH_EVERY) by the other replicas over this database (those
        listening to it now)."""
        self.flush()
        if self.db.replicated():
            time.sleep(FLUSH_EVERY * 1.5)
        sql, params = "SELECT * FROM audit WHERE 1=1", []
        if user is not None:
            sql += ' AND "user"=?'
            params.append(user)
        if syscall is not None:
            sql += f" AND syscall {_MATCHES[self.db.dialect]} ?"
            params.append(syscall if self.db.dialect == "sqlite" else _glob_regex(syscall))
        if since is not None:
            sql += " AND time >= ?"
            params.append(iso(parse_since(since, "since")))
        if errors_only:
            sql += " AND errno IS NOT NULL"
        rows = self.db.query(sql + " ORDER BY seq DESC LIMIT ?", [*params, max(0, limit)])
        return [{k: r[k] for k in ("time", "user", "syscall", "object", "decision", "policy", "errno",
                                   "duration_us")} for r in rows]

    # --- the writer ---------------------------------------------------------------------------

    def flush(self) -> None:
        """Move the records kept into the database now (raises if the database fails; then they
        stay kept, for the next attempt)."""
        with self._moving:
            with self._append:
                batch = self._kept[:]
            if not batch:
                return
            segment, offset = batch[-1][1:]
            for journal in {s for _, s, _ in batch}:
                _sync(self._path(journal))  # durable past an OS crash too, at most FLUSH_EVERY late
            self._store([row for row, _, _ in batch], segment, offset)
            with self._append:
                del self._kept[:len(batch)]
            for old in range(self._moved[0], segment):
                self._path(old).unlink(missing_ok=True)
            self._moved = (segment, offset)

    def _store(self, rows: list[tuple], segment: int, offset: int) -> None:
        """The rows, and how far into the journals they reach, in one transaction."""
        try:
            self._insert(rows, segment, offset)
        except self.db.TextError:  # lone surrogates (a kernel bug let one through), NUL: stored escaped
            self._insert([tuple(_escaped(v) for v in row) for row in rows], segment, offset)

    def _insert(self, rows: list[tuple], segment: int, offset: int) -> None:
        with self.db.transaction() as c:
            c.executemany(_INSERT, rows)
            c.execute('UPDATE journals SET segment=?, "offset"=? WHERE replica=?', (segment, offset, self.replica))

    def _rotate(self) -> None:
        """Append to a new journal from now on (holding `_append`); the old one goes once moved.
        If the new one cannot be made (no room for it), the old one grows until the next record."""
        try:
            fd = self._open(self.segment + 1)
        except OSError as e:
            log.warning("audit: journal %s not made (%s); appending to the current one", self._path(self.segment + 1),
                        e.strerror)
            return
        os.close(self._fd)
        self._fd, self.segment, self._size, self._reserved = fd, self.segment + 1, 0, 0
        self._reserve()

    def _reserve(self) -> bool:
        """Allocate RESERVE bytes past the journal's end (holding `_append`, or alone); False on a
        full disk. Where the file system cannot (or no fallocate), appends go unreserved, as before."""
        try:
            _fallocate(self._fd, self._size, RESERVE)
        except OSError as e:
            if e.errno in (errno.ENOSPC, errno.EDQUOT):
                return False
            self._reserved = 2**62  # not supported here: every call is admitted
            return True
        self._reserved = self._size + RESERVE
        return True

    def _recover(self) -> None:
        """At start: move what an earlier kernel appended but did not move, journal by journal."""
        segments = sorted(int(m[1]) for p in self.dir.iterdir() if (m := _SEGMENT.fullmatch(p.name)))
        for segment in segments:
            start = self._moved[1] if segment == self._moved[0] else 0
            if segment < self._moved[0]:
                self._path(segment).unlink(missing_ok=True)  # moved, its deletion interrupted
                continue
            _drop_torn_tail(self._path(segment))
            with open(self._path(segment), "rb") as f:
                f.seek(start)
                data = f.read()
            rows = [_row(line) for line in data.splitlines() if line.strip()]
            self._store(rows, segment, start + len(data))
            for old in range(self._moved[0], segment):
                self._path(old).unlink(missing_ok=True)
            self._moved = (segment, start + len(data))

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self._failing or FLUSH_EVERY)
            self._wake.clear()
            try:
                self.flush()
                self._failing = 0.0
                self._outage.resumed()
            except Exception as e:  # never stop: the journal keeps every record until it can be stored
                self._failing = min(RETRY_MAX, max(FLUSH_EVERY, self._failing * 2))
                self._outage.failed(e)

    def _open(self, segment: int) -> int:
        return os.open(self._path(segment), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def _path(self, segment: int) -> Path:
        return self.dir / f"audit.{segment}.journal"

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        self._thread.join(timeout=5)
        try:
            self.flush()
        except Exception:
            log.exception("audit: the journal's rest stays for the next start")
        os.close(self._fd)
        self.db.close()


def _fallocate(fd: int, offset: int, length: int) -> None:
    """Linux's fallocate(2) with FALLOC_FL_KEEP_SIZE: blocks allocated, the file's size unchanged."""
    function = _libc_fallocate()
    if function is None:
        raise OSError(errno.EOPNOTSUPP, "fallocate is not available")
    if function(fd, 1, offset, length) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


@functools.cache
def _libc_fallocate() -> Any:
    try:
        function = ctypes.CDLL(None, use_errno=True).fallocate
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    return function


def _row(line: bytes) -> tuple:
    time, user, syscall, obj, decision, policy, errno, duration = json.loads(line)
    return time, user, syscall, obj, decision, policy, errno, duration


def _escaped(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    return value.encode("utf-8", "backslashreplace").decode("utf-8").replace("\0", "\\x00")


def _glob_regex(pattern: str) -> str:
    """SQLite's GLOB `pattern` (`*`, `?`, `[...]`, case-sensitive) as an anchored POSIX regex."""
    out, i = ["^"], 0
    while i < len(pattern):
        ch = pattern[i]
        end = pattern.find("]", i + 2) if ch == "[" else -1
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif end != -1:
            body = pattern[i + 1:end]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out) + "$"


def _sync(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _drop_torn_tail(path: Path) -> None:
    """Cut a last line a crash left half-written (only a power loss can; it was never answered)."""
    with open(path, "r+b") as f:
        data = f.read()
        if data and not data.endswith(b"\n"):
            f.truncate(data.rfind(b"\n") + 1)
