"""Operations' model: rows out of kernel answers, ages against an injectable clock, and the diff
between what a table shows and what the kernel says (so a table is patched, never rebuilt)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from rich.cells import cell_len

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
    return "" if t is None else age_seconds((now - t).total_seconds())


POD_COLUMNS = ("name", "phase", "restarts", "resource", "job", "workspace", "age")
RESOURCE_COLUMNS = ("name", "type", "workspace", "status", "runtime", "owner", "age")
# what a narrow table keeps, most important first (the type is the menu's: shown last)
POD_KEEP = ("name", "phase", "age", "resource", "job", "restarts", "workspace")
RESOURCE_KEEP = ("name", "status", "runtime", "age", "workspace", "owner", "type")
PHASE_STYLE = {"Running": "green", "Pending": "yellow", "Succeeded": "blue",
               "Failed": "bold red", "Stopped": "dim", "Unknown": "magenta"}


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


def age_until(s: float) -> float:
    """How many seconds after `s` the age string `age_seconds(s)` changes."""
    s = max(0.0, s)
    step = 1 if s < 120 else 60 if s < 7200 else 3600 if s < 172800 else 86400
    return step - s % step


class PodRows:
    """Pod rows with a cache: an unchanged pod costs a dict comparison, and keeps its row tuple
    until its age string changes (no new objects for the garbage collector while nothing does)."""

    def __init__(self) -> None:
        # name → (pod, row without age, created epoch, row, epoch until which the row holds)
        self._cache: dict[str, tuple[dict, tuple[str, ...], float | None, tuple[str, ...], float]] = {}

    def rows(self, pods: list[dict], now: dt.datetime, pause: Callable[[], object] = lambda: None
             ) -> dict[str, tuple[str, ...]]:
        """`pause` is called every 1,000 pods: a thread passes one that lets the UI thread run."""
        epoch = now.timestamp()
        cache, fresh = self._cache, {}
        for n, pod in enumerate(pods):
            if n % 1000 == 999:
                pause()
            name = pod.get("name", "")
            hit = cache.get(name)
            if hit is None or hit[0] != pod:
                t = parse_time(pod.get("created"))
                hit = (pod, pod_row(pod, now)[:-1], t.timestamp() if t else None, (), 0.0)
            if epoch >= hit[4]:
                if hit[2] is None:
                    hit = (hit[0], hit[1], None, hit[1] + ("",), float("inf"))
                else:
                    s = epoch - hit[2]
                    hit = (hit[0], hit[1], hit[2], hit[1] + (age_seconds(s),), epoch + age_until(s))
            fresh[name] = hit
        self._cache = fresh
        return {name: hit[3] for name, hit in fresh.items()}


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


@dataclass
class Diff:
    """What to do to a table: remove these keys, patch these cells, add these rows (key, cells)
    at the end, and, when adding at the end would put rows out of the model's order (a filter
    cleared), the whole order of keys afterwards."""
    add: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    update: list[tuple[str, int, str]] = field(default_factory=list)  # key, column index, value
    remove: list[str] = field(default_factory=list)
    order: list[str] | None = None
    widths: list[int] = field(default_factory=list)  # the widest added or changed cell of each column

    def __bool__(self) -> bool:
        return bool(self.add or self.update or self.remove or self.order)

    def __len__(self) -> int:
        return len(self.add) + len(self.update) + len(self.remove)


@dataclass
class TableModel:
    """The rows a table shows (after the filter) and the last good rows from the kernel.

    Its methods are pure computation (no widget), so a big table's model runs in a thread: the
    UI thread only applies the Diff they return."""
    rows: dict[str, tuple[str, ...]] = field(default_factory=dict)   # every row the kernel gave
    shown: dict[str, tuple[str, ...]] = field(default_factory=dict)  # what the table has now
    needle: str = ""

    def set_rows(self, rows: Iterable[tuple[str, tuple[str, ...]]] | dict[str, tuple[str, ...]]) -> Diff:
        self.rows = rows if isinstance(rows, dict) else dict(rows)
        return self._sync()

    def set_filter(self, needle: str) -> Diff:
        self.needle = needle
        return self._sync()

    def _sync(self) -> Diff:
        needle = self.needle.lower()
        want = self.rows if not needle else \
            {k: v for k, v in self.rows.items() if any(needle in cell.lower() for cell in v)}
        shown, diff = self.shown, Diff()
        diff.remove = [key for key in shown if key not in want]
        for key, cells in want.items():
            old = shown.get(key)
            if old is None:
                diff.add.append((key, cells))
            elif old is not cells and old != cells:
                diff.update.extend((key, i, c) for i, (o, c) in enumerate(zip(old, cells)) if o != c)
        if diff.add or diff.update:
            diff.widths = [max(map(cell_len, column)) for column in zip(*(cells for _, cells in diff.add))] \
                if diff.add else [0] * len(next(iter(want.values())))
            for _, index, value in diff.update:
                diff.widths[index] = max(diff.widths[index], cell_len(value))
        if diff.add:
            kept = [key for key in shown if key in want]
            if kept and not _in_order(kept, diff.add, want):
                diff.order = list(want)
        self.shown = want  # rows are replaced, never changed in place: sharing the dict is safe
        return diff


def _in_order(kept: list[str], add: list[tuple[str, tuple]], want: dict) -> bool:
    """Whether the kept rows followed by the added ones are in `want`'s order."""
    position = {key: i for i, key in enumerate(want)}
    last = -1
    for key in kept:
        if position[key] < last:
            return False
        last = position[key]
    return position[add[0][0]] > last and all(position[a[0]] < position[b[0]] for a, b in zip(add, add[1:]))
