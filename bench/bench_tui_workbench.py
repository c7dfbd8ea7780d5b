"""Workbench over a large result: `select *` over 10,000,000 rows × 5 columns from a parquet in a
temporary file depot (embedded kernel), headless through `app.run_test()`. Measures the time from
the first batch arriving to the first page rendered (goal ≤ 0.5 s), the time to jump to the last
row once the result is spooled, the whole stream's time, and the process's peak RSS (goal ≤ 300 MiB).

    .venv/bin/python bench/bench_tui_workbench.py [--rows 10000000] [--json]
"""
from __future__ import annotations

import asyncio
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1]))
from common import arguments, report  # noqa: E402


def rss_peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def measure(rows: int, tmp: Path) -> dict:
    import duckdb

    import syscalls
    from tui.app import DataOSApp
    from tui.workbench.grid import ResultGrid

    root = tmp / "lake"
    (root / "bench").mkdir(parents=True)
    con = duckdb.connect()
    con.execute("SET memory_limit='256MB'")
    con.execute(f"COPY (SELECT i AS id, i * 2 AS twice, 'name-' || i AS name, i / 7.0 AS ratio, "
                f"DATE '2020-01-01' + (i % 3650)::INT AS day FROM range({rows}) t(i)) "
                f"TO '{root}/bench/big.parquet' (ROW_GROUP_SIZE 122880)")
    con.close()
    client = syscalls.connect(f"embedded://{tmp}/state")
    client.resource.apply(manifests=[{"name": "lake", "version": "v1", "type": "depot",
                                      "depot": {"type": "file", "file": {"path": str(root)}}}])
    rss_before = rss_peak_mib()
    app = DataOSApp(lambda: client, screen="workbench")
    out: dict = {}
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        grid = screen.query_one(ResultGrid)
        screen.editor.text = "select * from lake.bench.big"
        start = time.monotonic()
        await pilot.press("f5")
        while grid.first_drawn_at is None:  # render_line drew a data row: the first page is on screen
            await asyncio.sleep(0.002)
        first_page = grid.first_drawn_at
        out["first_batch_s"] = screen.first_batch_at - start
        out["first_page_after_batch_s"] = first_page - screen.first_batch_at
        while screen.running:
            await asyncio.sleep(0.05)
        assert screen.error is None, screen.error
        out["stream_s"] = time.monotonic() - start
        out["rows"] = grid.rows
        grid.focus()
        t = time.monotonic()
        await pilot.press("end")
        await pilot.pause()
        out["jump_last_s"] = time.monotonic() - t
        last = grid.visible_text()[-1].split()[0]
        assert last == str(rows - 1), last
        out["spool_mib"] = Path(screen.spool.path).stat().st_size / 2**20
    client.close()
    out["rss_before_app_mib"] = rss_before
    out["rss_peak_mib"] = rss_peak_mib()
    return out


def main() -> None:
    args = arguments(__doc__, "rows", 10_000_000)
    with tempfile.TemporaryDirectory() as tmp:
        data = asyncio.run(measure(args.rows, Path(tmp)))
    report(f"TUI Workbench: select * over {args.rows:,} rows × 5 columns", [
        ("first batch → first page rendered", "≤ 0.5 s", f"{data['first_page_after_batch_s']:.3f} s"),
        ("run → first batch", "", f"{data['first_batch_s']:.3f} s"),
        ("whole stream spooled", "", f"{data['stream_s']:.1f} s"),
        ("jump to the last row", "", f"{data['jump_last_s']:.3f} s"),
        ("spool file", "", f"{data['spool_mib']:.0f} MiB"),
        ("peak RSS (whole process)", "≤ 300 MiB", f"{data['rss_peak_mib']:.0f} MiB"),
    ], args.json, data)


if __name__ == "__main__":
    main()
