"""Operations under load: 10,000 pods from a fake link, 200 pod state changes a second; how far
behind the pods table is (a change → its cell shows it; goal ≤ 1 s p99) and key press latency
(a cursor move handled; goal ≤ 100 ms p99), headless through `app.run_test()`.

    [BENCH_POLL_SECONDS=0.5] .venv/bin/python bench/bench_tui_operations.py [--seconds 10] [--json]
"""
from __future__ import annotations

import asyncio
import datetime as dt
import sys
import time

from textual import events
from textual.widgets import Input
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1]))
from common import arguments, report, summary  # noqa: E402

PODS = 10_000
RATE = 200  # changes per second
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


class FakeLink:
    """The Link interface (async call, stream) over 10,000 pods that the benchmark changes."""

    readonly = False
    healthy = True

    def __init__(self) -> None:
        phases = ("Running", "Pending", "Succeeded", "Failed")
        self.pods = {f"pod-{i:05d}": {
            "name": f"pod-{i:05d}", "workspace": "public", "resource": f"public/workflow/wf-{i % 50}",
            "job": f"job-{i % 5}", "phase": phases[i % 4], "labels": {},
            "created": (NOW - dt.timedelta(seconds=i)).isoformat(), "started": None, "finished": None,
            "exit_code": None, "reason": None, "node": "local"} for i in range(PODS)}

    def answer(self, name: str, req: dict):
        if name == "resource.types":
            return [{"type": "workflow", "level": "workspace", "versions": ["v1"], "summary": ""}]
        if name == "resource.list":
            return [{"name": f"wf-{i}", "type": "workflow", "workspace": "public", "owner": "op",
                     "status": {"aggregateStatus": "active"}} for i in range(50)]
        if name == "pod.list":
            return [dict(p) for p in list(self.pods.values())]
        return {}

    async def call(self, name: str, /, **req):
        return await asyncio.to_thread(self.answer, name, req)

    def stream(self, name: str, /, **req):
        return iter(())

    def close(self) -> None:
        pass


async def run(seconds: float) -> dict:
    from tui.app import DataOSApp
    from tui.operations.screen import OperationsScreen

    link = FakeLink()
    app = DataOSApp(lambda: None, screen="operations")
    app.link = link
    lags: list[float] = []
    keys: list[float] = []
    filter_ms = 0.0
    t0 = time.monotonic()
    async with app.run_test(size=(160, 50)):
        while not (isinstance(app.screen, OperationsScreen) and app.screen.pod_table.row_count == PODS):
            await asyncio.sleep(0.05)
        first_load = time.monotonic() - t0
        screen: OperationsScreen = app.screen
        table = screen.pod_table
        table.focus()
        while app.focused is not table:
            await asyncio.sleep(0.01)
        candidates = [k for i, k in enumerate(link.pods) if i % 4 != 3]  # not Failed yet
        pending: dict[str, float] = {}

        async def changer() -> None:
            step, per = 0.05, int(RATE * 0.05)
            i = 0
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                now = time.monotonic()
                for key in candidates[i:i + per]:
                    link.pods[key]["phase"] = "Failed"
                    pending[key] = now
                i += per
                await asyncio.sleep(step)

        def shown(key: str) -> str:
            return str(table.get_cell(key, "phase"))

        async def observer() -> None:
            while True:
                now = time.monotonic()
                for key, t in list(pending.items()):
                    if shown(key) == "Failed":
                        lags.append(now - t)
                        del pending[key]
                await asyncio.sleep(0.01)

        async def presser() -> None:
            end = time.monotonic() + seconds
            down = True
            while time.monotonic() < end:
                before = table.cursor_row
                start = time.monotonic()
                key = "down" if down else "up"
                app.post_message(events.Key(key, None))  # as the driver delivers a key press
                while table.cursor_row == before and time.monotonic() - start < 2:
                    await asyncio.sleep(0.001)
                keys.append(time.monotonic() - start)
                down = not down
                await asyncio.sleep(0.2)

        watch = asyncio.create_task(observer())
        await asyncio.gather(changer(), presser())
        deadline = time.monotonic() + 5
        while pending and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        watch.cancel()
        missed = len(pending)
        start = time.monotonic()
        app.post_message(events.Key("slash", "/"))
        while not isinstance(app.focused, Input):
            await asyncio.sleep(0.001)
        for key in "pod-0099":
            app.post_message(events.Key("minus" if key == "-" else key, key))
        while table.row_count != 10 and time.monotonic() - start < 10:
            await asyncio.sleep(0.005)
        filter_ms = (time.monotonic() - start) * 1000
    return {"first_load_s": first_load, "lag": summary(lags), "keys": summary(keys), "missed": missed,
            "filter_ms": filter_ms}


def main() -> None:
    import os
    args = arguments(__doc__, "seconds", 10)
    if os.environ.get("BENCH_POLL_SECONDS"):  # try another tick, e.g. BENCH_POLL_SECONDS=0.5
        from tui.operations.screen import OperationsScreen
        OperationsScreen.POLL_SECONDS = float(os.environ["BENCH_POLL_SECONDS"])
    data = asyncio.run(run(args.seconds))
    lag, keys = data["lag"], data["keys"]
    report(f"TUI Operations: {PODS:,} pods, {RATE} changes/s for {args.seconds} s", [
        ("app start to 10,000 pods shown", "", f"{data['first_load_s']:.2f} s"),
        ("table lag p50", "", f"{lag['p50'] * 1000:.0f} ms"),
        ("table lag p99", "≤ 1000 ms", f"{lag['p99'] * 1000:.0f} ms"),
        ("table lag max", "", f"{lag['max'] * 1000:.0f} ms"),
        ("changes not shown after 5 s", "0", str(data["missed"])),
        ("key press p50", "", f"{keys['p50'] * 1000:.0f} ms"),
        ("key press p99", "≤ 100 ms", f"{keys['p99'] * 1000:.0f} ms"),
        ("filter '/pod-0099' on 10,000 rows", "", f"{data['filter_ms']:.0f} ms"),
    ], args.json, data)


if __name__ == "__main__":
    main()
