"""The queries' deadlines: one thread calls each action when its time comes, in order; a cancelled
one is never called; an earlier deadline added later is not kept waiting behind a later one."""
from __future__ import annotations

import threading
import time

from kernel.minerva.deadlines import Deadlines


def test_actions_come_in_deadline_order_and_cancelled_ones_never():
    deadlines, fired, done = Deadlines(), [], threading.Event()
    deadlines.add(0.30, lambda: (fired.append("late"), done.set()))
    cancelled = deadlines.add(0.10, lambda: fired.append("cancelled"))
    deadlines.add(0.05, lambda: fired.append("early"))  # added after a later one: still first
    Deadlines.cancel(cancelled)
    started = time.monotonic()
    assert done.wait(5)
    assert fired == ["early", "late"] and time.monotonic() - started >= 0.25


def test_an_action_waits_for_its_deadline():
    deadlines, done = Deadlines(), threading.Event()
    started = time.monotonic()
    deadlines.add(0.2, done.set)
    assert not done.wait(0.1) and done.wait(5) and time.monotonic() - started >= 0.2
