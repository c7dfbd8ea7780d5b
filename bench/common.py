"""Small helpers shared by the benchmarks: percentiles, the machine, a results table."""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from typing import Callable


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50": statistics.median(values), "p99": percentile(values, 99),
            "max": max(values), "min": min(values)}


def machine() -> str:
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, {cpu}, Python {sys.version.split()[0]}"


def report(title: str, rows: list[tuple[str, str, str]], as_json: bool, data: dict) -> None:
    if as_json:
        print(json.dumps({"title": title, "machine": machine(), **data}, indent=2))
        return
    print(f"{title}\n{machine()}\n")
    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)}  {'goal':>14}  {'measured':>14}")
    for name, goal, measured in rows:
        print(f"{name.ljust(width)}  {goal:>14}  {measured:>14}")


def sample(fn: Callable[[], object], n: int, warmup: int = 100) -> list[float]:
    """Run fn `warmup` times, then time `n` calls; microseconds each."""
    for _ in range(warmup):
        fn()
    clock = time.perf_counter_ns
    out = []
    for _ in range(n):
        start = clock()
        fn()
        out.append((clock() - start) / 1000)
    return out


def arguments(doc: str | None, count: str, default: int) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(f"--{count}", type=int, default=default)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    return parser.parse_args()
