"""The catalog's scanner on a DuckDB depot of many small tables (`kernel/metis/scan.py`).

A DuckDB database file of `--tables` tables (deterministic: 5–20 columns, 100–10,000 rows
each; BIGINT ids, low-cardinality INTEGER and VARCHAR, unique emails, DOUBLE, DECIMAL, DATE,
TIMESTAMP, BOOLEAN) is generated locally, then, in a fresh child process (so its peak RSS is
the scanner's own):

1. a full scan (`known` empty: schema, row count, profile and PII suggestions of every table),
   `--runs` times, median;
2. an unchanged re-scan (every fingerprint known: a `DESCRIBE` and a `count(*)` per table),
   `--runs` times, median;
3. for scale: opening one locked-down engine connection with the depot's setup (the read-only
   ATTACH of the file), median of 5 — what a connection per dataset would cost each table; and
   `SUMMARIZE` of every table on one connection, the profile this scanner does not use;
4. the child's peak RSS (getrusage), and its RSS before the first scan (DuckDB not loaded yet)
   and after the last (every connection closed).

    .venv/bin/python bench/bench_catalog_scan.py [--tables 1000] [--runs 5] [--quick] [--json] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from bench_runtime import rss  # noqa: E402
from common import report  # noqa: E402

#: column expressions over `i` (0..rows-1), one picked per column after the id
KINDS = ("(i % 7)::INTEGER", "(i * 1.37)::DOUBLE", "['EU', 'US', 'APAC'][i % 3 + 1]",
         "'user' || i || '@example.com'", "(i / 100)::DECIMAL(12, 2)", "DATE '2020-01-01' + (i % 1000)::INTEGER",
         "TIMESTAMP '2024-01-01' + to_seconds(i)", "i % 2 = 0", "md5(i::VARCHAR)")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", type=int, default=None, help="tables in the database (default 1,000)")
    parser.add_argument("--runs", type=int, default=None, help="scans of each kind (default 5)")
    parser.add_argument("--quick", action="store_true", help="200 tables, 3 runs")
    parser.add_argument("--keep", default=None, help="keep the database in this directory (reused if there)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)  # the child: scan this file
    args = parser.parse_args()
    args.tables = args.tables or (200 if args.quick else 1000)
    args.runs = args.runs or (3 if args.quick else 5)
    return args


def make_database(root: Path, tables: int) -> tuple[Path, dict[str, Any]]:
    """`root/warehouse.duckdb` with `tables` tables (made once per --keep directory)."""
    import duckdb
    path, marker = root / "warehouse.duckdb", root / ".tables"
    if path.exists() and marker.exists() and marker.read_text() == str(tables):
        return path, {"generated_s": None, "bytes": path.stat().st_size}
    root.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    rnd = random.Random(42)
    began = time.perf_counter()
    with duckdb.connect(str(path)) as con:
        for t in range(tables):
            columns = ["i AS id"] + [f"{rnd.choice(KINDS)} AS c{c}" for c in range(1, rnd.randint(5, 20))]
            rows = rnd.randint(100, 10_000)
            con.execute(f"CREATE TABLE t{t:04d} AS SELECT {', '.join(columns)} FROM range({rows}) r(i)")
    marker.write_text(str(tables))
    return path, {"generated_s": time.perf_counter() - began, "bytes": path.stat().st_size}


def worker(path: str, runs: int) -> dict[str, Any]:
    """The scans, in this (fresh) process."""
    from kernel.depot.attached import DuckDBDepot
    from kernel.metis.scan import Scanned, scan_depot
    from kernel.minerva.duckdb_engine import Limits, Query
    depot = DuckDBDepot("wh", {"path": path})
    rss_before = rss(os.getpid()).get("VmRSS")

    def timed(known: dict[str, str]) -> tuple[float, dict[str, str], dict[str, int]]:
        began, found, states = time.perf_counter(), {}, {}
        for item in scan_depot("wh", depot, known):
            if isinstance(item, Scanned):
                found[item.urn] = item.aspects["properties"]["fingerprint"]
            else:
                states[item.state] = states.get(item.state, 0) + 1
        return time.perf_counter() - began, found, states

    full = [timed({}) for _ in range(runs)]
    known = full[0][1]
    unchanged = [timed(known) for _ in range(runs)]
    opens = []
    for _ in range(5):
        began = time.perf_counter()
        Query("SELECT 1", depot.allowed_directories(), Limits(), setup=depot.setup()).close()
        opens.append(time.perf_counter() - began)
    summarize = _summarize(depot, Query, Limits)
    return {"full_s": statistics.median(t for t, _, _ in full), "full_runs_s": [t for t, _, _ in full],
            "full_states": full[0][2], "unchanged_s": statistics.median(t for t, _, _ in unchanged),
            "unchanged_runs_s": [t for t, _, _ in unchanged], "unchanged_states": unchanged[0][2],
            "open_s": statistics.median(opens), "summarize_s": summarize,
            "rss_before_kb": rss_before, "rss_after_kb": rss(os.getpid()).get("VmRSS"),
            "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}


def _summarize(depot: Any, query: Any, limits: Any) -> float:
    """`SUMMARIZE` of every table on one locked-down connection, seconds."""
    q = query("SELECT 1", depot.allowed_directories(), limits(), setup=depot.setup())
    try:
        names = [r[0] for r in q.con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = ?",
                                             [depot.alias]).fetchall()]
        began = time.perf_counter()
        for name in names:
            q.con.execute(f'SUMMARIZE SELECT * FROM "{depot.alias}".main."{name}"').fetchall()
        return time.perf_counter() - began
    finally:
        q.close()


def rows_for(data: dict[str, Any]) -> list[tuple[str, str, str]]:
    w, n = data["worker"], data["tables"]
    return [
        (f"full scan, {n:,} tables (median)", "seconds", f"{w['full_s']:.2f} s"),
        ("  per table", "-", f"{w['full_s'] / n * 1000:.1f} ms"),
        (f"unchanged re-scan, {n:,} tables (median)", "-", f"{w['unchanged_s']:.2f} s"),
        ("  per table", "-", f"{w['unchanged_s'] / n * 1000:.2f} ms"),
        ("open a locked-down connection + ATTACH", "-", f"{w['open_s'] * 1000:.0f} ms"),
        ("  × tables (a connection per dataset)", "-", f"{w['open_s'] * n:.0f} s"),
        ("SUMMARIZE every table, one connection", "-", f"{w['summarize_s']:.2f} s"),
        ("scanner process RSS before the first scan", "-", f"{w['rss_before_kb'] / 1024:.0f} MiB"),
        ("scanner process peak RSS", "-", f"{w['peak_rss_kb'] / 1024:.0f} MiB"),
        ("scanner process RSS after the scans", "-", f"{w['rss_after_kb'] / 1024:.0f} MiB"),
    ]


def main() -> None:
    args = parse()
    if args.worker:
        print(json.dumps(worker(args.worker, args.runs)))
        return
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="dataos-bench-catalog-"))
    try:
        path, database = make_database(root, args.tables)
        child = subprocess.run([sys.executable, __file__, "--worker", str(path), "--runs", str(args.runs)],
                               check=True, capture_output=True, text=True)
        data = {"tables": args.tables, "runs": args.runs, "database": database,
                "worker": json.loads(child.stdout.strip().splitlines()[-1])}
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    if not args.json:
        print(f"database: {args.tables:,} tables, {database['bytes'] / 2**20:.0f} MiB; "
              f"states of a full scan: {data['worker']['full_states']}, "
              f"of a re-scan: {data['worker']['unchanged_states']}")
    report("Catalog: scanning a DuckDB depot", rows_for(data), args.json, data)


if __name__ == "__main__":
    main()
