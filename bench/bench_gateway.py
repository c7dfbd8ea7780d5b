"""The data plane (issue 4): governed SQL against raw DuckDB, planning, and a streamed export.

One deterministic Parquet dataset of `--rows` rows (DuckDB `range()`: id, email, phone, region,
amount, ordered_at; a quarter of the rows are region 'EU') in a temporary file depot.

1. Governed query vs raw DuckDB, same run (goal ≤ 1.10×). On an embedded kernel, an analyst
   (tag roles:id:analyst, granted `select`) gets two masks (keyed `hash` of email, `bucket_number`
   of amount) and one row filter (region = 'EU'), and runs through `query.execute`
       select region, count(*), count(distinct email), sum(amount) from lake.shop.orders group by region
   which scans every row. The baseline is the same query written by hand on raw DuckDB in this
   process (one connection, kept open): read_parquet(...), the same keyed hash (the kernel's
   function, `masks.keyed_hash`, registered on that connection), the same buckets, WHERE region
   = 'EU'. A second hand-written baseline computes the HMAC in SQL instead, with the pads as
   parameters (sha256(opad || unhex(sha256(ipad || encode(email))))): what the Gateway did before
   the key left the engine, so the price of that move shows. Also: the operator's ungoverned query
   through the Gateway, against the plain query on raw DuckDB, and (to tell the SQL's shape from
   the per-query cost) the Gateway's exact rewritten SQL run on raw DuckDB, on the kept connection
   and on a new one per query. The seven are interleaved, `--runs` rounds, after the kernel's
   background scan of the new depot has ended; medians of wall and process CPU time are reported
   (wall times on a shared machine move with its load), and the results are checked to agree.
2. Planning a 3-table join with two masks and a row filter applying: `kernel.gateway.plan.plan`
   called directly, `--plans` times: p50 and p95, warm (the governed-table cache hit, as in a
   running kernel) and with that cache cleared before every call (a new dataset or policy set).
3. `--rows` rows streamed to Parquet through the real CLI on a real local daemon (its own
   DATAOS_HOME, no demo): `dataos apply -f depot.yaml`, then (`--exports` times, interleaved with
   the baseline) `dataos query "select * from lake.shop.orders" --out FILE.parquet`: wall time,
   rows/s, the CLI's peak RSS (/usr/bin/time), the daemon's RSS (sampled every 20 ms; before,
   peak). Baseline: a Python subprocess in which DuckDB writes the same rows to Parquet
   (COPY … TO, zstd like the CLI), with its peak RSS. Both files are checked for `--rows` rows;
   the daemon is stopped (`dataos kernel stop`) at the end.

    .venv/bin/python bench/bench_gateway.py [--rows 10000000] [--runs 7] [--plans 2000] [--exports 3]
        [--only governed,plan,export] [--quick] [--json] [--keep DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from bench_runtime import MemoryWatch, cpu, rss  # noqa: E402
from common import percentile, report  # noqa: E402

ROLE = "roles:id:analyst"
REGIONS = ("EU", "US", "APAC", "LATAM")
BUCKETS = [0, 10, 100, 500]
QUERY = ("select region, count(*) as orders, count(distinct email) as customers, sum(amount) as total "
         "from lake.shop.orders group by region order by region")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=None, help="rows of the dataset (default 10,000,000)")
    parser.add_argument("--runs", type=int, default=None, help="interleaved rounds of part 1 (default 7)")
    parser.add_argument("--plans", type=int, default=None, help="plan() calls timed in part 2 (default 2000)")
    parser.add_argument("--exports", type=int, default=None, help="export rounds of part 3 (default 3)")
    parser.add_argument("--only", default="governed,plan,export", help="which parts to run (comma-separated)")
    parser.add_argument("--quick", action="store_true", help="1,000,000 rows, 3 rounds, 300 plans")
    parser.add_argument("--keep", default=None, help="keep the dataset in this directory (reused if there)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    args.rows = args.rows or (1_000_000 if args.quick else 10_000_000)
    args.runs = args.runs or (3 if args.quick else 7)
    args.plans = args.plans or (300 if args.quick else 2000)
    args.exports = args.exports or (1 if args.quick else 3)
    return args


def memory_total() -> str:
    try:
        with open("/proc/meminfo") as f:
            kb = int(next(line for line in f if line.startswith("MemTotal:")).split()[1])
        return f"{kb / 1024 / 1024:.1f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        return "? RAM"


# --- the dataset --------------------------------------------------------------------------------

def make_lake(root: Path, rows: int) -> tuple[Path, dict[str, Any]]:
    """`root/shop/orders.parquet`, `rows` rows, deterministic (made once per --keep directory)."""
    import duckdb
    parquet = root / "shop" / "orders.parquet"
    marker = root / "shop" / ".rows"
    if parquet.exists() and marker.exists() and marker.read_text() == str(rows):
        return parquet, {"generated_s": None, "bytes": parquet.stat().st_size}
    parquet.parent.mkdir(parents=True, exist_ok=True)
    regions = ", ".join(f"'{r}'" for r in REGIONS)
    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"""COPY (
        SELECT i AS id,
               'customer' || (i % {max(1, rows // 2)}) || '@example.com' AS email,
               '+1-555-' || lpad(CAST(i % 10000000 AS VARCHAR), 7, '0') AS phone,
               [{regions}][i % {len(REGIONS)} + 1] AS region,
               CAST((i * 7919) % 100000 AS DOUBLE) / 100 AS amount,
               TIMESTAMP '2025-01-01' + to_seconds(i % 31536000) AS ordered_at
        FROM range({rows}) t(i)) TO '{parquet}' (FORMAT parquet)""")
    con.close()
    marker.write_text(str(rows))
    return parquet, {"generated_s": time.perf_counter() - t0, "bytes": parquet.stat().st_size}


def manifests(lake: Path) -> list[dict[str, Any]]:
    selector = {"user": {"match": "any", "tags": [ROLE]}}
    return [
        {"name": "lake", "version": "v1", "type": "depot", "depot": {"type": "file", "file": {"path": str(lake)}}},
        {"name": "mask-email", "version": "v1", "type": "policy", "policy": {"data": {
            "type": "mask", "priority": 40, "dataset_id": "lake.shop.orders",
            "selector": {**selector, "column": {"names": ["email"]}},
            "mask": {"operator": "hash", "hash": {"algo": "sha256"}}}}},
        {"name": "bucket-amount", "version": "v1", "type": "policy", "policy": {"data": {
            "type": "mask", "priority": 40, "dataset_id": "lake.shop.orders",
            "selector": {**selector, "column": {"names": ["amount"]}},
            "mask": {"operator": "bucket_number", "bucket_number": {"buckets": BUCKETS}}}}},
        {"name": "eu-only", "version": "v1", "type": "policy", "policy": {"data": {
            "type": "filter", "priority": 50, "dataset_id": "lake.shop.orders", "selector": selector,
            "filters": [{"column": "region", "operator": "equals", "value": "EU"}]}}},
        {"name": "analysts-select", "version": "v1", "type": "policy", "policy": {"access": {
            "subjects": {"tags": [[ROLE]]}, "predicates": ["select"], "objects": {"paths": ["dataos://lake:shop/*"]}}}},
    ]


# --- 1. governed vs raw -------------------------------------------------------------------------

def hand_written(parquet: Path, hashed: str) -> str:
    """The analyst's query as one would write it on raw DuckDB, the email hashed by `hashed`."""
    source = f"read_parquet('{parquet}')"
    arms = " ".join(f"WHEN amount >= {b} THEN CAST({b} AS DOUBLE)" for b in reversed(BUCKETS))
    return (f"SELECT region, count(*) AS orders, count(DISTINCT email) AS customers, sum(amount) AS total FROM ("
            f"SELECT {hashed} AS email, CASE {arms} END AS amount, region FROM {source} WHERE region = 'EU') "
            f"GROUP BY region ORDER BY region")


def plain_query(parquet: Path) -> str:
    return (f"SELECT region, count(*) AS orders, count(DISTINCT email) AS customers, sum(amount) AS total "
            f"FROM read_parquet('{parquet}') GROUP BY region ORDER BY region")


def hmac_pads(key: bytes) -> dict[str, bytes]:
    """HMAC-SHA256's inner and outer pads of `key` (RFC 2104), for the in-SQL baseline."""
    block = key.ljust(64, b"\0")
    return {"ipad": bytes(b ^ 0x36 for b in block), "opad": bytes(b ^ 0x5C for b in block)}


def same(a: list, b: list) -> bool:
    """Rows equal, the float sums to 1e-9 relative (parallel sums may round differently)."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if list(x[:3]) != list(y[:3]) or abs(float(x[3]) - float(y[3])) > 1e-9 * max(1.0, abs(float(y[3]))):
            return False
    return True


def settle_threads(timeout: float = 300) -> float:
    """Wait for the embedded kernel's one-off background work (the catalog's first scan of a depot
    just applied: threads named scan-*) so it does not compete with the timed queries."""
    import threading
    t0 = time.monotonic()
    for thread in threading.enumerate():
        if thread.name.startswith("scan-"):
            thread.join(max(0.0, timeout - (time.monotonic() - t0)))
    return time.monotonic() - t0


def settle_process(pid: int, quiet: float = 1.0, timeout: float = 300) -> float:
    """Wait until a process has used (almost) no CPU for `quiet` seconds (a daemon's one-off work
    after an apply, such as the catalog's first scan of the depot)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        before = cpu(pid)
        time.sleep(quiet)
        after = cpu(pid)
        if before is None or after is None or after - before < 0.05 * quiet:
            break
    return time.monotonic() - t0


def bench_governed(root: Path, parquet: Path, runs: int) -> dict[str, Any]:
    import duckdb
    from kernel.gateway.masks import KEYED_HASH, keyed_hash
    from syscalls import connect
    from syscalls.client import Client
    out: dict[str, Any] = {"runs": runs, "query": QUERY}
    state = root / "state"
    with connect(f"embedded://{state}") as op:
        op.resource.apply(manifests=manifests(parquet.parent.parent))
        op.user.create(name="ana", tags=[ROLE])
        out["background_wait_s"] = settle_threads()
        ana = Client(op.transport, op.user.apikey.create(user="ana")["token"])

        key = (state / "gateway.key").read_bytes()
        params = hmac_pads(key)
        masked_sql = hand_written(parquet, f"{KEYED_HASH}(email)")
        masked_in_sql = hand_written(parquet, "sha256($opad || unhex(sha256($ipad || encode(email))))")
        plain_sql = plain_query(parquet)

        def engine() -> Any:
            """A DuckDB connection with what the Gateway's engine has: the view and the keyed hash."""
            con = duckdb.connect()
            con.execute(f'CREATE TEMPORARY VIEW "dataos://lake:shop/orders" AS SELECT * FROM read_parquet(\'{parquet}\')')
            con.create_function(KEYED_HASH, keyed_hash(key), ["VARCHAR"], "VARCHAR", type="arrow", side_effects=False)
            return con

        raw = engine()
        probe = ana.query.execute(sql=QUERY, limit=-1)
        out["governance"] = probe["governance"]
        gateway_sql = probe["governance"]["sql"]

        def fresh(sql: str) -> tuple[list, None]:
            """A new in-memory DuckDB for one query, as the Gateway's engine opens one per query."""
            con = engine()
            try:
                return con.execute(sql).fetchall(), None
            finally:
                con.close()

        def governed() -> tuple[list, float]:
            r = ana.query.execute(sql=QUERY, limit=-1)
            return r["rows"], r["elapsed_ms"]

        def operator() -> tuple[list, float]:
            r = op.query.execute(sql=QUERY, limit=-1)
            return r["rows"], r["elapsed_ms"]

        variants = {
            "governed": governed,
            "raw_masked": lambda: (raw.execute(masked_sql).fetchall(), None),
            "raw_masked_in_sql": lambda: (raw.execute(masked_in_sql, params).fetchall(), None),
            "operator": operator,
            "raw_plain": lambda: (raw.execute(plain_sql).fetchall(), None),
            "raw_gateway_sql": lambda: (raw.execute(gateway_sql).fetchall(), None),
            "raw_gateway_sql_fresh": lambda: fresh(gateway_sql),
        }
        results: dict[str, list] = {}
        for name, fn in variants.items():  # warm-up: the file in the page cache, DuckDB and sqlglot loaded
            results[name] = fn()[0]
        out["agree"] = {"governed_vs_raw_masked": same(results["governed"], results["raw_masked"]),
                        "raw_masked_vs_in_sql": same(results["raw_masked"], results["raw_masked_in_sql"]),
                        "governed_vs_gateway_sql": same(results["governed"], results["raw_gateway_sql"]),
                        "operator_vs_raw_plain": same(results["operator"], results["raw_plain"])}
        out["governed_rows"] = results["governed"]
        out["operator_rows"] = results["operator"]
        times: dict[str, list[float]] = {name: [] for name in variants}
        cpus: dict[str, list[float]] = {name: [] for name in variants}
        server: dict[str, list[float]] = {"governed": [], "operator": []}
        out["loadavg_before"] = os.getloadavg()
        for _ in range(runs):
            for name, fn in variants.items():
                c0, t0 = time.process_time(), time.perf_counter()
                _, elapsed = fn()
                times[name].append((time.perf_counter() - t0) * 1000)
                cpus[name].append((time.process_time() - c0) * 1000)
                if elapsed is not None:
                    server[name].append(elapsed)
        out["loadavg_after"] = os.getloadavg()
        raw.close()
    out["ms"] = {name: {"p50": statistics.median(v), "min": min(v), "max": max(v), "all": v}
                 for name, v in times.items()}
    out["cpu_ms"] = {name: {"p50": statistics.median(v), "min": min(v), "all": v} for name, v in cpus.items()}
    out["server_ms"] = {name: statistics.median(v) for name, v in server.items()}
    med = {name: v["p50"] for name, v in out["ms"].items()}
    out["ratio"] = med["governed"] / med["raw_masked"]
    out["ratio_paired"] = statistics.median(g / r for g, r in zip(times["governed"], times["raw_masked"]))
    out["ratio_min"] = out["ms"]["governed"]["min"] / out["ms"]["raw_masked"]["min"]
    out["ratio_cpu"] = out["cpu_ms"]["governed"]["p50"] / out["cpu_ms"]["raw_masked"]["p50"]
    out["ratio_operator"] = med["operator"] / med["raw_plain"]
    out["ratio_key_out_of_sql"] = med["raw_masked"] / med["raw_masked_in_sql"]
    out["ratio_shape"] = med["raw_gateway_sql"] / med["raw_masked"]
    out["ratio_overhead"] = med["governed"] / med["raw_gateway_sql"]
    out["ratio_fresh"] = med["raw_gateway_sql_fresh"] / med["raw_gateway_sql"]
    return out


# --- 2. planning --------------------------------------------------------------------------------

def bench_plan(count: int) -> dict[str, Any]:
    from kernel.gateway import Dataset, parse_data_policy, plan
    from kernel.gateway import masks
    tags = frozenset({"users:id:ana", ROLE})
    datasets = {
        ("shop", "sales", "orders"): Dataset("shop", "sales", "orders", {
            "id": "BIGINT", "customer_id": "BIGINT", "product_id": "BIGINT", "email": "VARCHAR",
            "region": "VARCHAR", "amount": "DOUBLE", "ordered_at": "TIMESTAMP"}),
        ("shop", "sales", "customers"): Dataset("shop", "sales", "customers", {
            "id": "BIGINT", "name": "VARCHAR", "email": "VARCHAR", "phone": "VARCHAR", "region": "VARCHAR"}),
        ("shop", "sales", "products"): Dataset("shop", "sales", "products", {
            "id": "BIGINT", "title": "VARCHAR", "category": "VARCHAR", "price": "DOUBLE"}),
    }
    selector = {"user": {"match": "any", "tags": [ROLE]}}
    policies = [
        parse_data_policy("mask-email", {"type": "mask", "priority": 40, "dataset_id": "shop.sales.*",
                                         "selector": {**selector, "column": {"names": ["email"]}},
                                         "mask": {"operator": "hash", "hash": {"algo": "sha256"}}}),
        parse_data_policy("bucket-amount", {"type": "mask", "priority": 40, "dataset_id": "shop.sales.orders",
                                            "selector": {**selector, "column": {"names": ["amount"]}},
                                            "mask": {"operator": "bucket_number",
                                                     "bucket_number": {"buckets": BUCKETS}}}),
        parse_data_policy("eu-only", {"type": "filter", "priority": 50, "dataset_id": "shop.sales.orders",
                                      "selector": selector,
                                      "filters": [{"column": "region", "operator": "equals", "value": "EU"}]}),
    ]
    sql = ("SELECT c.email, p.category, count(*) AS orders, sum(o.amount) AS total "
           "FROM shop.sales.orders o JOIN shop.sales.customers c ON o.customer_id = c.id "
           "JOIN shop.sales.products p ON o.product_id = p.id "
           "WHERE o.ordered_at >= TIMESTAMP '2025-06-01' AND p.price > 10 "
           "GROUP BY 1, 2 ORDER BY total DESC LIMIT 20")
    args = {"resolve": lambda name, collection, depot: datasets.get((depot, collection, name)),
            "can_select": lambda d: True, "policies": policies, "user_tags": tags}

    t0 = time.perf_counter()
    first = plan(sql, **args)
    first_ms = (time.perf_counter() - t0) * 1000
    assert set(first.policies) == {"mask-email", "bucket-amount", "eu-only"}, first.policies

    def timed(n: int, clear: bool) -> list[float]:
        out = []
        for _ in range(n):
            if clear:
                masks._governed_table.cache_clear()
            t = time.perf_counter()
            plan(sql, **args)
            out.append((time.perf_counter() - t) * 1000)
        return out

    timed(50, False)
    warm = timed(count, False)
    cold = timed(max(100, count // 4), True)
    return {"n": count, "sql": sql, "policies": list(first.policies), "first_ms": first_ms,
            "warm_ms": {"p50": statistics.median(warm), "p95": percentile(warm, 95), "p99": percentile(warm, 99)},
            "uncached_ms": {"n": len(cold), "p50": statistics.median(cold), "p95": percentile(cold, 95)}}


# --- 3. streamed export through the CLI ---------------------------------------------------------

COPY_SCRIPT = r"""
import sys, duckdb
con = duckdb.connect()
con.execute(f"COPY (SELECT * FROM read_parquet('{sys.argv[1]}')) TO '{sys.argv[2]}' (FORMAT parquet, COMPRESSION zstd)")
"""


def run_measured(argv: list[str], env: dict[str, str], scratch: Path) -> dict[str, Any]:
    """Run a child to its end under /usr/bin/time: exit code, wall time, peak RSS, CPU, stderr's tail.

    Not getrusage() of our own child: Linux counts the parent's RSS at fork/exec into the child's
    ru_maxrss, and this process holds hundreds of MiB by now; /usr/bin/time is a small parent."""
    stats = scratch / "time.out"
    timer = ["/usr/bin/time", "-f", "%M %U %S", "-o", str(stats)] if os.access("/usr/bin/time", os.X_OK) else []
    t0 = time.perf_counter()
    child = subprocess.Popen([*timer, *argv], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    watch = MemoryWatch(child.pid)  # the fallback, used only without /usr/bin/time
    watch.start()
    stderr = child.stderr.read()
    code = child.wait()
    wall = time.perf_counter() - t0
    watch.stop_event.set()
    watch.join(1)
    out = {"exit": code, "wall_s": wall, "stderr": stderr.decode(errors="replace")[-600:],
           "peak_rss_kb": watch.peak, "cpu_s": None, "peak_from": "VmHWM polled every 20 ms"}
    if timer and stats.exists():
        fields = stats.read_text().split()[-3:]
        out.update(peak_rss_kb=int(fields[0]), cpu_s=float(fields[1]) + float(fields[2]), peak_from="/usr/bin/time")
    return out


def parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq
    return pq.ParquetFile(path).metadata.num_rows


def bench_export(root: Path, parquet: Path, rows: int, runs: int) -> dict[str, Any]:
    home = root / "home"
    env = {**os.environ, "DATAOS_HOME": str(home), "DATAOS_NO_DEMO": "1", "NO_COLOR": "1", "DATAOS_NO_PAGER": "1"}
    dataos = str(Path(sys.executable).parent / "dataos")
    out: dict[str, Any] = {"rows": rows, "runs": runs}
    manifest = root / "depot.yaml"
    manifest.write_text(f"name: lake\nversion: v1\ntype: depot\ndepot:\n  type: file\n  file: {{path: "
                        f"{json.dumps(str(parquet.parent.parent))}}}\n")
    target, baseline = root / "export" / "orders.parquet", root / "export" / "duckdb.parquet"
    target.parent.mkdir(exist_ok=True)
    daemon = None
    try:
        applied = subprocess.run([dataos, "apply", "-f", str(manifest)], env=env, capture_output=True, text=True,
                                 timeout=120)
        if applied.returncode:
            raise RuntimeError(f"dataos apply: {applied.returncode}: {applied.stderr[-600:]}")
        status = subprocess.run([dataos, "kernel", "status", "-o", "json"], env=env, capture_output=True, text=True,
                                timeout=30)
        daemon = json.loads(status.stdout)["pid"]
        out["background_wait_s"] = settle_process(daemon)
        out["daemon_rss_before_kb"] = rss(daemon).get("VmRSS")
        clis, copies, daemon_peaks, daemon_cpus = [], [], [], []
        for _ in range(runs):  # interleaved: the CLI's export, then DuckDB's COPY
            target.unlink(missing_ok=True)
            baseline.unlink(missing_ok=True)
            daemon_cpu = cpu(daemon) or 0.0
            watch = MemoryWatch(daemon)
            watch.start()
            cli = run_measured([dataos, "query", "select * from lake.shop.orders", "--out", str(target)], env, root)
            watch.stop_event.set()
            watch.join(1)
            if cli["exit"]:
                raise RuntimeError(f"dataos query --out: exit {cli['exit']}: {cli['stderr']}")
            clis.append(cli)
            daemon_peaks.append(max((kb for _, kb in watch.samples), default=0))
            daemon_cpus.append((cpu(daemon) or watch.cpu or 0.0) - daemon_cpu)
            copy = run_measured([sys.executable, "-c", COPY_SCRIPT, str(parquet), str(baseline)], env, root)
            if copy["exit"]:
                raise RuntimeError(f"duckdb COPY: exit {copy['exit']}: {copy['stderr']}")
            copies.append(copy)
        out["file_rows"] = parquet_rows(target)
        out["file_bytes"] = target.stat().st_size
        out["duckdb_file_rows"] = parquet_rows(baseline)
        out["duckdb_file_bytes"] = baseline.stat().st_size
        out["daemon_rss_peak_kb"] = max(daemon_peaks)
        out["daemon_rss_after_kb"] = rss(daemon).get("VmRSS")
        out["daemon_hwm_kb"] = rss(daemon).get("VmHWM")
        out["daemon_cpu_s"] = statistics.median(daemon_cpus)
        out["cli"], out["duckdb"] = _runs(clis), _runs(copies)
    finally:
        stopped = subprocess.run([dataos, "kernel", "stop"], env=env, capture_output=True, text=True, timeout=60)
        out["kernel_stop"] = stopped.stdout.strip() or stopped.stderr.strip()
        if daemon and rss(daemon):
            time.sleep(1)
            if rss(daemon):
                os.kill(daemon, 9)
                out["daemon_killed"] = True
        for f in (target, baseline):
            f.unlink(missing_ok=True)
    return out


def _runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median wall and CPU, the highest peak RSS, every wall time, the last stderr."""
    return {"wall_s": statistics.median(r["wall_s"] for r in runs), "all_wall_s": [r["wall_s"] for r in runs],
            "cpu_s": statistics.median(r["cpu_s"] or 0.0 for r in runs),
            "peak_rss_kb": max(r["peak_rss_kb"] for r in runs), "peak_from": runs[-1]["peak_from"],
            "stderr": runs[-1]["stderr"]}


# --- the table ----------------------------------------------------------------------------------

def fmt(value: float | None, unit: str, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f} {unit}"


def rows_for(data: dict[str, Any]) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    n = data["rows"]
    g = data.get("governed")
    if g:
        ms = {k: v["p50"] for k, v in g["ms"].items()}
        rows += [
            (f"governed / raw masked DuckDB ({n:,} rows, median of {g['runs']})", "≤ 1.10×",
             f"{g['ratio']:.2f}×"),
            ("  same, median of each round's ratio", "-", f"{g['ratio_paired']:.2f}×"),
            ("  same, best run / best run", "-", f"{g['ratio_min']:.2f}×"),
            ("  same, process CPU time (medians)", "-", f"{g['ratio_cpu']:.2f}×"),
            ("  load average before → after (2 cores busy = 2.0)", "-",
             f"{g['loadavg_before'][0]:.1f} → {g['loadavg_after'][0]:.1f}"),
            ("  governed query.execute (analyst) p50", "-", fmt(ms["governed"], "ms")),
            ("  raw DuckDB, hand-written masks + filter p50", "-", fmt(ms["raw_masked"], "ms")),
            ("  raw DuckDB, the same with the HMAC in SQL (pads as parameters) p50", "-",
             fmt(ms["raw_masked_in_sql"], "ms")),
            ("  → the key out of the engine (kernel function / HMAC in SQL)", "-",
             f"{g['ratio_key_out_of_sql']:.2f}×"),
            ("  raw DuckDB, the Gateway's rewritten SQL p50", "-", fmt(ms["raw_gateway_sql"], "ms")),
            ("  → SQL shape (rewritten / hand-written)", "-", f"{g['ratio_shape']:.2f}×"),
            ("  → per-query cost (governed / rewritten on raw)", "-", f"{g['ratio_overhead']:.2f}×"),
            ("  raw DuckDB, rewritten SQL, new connection each p50", "-", fmt(ms["raw_gateway_sql_fresh"], "ms")),
            ("  → new connection / kept connection", "-", f"{g['ratio_fresh']:.2f}×"),
            ("  governed, server side (elapsed_ms) p50", "-", fmt(g["server_ms"]["governed"], "ms")),
            ("ungoverned operator query.execute p50", "-", fmt(ms["operator"], "ms")),
            ("  raw DuckDB, plain query p50", "-", fmt(ms["raw_plain"], "ms")),
            ("  operator / raw plain", "-", f"{g['ratio_operator']:.2f}×"),
            ("results agree (governed, operator)", "yes",
             "yes" if all(g["agree"].values()) else f"NO {g['agree']}"),
        ]
    p = data.get("plan")
    if p:
        rows += [
            (f"plan() 3-table join, 2 masks + filter, p50 (n={p['n']})", "≤ 2 ms", fmt(p["warm_ms"]["p50"], "ms", 2)),
            ("plan() p95", "-", fmt(p["warm_ms"]["p95"], "ms", 2)),
            (f"plan() p50, governed-table cache cleared (n={p['uncached_ms']['n']})", "-",
             fmt(p["uncached_ms"]["p50"], "ms", 2)),
            ("plan() first call in the process", "-", fmt(p["first_ms"], "ms", 1)),
        ]
    e = data.get("export")
    if e:
        cli, copy = e["cli"], e["duckdb"]
        rows += [
            (f"dataos query --out x.parquet, {n:,} rows: wall (median of {e['runs']})", "-",
             fmt(cli["wall_s"], "s", 2)),
            ("  rows/s", "-", f"{n / cli['wall_s'] / 1e6:.2f} M/s"),
            ("  rows in the file", f"{n:,}", f"{e['file_rows']:,}"),
            ("  CLI peak RSS", "bounded", fmt(cli["peak_rss_kb"] / 1024, "MiB")),
            ("  daemon RSS before → peak (sampled)", "bounded",
             f"{(e['daemon_rss_before_kb'] or 0) / 1024:.0f} → {(e['daemon_rss_peak_kb'] or 0) / 1024:.0f} MiB"),
            ("  CPU: CLI / daemon", "-", f"{cli['cpu_s'] or 0:.1f} / {(e['daemon_cpu_s'] or 0):.1f} s"),
            ("  file size (zstd)", "-", fmt(e["file_bytes"] / 2**20, "MiB", 0)),
            ("DuckDB COPY … TO parquet (subprocess): wall (median)", "-", fmt(copy["wall_s"], "s", 2)),
            ("  rows/s", "-", f"{n / copy['wall_s'] / 1e6:.2f} M/s"),
            ("  peak RSS", "-", fmt(copy["peak_rss_kb"] / 1024, "MiB")),
            ("  CPU", "-", fmt(copy["cpu_s"], "s")),
            ("  file size (zstd)", "-", fmt(e["duckdb_file_bytes"] / 2**20, "MiB", 0)),
            ("  rows in the file", f"{n:,}", f"{e['duckdb_file_rows']:,}"),
            ("  CLI / DuckDB wall", "-", f"{cli['wall_s'] / copy['wall_s']:.2f}×"),
        ]
    return rows


def main() -> None:
    args = parse()
    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    data: dict[str, Any] = {"rows": args.rows, "ram": memory_total()}
    began = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="dataos-bench-gateway-"))
    lake_root = Path(args.keep) if args.keep else root / "lake"
    errors: dict[str, str] = {}
    try:
        if parts & {"governed", "export"}:
            parquet, data["dataset"] = make_lake(lake_root, args.rows)
        steps = {"governed": lambda: bench_governed(root, parquet, args.runs),
                 "plan": lambda: bench_plan(args.plans),
                 "export": lambda: bench_export(root, parquet, args.rows, args.exports)}
        for name, step in steps.items():
            if name in parts:
                try:
                    data[name] = step()
                except Exception as e:  # noqa: BLE001 - the other parts still report
                    errors[name] = f"{type(e).__name__}: {e}"
    finally:
        shutil.rmtree(root, ignore_errors=True)
    data["runtime_s"] = time.monotonic() - began
    data["errors"] = errors
    rows = rows_for(data) + [("benchmark runtime", "-", fmt(data["runtime_s"], "s"))]
    if not args.json:
        print(f"{data['ram']}; dataset: {args.rows:,} rows"
              + (f", {data['dataset']['bytes'] / 2**20:.0f} MiB Parquet" if "dataset" in data else ""))
    report("Data plane: governed SQL, planning, streamed export", rows, args.json, data)
    for name, error in errors.items():
        print(f"error in {name}: {error}", file=sys.stderr)
    if errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
