"""The Gateway's fixed per-query cost (issue 16): the operator's `query.execute` against raw DuckDB.

A `file` depot `lake` over TPC-H Parquet files (`bench_tpch.make_lake`) on an embedded kernel;
each round runs every query three ways, in turn, after a warm-up round:

1. kept: `query.execute` as the operator (no data policy), on the Gateway's kept engines;
2. fresh: the same, with no engine kept (a new DuckDB database per query, as before engines were
   kept): the pool's bounds set to 0 for these calls;
3. raw: DuckDB on one kept connection with a view per table, the query as written.

Medians of the client's wall time per query, and the overhead (Gateway − raw) of 1 and 2. `tiny`
(`SELECT count(*) FROM region`) shows the fixed cost alone.

    .venv/bin/python bench/bench_engine.py [--keep DIR] [--sf 1] [--only 2,6,22] [--runs 9] [--json]
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1]))
from bench_gateway import settle_threads
from bench_tpch import TABLES, engine, make_lake, qualified, queries

TINY = "SELECT count(*) FROM region"


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", default=None, help="the TPC-H Parquet files' directory (made there if missing)")
    parser.add_argument("--sf", type=float, default=1.0, help="scale factor (default 1; files of another are remade)")
    parser.add_argument("--only", default="2,6,22", help="TPC-H query numbers (default 2,6,22)")
    parser.add_argument("--runs", type=int, default=9, help="timed rounds (default 9)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    return parser.parse_args()


def timed(call: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    call()
    return (time.perf_counter() - t0) * 1000


def overhead(lake: Path, sqls: dict[str, str], runs: int) -> dict[str, dict[str, float]]:
    """Median ms per query: kept, fresh, raw."""
    from kernel.minerva.duckdb_engine import Engine
    from kernel.minerva.engines import Engines
    from syscalls import connect
    folder = lake / "tpch"
    with connect(f"embedded://{Path(tempfile.mkdtemp(prefix='dataos-bench-engine-')) / 'state'}") as op:
        op.resource.apply(manifests=[{"name": "lake", "version": "v1", "type": "depot",
                                      "depot": {"type": "file", "file": {"path": str(lake)}}}])
        settle_threads()
        gateway = op.transport.kernel.gateway
        kept, fresh = gateway.engines, Engines(Engine, per_key=0, most=0)
        raw = engine({t: f"SELECT * FROM read_parquet('{folder / t}.parquet')" for t in TABLES})

        def through(engines: Any, sql: str) -> Callable[[], Any]:
            def call() -> Any:
                gateway.engines = engines
                return op.query.execute(sql=qualified(sql), limit=-1)
            return call

        ways = {name: {"kept": through(kept, sql), "fresh": through(fresh, sql),
                       "raw": lambda sql=sql: raw.execute(sql).fetchall()} for name, sql in sqls.items()}
        times: dict[str, dict[str, list[float]]] = {n: {w: [] for w in calls} for n, calls in ways.items()}
        for round_ in range(runs + 1):
            for name, calls in ways.items():
                for way, call in calls.items():
                    ms = timed(call)
                    if round_:
                        times[name][way].append(ms)
        gateway.engines = kept
        raw.close()
    return {n: {w: statistics.median(v) for w, v in ways_.items()} for n, ways_ in times.items()}


def main() -> None:
    args = parse()
    root = Path(tempfile.mkdtemp(prefix="dataos-bench-engine-"))
    lake = Path(args.keep) if args.keep else root / "lake"
    try:
        make_lake(lake, args.sf)
        tpch = queries()
        sqls = {"tiny": TINY, **{f"Q{n}": tpch[int(n)] for n in args.only.split(",") if n.strip()}}
        result = overhead(lake, sqls, args.runs)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"operator query.execute vs raw DuckDB, medians of {args.runs} interleaved rounds (ms)\n")
    print(f"{'query':>6} {'raw':>9} {'kept':>9} {'fresh':>9} {'kept−raw':>9} {'fresh−raw':>10}")
    for name, m in result.items():
        print(f"{name:>6} {m['raw']:9.1f} {m['kept']:9.1f} {m['fresh']:9.1f} {m['kept'] - m['raw']:9.1f} "
              f"{m['fresh'] - m['raw']:10.1f}")


if __name__ == "__main__":
    main()
