"""Helpers of the TUI's tests."""
from __future__ import annotations

import asyncio


async def until(pilot, predicate, timeout: float = 20.0) -> None:
    """Wait for a condition (polling screens never go idle: `pilot.pause()` alone is not enough)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached"
        await pilot.pause(0.05)
