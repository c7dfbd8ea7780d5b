"""Cooperative cancellation of streaming syscalls: the thread that runs a stream for a client
carries an event, set when the client goes away; idle loops (a quiet `logs -f`, a watch with
nothing new) check `cancelled()` and end."""
from __future__ import annotations

import threading

_local = threading.local()


def run_with(stop: threading.Event) -> None:
    """Mark the current thread's stream as cancellable by `stop`."""
    _local.stop = stop


def cancelled() -> bool:
    stop = getattr(_local, "stop", None)
    return stop is not None and stop.is_set()
