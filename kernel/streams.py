"""Cooperative cancellation of streaming syscalls: the thread that runs a stream for a client
carries an event, set when the client goes away; idle loops (a quiet `logs -f`, a watch with
nothing new) check `cancelled()` and end."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

_local = threading.local()


def run_with(stop: threading.Event) -> None:
    """Mark the current thread's stream as cancellable by `stop`."""
    _local.stop = stop


def cancelled() -> bool:
    stop = getattr(_local, "stop", None)
    return stop is not None and stop.is_set()


def watch(first: list[Any], next_round: Callable[[float], Iterable[Any]], timeout: float | None) -> Iterator[Any]:
    """A watch: `first` (decided before the stream starts, so the call's audit record has its
    decisions), then what `next_round(seconds)` yields each time round — it waits up to that long
    for a change — until `timeout` or the client goes away."""
    deadline = None if timeout is None else time.monotonic() + timeout

    def events() -> Iterator[Any]:
        yield from first
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            if (left is not None and left <= 0) or cancelled():
                return
            yield from next_round(min(left, 1.0) if left is not None else 1.0)

    return events()
