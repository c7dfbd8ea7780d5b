"""Workbench over a large result: `select *` over 10,000,000 rows × 5 columns from a parquet in a
temporary file depot (embedded kernel), headless through `app.run_test()`, along two paths:

- the default: the run stops at the fetch limit (100,000 rows, and a probe row that says "more");
- fetch all: the same run, then ctrl+l re-runs it without a limit, spooling every row.

Each path runs `--runs` times, each in a fresh process (so its peak RSS is its own); the figures
are medians. Measures the time from the first batch arriving to the first page drawn (goal
≤ 0.5 s), the stream's time, End → the last row drawn, the spool file's size, and the process's
peak RSS (goal ≤ 300 MiB).

    .venv/bin/python bench/bench_tui_workbench.py [--rows 10000000] [--runs 3] [--json]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1]))
from common import report  # noqa: E402


def rss_peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_lake(rows: int, root: Path) -> None:
    import duckdb
    (root / "bench").mkdir(parents=True)
    con = duckdb.connect()
    con.execute("SET memory_limit='256MB'")
    con.execute(f"COPY (SELECT i AS id, i * 2 AS twice, 'name-' || i AS name, i / 7.0 AS ratio, "
                f"DATE '2020-01-01' + (i % 3650)::INT AS day FROM range({rows}) t(i)) "
                f"TO '{root}/bench/big.parquet' (ROW_GROUP_SIZE 122880)")
    con.close()


async def until(pilot, predicate, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def measure(rows: int, root: Path, state: Path, path: str) -> dict:
    import syscalls
    from tui.app import DataOSApp

    client = syscalls.connect(f"embedded://{state}")
    client.resource.apply(manifests=[{"name": "lake", "version": "v1", "type": "depot",
                                      "depot": {"type": "file", "file": {"path": str(root)}}}])
    out: dict = {"rss_before_app_mib": rss_peak_mib()}
    app = DataOSApp(lambda: client, screen="workbench")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        out["fetch_limit"] = screen.fetch_limit
        screen.editor.text = "select * from lake.bench.big"
        start = time.monotonic()
        await pilot.press("f5")
        await until(pilot, lambda: screen.current is not None and screen.current.first_batch_at is not None)
        view = screen.current
        while view.grid.first_drawn_at is None:  # render_line drew a data row: the first page is on screen
            await asyncio.sleep(0.002)
        out["first_batch_s"] = view.first_batch_at - start
        out["first_page_after_batch_s"] = view.grid.first_drawn_at - view.first_batch_at
        await until(pilot, lambda: not view.running)
        assert view.error is None, view.error
        out["stream_s"] = time.monotonic() - start
        out["overflow"] = view.overflow
        if path == "all":
            assert view.overflow or screen.fetch_limit is None or rows <= screen.fetch_limit
            start = time.monotonic()
            await pilot.press("ctrl+l")
            await until(pilot, lambda: not view.running and not view.overflow, timeout=30)
            assert view.error is None, view.error
            out["fetch_all_s"] = time.monotonic() - start
        grid = view.grid
        out["rows"] = grid.rows
        grid.focus()
        t = time.monotonic()
        await pilot.press("end")
        await pilot.pause()
        out["jump_last_s"] = time.monotonic() - t
        last = grid.visible_text()[-1].split()[0]
        assert last == str(grid.rows - 1), last
        out["spool_mib"] = Path(view.spool.path).stat().st_size / 2**20
    client.close()
    out["rss_peak_mib"] = rss_peak_mib()
    return out


def child(args: argparse.Namespace) -> None:
    data = asyncio.run(measure(args.rows, Path(args.lake), Path(args.state), args.child))
    print(json.dumps(data))


def median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--child", choices=("limit", "all"), help=argparse.SUPPRESS)
    parser.add_argument("--lake", help=argparse.SUPPRESS)
    parser.add_argument("--state", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    env = {**os.environ}
    env.pop("DATAOS_TUI_FETCH_LIMIT", None)  # the shipped default
    results: dict[str, list[dict]] = {"limit": [], "all": []}
    with tempfile.TemporaryDirectory() as tmp:
        lake = Path(tmp) / "lake"
        make_lake(args.rows, lake)
        for i in range(args.runs):
            for path in ("limit", "all"):
                proc = subprocess.run([sys.executable, __file__, "--rows", str(args.rows), "--child", path,
                                       "--lake", str(lake), "--state", f"{tmp}/state-{path}-{i}"],
                                      capture_output=True, text=True, env=env)
                if proc.returncode:
                    sys.exit(f"{path} run {i} failed:\n{proc.stderr[-3000:]}")
                results[path].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    lim, full = results["limit"], results["all"]
    data = {"rows": args.rows, "runs": args.runs, "fetch_limit": lim[0]["fetch_limit"], "limit": lim, "all": full}
    n = f"{args.runs} runs, medians"
    report(f"TUI Workbench: select * over {args.rows:,} rows × 5 columns ({n})", [
        ("default: first batch → first page drawn", "≤ 0.5 s", f"{median(lim, 'first_page_after_batch_s'):.3f} s"),
        ("default: run → first batch", "", f"{median(lim, 'first_batch_s'):.3f} s"),
        ("default: rows fetched (limit, 'more rows')", "", f"{lim[0]['rows']:,}" + (" +more" if lim[0]["overflow"] else "")),
        ("default: run → done", "", f"{median(lim, 'stream_s'):.2f} s"),
        ("default: End → last row drawn", "", f"{median(lim, 'jump_last_s'):.3f} s"),
        ("default: spool file", "", f"{median(lim, 'spool_mib'):.1f} MiB"),
        ("default: peak RSS (whole process)", "≤ 300 MiB", f"{median(lim, 'rss_peak_mib'):.0f} MiB"),
        ("fetch all (ctrl+l): rows", "", f"{full[0]['rows']:,}"),
        ("fetch all: ctrl+l → every row spooled", "", f"{median(full, 'fetch_all_s'):.2f} s"),
        ("fetch all: End → last row drawn", "", f"{median(full, 'jump_last_s'):.3f} s"),
        ("fetch all: spool file", "", f"{median(full, 'spool_mib'):.0f} MiB"),
        ("fetch all: peak RSS (whole process)", "≤ 300 MiB", f"{median(full, 'rss_peak_mib'):.0f} MiB"),
    ], args.json, data)


if __name__ == "__main__":
    main()
