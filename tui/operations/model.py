"""Operations' model: rows out of kernel answers, ages against an injectable clock, and the diff
between what a table shows and what the kernel says (so a table is patched, never rebuilt)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def parse_time(value: Any) -> dt.datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


def age(value: Any, now: dt.datetime) -> str:
    """kubectl-style age: 42s, 5m, 3h, 2d."""
    t = parse_time(value)
    if t is None:
        return ""
    s = max(0, int((now - t).total_seconds()))
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    if s < 172800:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


POD_COLUMNS = ("name", "phase", "restarts", "resource", "job", "workspace", "age")
RESOURCE_COLUMNS = ("name", "type", "workspace", "status", "runtime", "owner", "age")
PHASE_STYLE = {"Running": "green", "Pending": "yellow", "Succeeded": "blue",
               "Failed": "bold red", "Unknown": "magenta"}


def pod_row(pod: dict, now: dt.datetime) -> tuple[str, ...]:
    restarts = pod.get("restarts")
    return (str(pod.get("name", "")), str(pod.get("phase") or ""),
            "" if restarts is None else str(restarts), str(pod.get("resource") or ""),
            str(pod.get("job") or ""), str(pod.get("workspace") or ""), age(pod.get("created"), now))


def age_seconds(s: float) -> str:
    s = max(0, int(s))
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    if s < 172800:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


class PodRows:
    """Pod rows with a cache: an unchanged pod costs a dict comparison and an age, not a parse."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[dict, tuple[str, ...], float | None]] = {}

    def rows(self, pods: list[dict], now: dt.datetime) -> list[tuple[str, tuple[str, ...]]]:
        epoch = now.timestamp()
        cache, fresh, out = self._cache, {}, []
        for pod in pods:
            name = pod.get("name", "")
            hit = cache.get(name)
            if hit is None or hit[0] != pod:
                t = parse_time(pod.get("created"))
                hit = (pod, pod_row(pod, now)[:-1], t.timestamp() if t else None)
            fresh[name] = hit
            out.append((name, hit[1] + ("" if hit[2] is None else age_seconds(epoch - hit[2]),)))
        self._cache = fresh
        return out


def resource_key(r: dict) -> str:
    return f"{r.get('workspace') or '-'}/{r.get('type')}/{r.get('name')}"


def resource_row(r: dict, now: dt.datetime) -> tuple[str, ...]:
    status = r.get("status") or {}
    runtime = status.get("runtime")
    if isinstance(runtime, dict):
        runtime = runtime.get("state") or runtime.get("runtime")
    return (str(r.get("name", "")), str(r.get("type", "")), str(r.get("workspace") or ""),
            str(status.get("aggregateStatus") or status.get("state") or ""), str(runtime or ""),
            str(r.get("owner") or ""), age(status.get("created"), now))


def matches(row: tuple[str, ...], needle: str) -> bool:
    if not needle:
        return True
    needle = needle.lower()
    return any(needle in cell.lower() for cell in row)


@dataclass
class Diff:
    """What to do to a table: add these rows (key, cells), patch these cells, remove these keys."""
    add: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    update: list[tuple[str, int, str]] = field(default_factory=list)  # key, column index, value
    remove: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.add or self.update or self.remove)


@dataclass
class TableModel:
    """The rows a table shows (after the filter) and the last good rows from the kernel."""
    rows: dict[str, tuple[str, ...]] = field(default_factory=dict)   # every row the kernel gave
    shown: dict[str, tuple[str, ...]] = field(default_factory=dict)  # what the table has now
    needle: str = ""

    def set_rows(self, rows: Iterable[tuple[str, tuple[str, ...]]]) -> Diff:
        self.rows = dict(rows)
        return self._sync()

    def set_filter(self, needle: str) -> Diff:
        self.needle = needle
        return self._sync()

    def _sync(self) -> Diff:
        want = {k: v for k, v in self.rows.items() if matches(v, self.needle)}
        diff = Diff()
        for key in self.shown:
            if key not in want:
                diff.remove.append(key)
        for key, cells in want.items():
            old = self.shown.get(key)
            if old is None:
                diff.add.append((key, cells))
            elif old != cells:
                diff.update.extend((key, i, c) for i, (o, c) in enumerate(zip(old, cells)) if o != c)
        self.shown = want
        return diff
