"""Governed SQL speed on TPC-H (issue 16's measurement base): the 22 queries through the Gateway.

Data: DuckDB's `tpch` extension from the `duckdb-extension-tpch` wheel (the `bench` extra, the
same version as duckdb; installed into this Python if missing) generates scale factor `--sf`
offline (`CALL dbgen`), each table written to `ROOT/tpch/<table>.parquet`, a `file` depot `lake`
on an embedded kernel. The queries are the extension's `tpch_queries()`, their tables qualified
with sqlglot as `lake.tpch.<table>` for the Gateway.

Each round runs every query four ways, in turn (`--runs` rounds after a warm-up round whose
results are compared); medians of the client's wall time per query:

1. raw: DuckDB on the Parquet files (one kept connection, a view per table), the query as written;
2. operator: `query.execute` through the Gateway as the operator (no data policy applies);
3. governed: `query.execute` as `ana` (tag roles:id:analyst), under masks and row filters:
   customer of the EUROPE nations only (`c_nationkey in` the region's keys: filters are literal),
   `c_phone` keyed-hashed, `c_acctbal` bucketed; orders from 1993 on, `o_comment` redacted;
   lineitem shipped from 1993 up to 1998;
4. hand-written: raw DuckDB with views over the Parquet files applying the same masks (the
   kernel's keyed hash registered on the connection) and filters, the query as written;
5. rewritten: the Gateway's rewritten SQL for 3 run on the kept raw connection (the datasets as
   temporary views named by address, as the Gateway's engine has them), which tells the SQL's
   shape (5 / 4) from the Gateway's per-query cost (3 / 5: planning, a new engine, JSON rows).

2 is checked against 1, 4 and 5 against 3 (in order where the query orders its rows, otherwise as
multisets; floats to 1e-9 relative). Planning: `kernel.gateway.plan.plan` for each query and
the governed user, called directly (warm), p50 per query and over all.

    .venv/bin/python bench/bench_tpch.py [--sf 1] [--quick] [--runs 5] [--plans 30] [--keep DIR]
        [--only 1,6,10] [--explain N] [--json]
"""
from __future__ import annotations

import argparse
import json
import math
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
from bench_gateway import memory_total, settle_threads
from common import machine

ROLE = "roles:id:analyst"
TABLES = ("customer", "lineitem", "nation", "orders", "part", "partsupp", "region", "supplier")
ACCTBAL_BUCKETS = [-1000, 0, 2500, 5000, 7500]
ORDERS_FROM = "1993-01-01"
SHIPPED = ("1993-01-01", "1998-01-01")
GOALS = {"governed_geomean": 1.10, "governed_max": 1.5, "operator_geomean": 1.05, "plan_p50_ms": 2.0}


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sf", type=float, default=None, help="TPC-H scale factor (default 1)")
    parser.add_argument("--quick", action="store_true", help="scale factor 0.1, 3 rounds")
    parser.add_argument("--runs", type=int, default=None, help="timed rounds (default 5)")
    parser.add_argument("--plans", type=int, default=30, help="plan() calls timed per query (default 30)")
    parser.add_argument("--only", default="", help="query numbers to run (comma-separated; default all 22)")
    parser.add_argument("--keep", default=None, help="keep the Parquet files in this directory (reused if there)")
    parser.add_argument("--explain", type=int, default=None, metavar="N",
                        help="print query N as written and as the Gateway rewrote it for the governed user")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    args.sf = args.sf or (0.1 if args.quick else 1.0)
    args.runs = args.runs or (3 if args.quick else 5)
    return args


# --- data and queries ---------------------------------------------------------------------------

def tpch_extension() -> Path:
    """The `tpch` extension file of the `duckdb-extension-tpch` wheel (installed now if missing)."""
    import duckdb
    try:
        import duckdb_extension_tpch
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                        f"duckdb-extension-tpch=={duckdb.__version__}"], check=True)
        import duckdb_extension_tpch
    path = Path(duckdb_extension_tpch.__file__).parent / "extensions" / f"v{duckdb.__version__}" / "tpch.duckdb_extension"
    if not path.is_file():
        sys.exit(f"duckdb-extension-tpch has no extension for duckdb {duckdb.__version__} ({path})")
    return path


def tpch_connection() -> Any:
    """A DuckDB connection with the wheel's tpch extension loaded, nothing fetched from the network."""
    import duckdb
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    con.execute(f"LOAD '{tpch_extension()}'")
    return con


def make_lake(root: Path, sf: float) -> dict[str, Any]:
    """`root/tpch/<table>.parquet` at scale factor `sf` (made once per --keep directory)."""
    folder, marker = root / "tpch", root / "tpch" / ".sf"
    if marker.exists() and marker.read_text() == str(sf):
        return {"generated_s": None, "bytes": sum(f.stat().st_size for f in folder.glob("*.parquet"))}
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    con = tpch_connection()
    con.execute(f"CALL dbgen(sf={sf})")
    for table in TABLES:
        con.execute(f"COPY {table} TO '{folder / table}.parquet' (FORMAT parquet)")
    con.close()
    marker.write_text(str(sf))
    return {"generated_s": time.perf_counter() - t0, "bytes": sum(f.stat().st_size for f in folder.glob("*.parquet"))}


def queries() -> dict[int, str]:
    con = tpch_connection()
    try:
        return {n: text.strip().rstrip(";") for n, text in
                con.execute("SELECT query_nr, query FROM tpch_queries() ORDER BY query_nr").fetchall()}
    finally:
        con.close()


def qualified(sql: str) -> str:
    """`sql` with every TPC-H table (not a CTE of the query) named `lake.tpch.<table>`."""
    import sqlglot
    from sqlglot import exp
    tree = sqlglot.parse_one(sql, read="duckdb")
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        if not table.args.get("db") and table.name.lower() in TABLES and table.name.lower() not in ctes:
            table.set("db", exp.to_identifier("tpch"))
            table.set("catalog", exp.to_identifier("lake"))
    return tree.sql("duckdb")


def ordered(sql: str) -> bool:
    import sqlglot
    return sqlglot.parse_one(sql, read="duckdb").args.get("order") is not None


# --- policies and the hand-written equivalent ---------------------------------------------------

def europe(folder: Path) -> list[int]:
    """The nation keys of region EUROPE (a filter is a column compared with literals today)."""
    import duckdb
    return [k for (k,) in duckdb.connect().execute(
        f"SELECT n_nationkey FROM '{folder}/nation.parquet' JOIN '{folder}/region.parquet' ON n_regionkey = r_regionkey "
        f"WHERE r_name = 'EUROPE' ORDER BY 1").fetchall()]


def data_policies(nations: list[int]) -> dict[str, dict[str, Any]]:
    """The governed user's masks and row filters (`policy.data` sections by name)."""
    who = {"user": {"match": "any", "tags": [ROLE]}}

    def mask(dataset: str, column: str, spec: dict) -> dict[str, Any]:
        return {"type": "mask", "priority": 40, "dataset_id": f"lake.tpch.{dataset}",
                "selector": {**who, "column": {"names": [column]}}, "mask": spec}

    def only(dataset: str, *filters: tuple[str, str, Any]) -> dict[str, Any]:
        return {"type": "filter", "priority": 50, "dataset_id": f"lake.tpch.{dataset}", "selector": who,
                "filters": [{"column": c, "operator": o, "value": v} for c, o, v in filters]}

    return {
        "hash-c-phone": mask("customer", "c_phone", {"operator": "hash", "hash": {"algo": "sha256"}}),
        "bucket-c-acctbal": mask("customer", "c_acctbal", {"operator": "bucket_number",
                                                           "bucket_number": {"buckets": ACCTBAL_BUCKETS}}),
        "redact-o-comment": mask("orders", "o_comment", {"operator": "redact"}),
        "customers-of-europe": only("customer", ("c_nationkey", "in", nations)),
        "orders-since-1993": only("orders", ("o_orderdate", "greater_than_equals", ORDERS_FROM)),
        "lineitem-shipped": only("lineitem", ("l_shipdate", "greater_than_equals", SHIPPED[0]),
                                 ("l_shipdate", "less_than", SHIPPED[1])),
    }


def manifests(root: Path, nations: list[int]) -> list[dict[str, Any]]:
    return [
        {"name": "lake", "version": "v1", "type": "depot", "depot": {"type": "file", "file": {"path": str(root)}}},
        *({"name": name, "version": "v1", "type": "policy", "policy": {"data": data}}
          for name, data in data_policies(nations).items()),
        {"name": "analysts-select-tpch", "version": "v1", "type": "policy", "policy": {"access": {
            "subjects": {"tags": [[ROLE]]}, "predicates": ["select"], "objects": {"paths": ["dataos://lake:tpch/*"]}}}},
    ]


def hand_written_views(folder: Path, nations: list[int]) -> dict[str, str]:
    """The views a person would write for the governed user: same masks, same filters."""
    buckets = " ".join(f"WHEN c_acctbal >= {b} THEN CAST({b} AS DECIMAL(15,2))" for b in reversed(ACCTBAL_BUCKETS))
    keys = ", ".join(map(str, nations))
    views = {table: f"SELECT * FROM read_parquet('{folder / table}.parquet')" for table in TABLES}
    views["customer"] = (f"SELECT * REPLACE (gw_keyed_hash(CAST(c_phone AS VARCHAR)) AS c_phone, "
                         f"CASE {buckets} END AS c_acctbal) "
                         f"FROM read_parquet('{folder}/customer.parquet') WHERE c_nationkey IN ({keys})")
    views["orders"] = ("SELECT * REPLACE (CASE WHEN o_comment IS NULL THEN NULL ELSE '#####' END AS o_comment) "
                       f"FROM read_parquet('{folder}/orders.parquet') WHERE o_orderdate >= DATE '{ORDERS_FROM}'")
    views["lineitem"] = (f"SELECT * FROM read_parquet('{folder}/lineitem.parquet') "
                         f"WHERE l_shipdate >= DATE '{SHIPPED[0]}' AND l_shipdate < DATE '{SHIPPED[1]}'")
    return views


def engine(views: dict[str, str], key: bytes | None = None) -> Any:
    """A kept DuckDB connection with a view per TPC-H table (and the kernel's keyed hash)."""
    import duckdb

    from kernel.gateway.masks import KEYED_HASH, keyed_hash
    con = duckdb.connect()
    if key is not None:
        con.create_function(KEYED_HASH, keyed_hash(key), ["VARCHAR"], "VARCHAR", type="arrow", side_effects=False)
    for table, sql in views.items():
        con.execute(f"CREATE VIEW {table} AS {sql}")
    return con


# --- results ------------------------------------------------------------------------------------

def as_json(value: Any) -> Any:
    """A raw DuckDB value as the Gateway answers it (dates, decimals as text)."""
    from kernel.gateway.service import _json
    return _json(value)


def cell_equal(a: Any, b: Any) -> bool:
    if a == b:
        return True
    try:
        x, y = float(a), float(b)
    except (TypeError, ValueError):
        return False
    return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9)


def agree(got: list, want: list, in_order: bool) -> str:
    """'yes', or what differs."""
    got = [[as_json(v) for v in row] for row in got]
    want = [[as_json(v) for v in row] for row in want]
    if len(got) != len(want):
        return f"NO: {len(got)} rows vs {len(want)}"
    if not in_order:
        got, want = sorted(got, key=repr), sorted(want, key=repr)
    for i, (x, y) in enumerate(zip(got, want)):
        if len(x) != len(y) or not all(cell_equal(a, b) for a, b in zip(x, y)):
            return f"NO: row {i}: {x} vs {y}"
    return "yes"


# --- the runs -----------------------------------------------------------------------------------

def bench(root: Path, lake: Path, sqls: dict[int, str], runs: int, plans: int, explain: int | None) -> dict[str, Any]:
    from syscalls import connect
    from syscalls.client import Client
    folder = lake / "tpch"
    nations = europe(folder)
    out: dict[str, Any] = {"runs": runs, "europe_nation_keys": nations, "policies": data_policies(nations)}
    state = root / "state"
    with connect(f"embedded://{state}") as op:
        op.resource.apply(manifests=manifests(lake, nations))
        op.user.create(name="ana", tags=[ROLE])
        out["background_wait_s"] = settle_threads()
        ana = Client(op.transport, op.user.apikey.create(user="ana")["token"])
        key = (state / "gateway.key").read_bytes()
        raw = engine({t: f"SELECT * FROM read_parquet('{folder / t}.parquet')" for t in TABLES}, key)
        for t in TABLES:  # what the Gateway's engine knows the datasets by, for its rewritten SQL
            raw.execute(f'CREATE TEMPORARY VIEW "dataos://lake:tpch/{t}" AS SELECT * FROM {t}')
        hand = engine(hand_written_views(folder, nations), key)
        gateway_sql = {n: qualified(sql) for n, sql in sqls.items()}

        def through(client: Any, n: int) -> list:
            return client.query.execute(sql=gateway_sql[n], limit=-1)["rows"]

        probes = {n: ana.query.execute(sql=gateway_sql[n], limit=0)["governance"] for n in sqls}
        variants = {"raw": lambda n: raw.execute(sqls[n]).fetchall(),
                    "operator": lambda n: through(op, n),
                    "governed": lambda n: through(ana, n),
                    "hand_written": lambda n: hand.execute(sqls[n]).fetchall(),
                    "rewritten": lambda n: raw.execute(probes[n]["sql"]).fetchall()}
        first = {name: {n: fn(n) for n in sqls} for name, fn in variants.items()}  # warm-up, checked
        out["agree"] = {n: {"operator_vs_raw": agree(first["operator"][n], first["raw"][n], ordered(sqls[n])),
                            "governed_vs_hand_written": agree(first["governed"][n], first["hand_written"][n],
                                                              ordered(sqls[n])),
                            "rewritten_vs_governed": agree(first["rewritten"][n], first["governed"][n],
                                                           ordered(sqls[n]))} for n in sqls}
        out["rows"] = {n: {name: len(first[name][n]) for name in variants} for n in sqls}
        out["governed_policies"] = {n: probes[n]["policies"] for n in sqls}
        if explain in sqls:
            out["explain"] = {"query": explain, "sql": gateway_sql[explain], "governed_sql": probes[explain]["sql"]}
        times: dict[str, dict[int, list[float]]] = {name: {n: [] for n in sqls} for name in variants}
        out["loadavg_before"] = _load()
        for _ in range(runs):
            for n in sqls:
                for name, fn in variants.items():
                    t0 = time.perf_counter()
                    fn(n)
                    times[name][n].append((time.perf_counter() - t0) * 1000)
        out["loadavg_after"] = _load()
        raw.close()
        hand.close()
    out["plan_ms"] = bench_plan(folder, gateway_sql, nations, plans)
    out["ms"] = {name: {n: statistics.median(v) for n, v in per.items()} for name, per in times.items()}
    out["all_ms"] = times
    return out


def bench_plan(folder: Path, gateway_sql: dict[int, str], nations: list[int], count: int) -> dict[int, float]:
    """plan() per query for the governed user, warm: the median of `count` calls (ms)."""
    import duckdb

    from kernel.gateway import Dataset, parse_data_policy, plan
    con = duckdb.connect()
    datasets = {t: Dataset("lake", "tpch", t, {name: kind for name, kind, *_ in con.execute(
        f"DESCRIBE SELECT * FROM '{folder / t}.parquet'").fetchall()}) for t in TABLES}
    con.close()
    policies = [parse_data_policy(name, data) for name, data in data_policies(nations).items()]
    args = {"resolve": lambda name, collection, depot: datasets.get(name) if (depot, collection) == ("lake", "tpch")
            else None, "can_select": lambda d: True, "policies": policies,
            "user_tags": frozenset({"users:id:ana", ROLE})}
    out = {}
    for n, sql in gateway_sql.items():
        for _ in range(3):
            plan(sql, **args)
        calls = []
        for _ in range(count):
            t0 = time.perf_counter()
            plan(sql, **args)
            calls.append((time.perf_counter() - t0) * 1000)
        out[n] = statistics.median(calls)
    return out


def _load() -> float:
    return os.getloadavg()[0]


# --- the table ----------------------------------------------------------------------------------

def geomean(values: list[float]) -> float:
    return math.exp(statistics.fmean(math.log(v) for v in values))


def summarize(data: dict[str, Any]) -> dict[str, Any]:
    ms = data["ms"]
    queries = sorted(ms["raw"])
    op = {n: ms["operator"][n] / ms["raw"][n] for n in queries}
    gov = {n: ms["governed"][n] / ms["hand_written"][n] for n in queries}
    shape = {n: ms["rewritten"][n] / ms["hand_written"][n] for n in queries}
    worst = sorted(queries, key=lambda n: -gov[n])
    return {"operator_over_raw": op, "governed_over_hand_written": gov,
            "rewritten_over_hand_written": shape,
            "operator_geomean": geomean(list(op.values())), "governed_geomean": geomean(list(gov.values())),
            "shape_geomean": geomean(list(shape.values())),
            "governed_max": max(gov.values()), "worst_governed": worst[:5],
            "plan_p50_ms": statistics.median(data["plan_ms"].values()),
            "mismatches": {n: a for n, a in data["agree"].items() if any(v != "yes" for v in a.values())}}


def table(data: dict[str, Any], s: dict[str, Any]) -> str:
    ms = data["ms"]
    lines = [(f"{'query':>5}  {'raw':>9}  {'operator':>9}  {'governed':>9}  {'hand':>9}  {'op/raw':>7}  "
              f"{'gov/hand':>8}  {'rewritten':>9}  {'rw/hand':>7}  {'plan':>7}  agree")]
    for n in sorted(ms["raw"]):
        a = data["agree"][n]
        ok = "yes" if all(v == "yes" for v in a.values()) else "NO"
        lines.append(f"{'Q' + str(n):>5}  {ms['raw'][n]:>6.1f} ms  {ms['operator'][n]:>6.1f} ms  "
                     f"{ms['governed'][n]:>6.1f} ms  {ms['hand_written'][n]:>6.1f} ms  "
                     f"{s['operator_over_raw'][n]:>6.2f}×  {s['governed_over_hand_written'][n]:>7.2f}×  "
                     f"{ms['rewritten'][n]:>6.1f} ms  {s['rewritten_over_hand_written'][n]:>6.2f}×  "
                     f"{data['plan_ms'][n]:>4.2f} ms  {ok}")
    lines += ["",
              f"operator / raw, geometric mean: {s['operator_geomean']:.2f}× (goal ≤ {GOALS['operator_geomean']}×)",
              f"governed / hand-written, geometric mean: {s['governed_geomean']:.2f}× "
              f"(goal ≤ {GOALS['governed_geomean']}×); highest {s['governed_max']:.2f}× "
              f"(goal ≤ {GOALS['governed_max']}×); worst: "
              + ", ".join(f"Q{n} {s['governed_over_hand_written'][n]:.2f}×" for n in s["worst_governed"]),
              (f"the rewritten SQL on raw DuckDB / hand-written (the SQL's shape), geometric mean: "
              f"{s['shape_geomean']:.2f}×"),
              (f"plan() p50 over the queries (governed user, warm): {s['plan_p50_ms']:.2f} ms "
               f"(goal ≤ {GOALS['plan_p50_ms']} ms)"),
              f"load average before → after: {data['loadavg_before']:.1f} → {data['loadavg_after']:.1f}"]
    for n, a in s["mismatches"].items():
        lines.append(f"MISMATCH Q{n}: {a}")
    return "\n".join(lines)


def main() -> None:
    args = parse()
    only = {int(x) for x in args.only.split(",") if x.strip()}
    began = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="dataos-bench-tpch-"))
    lake = Path(args.keep) if args.keep else root / "lake"
    try:
        dataset = make_lake(lake, args.sf)
        sqls = {n: q for n, q in queries().items() if not only or n in only}
        data = bench(root, lake, sqls, args.runs, args.plans, args.explain)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    data.update(sf=args.sf, dataset=dataset, ram=memory_total(), machine=machine(),
                runtime_s=time.monotonic() - began)
    s = data["summary"] = summarize(data)
    if args.json:
        print(json.dumps(data, indent=2, default=str))
    else:
        print(f"TPC-H sf {args.sf:g} through the Gateway, medians of {args.runs} interleaved rounds\n"
              f"{data['machine']}, {data['ram']}; Parquet {dataset['bytes'] / 2**20:.0f} MiB"
              + (f" (generated in {dataset['generated_s']:.1f} s)" if dataset["generated_s"] else "") + "\n")
        print(table(data, s))
        if "explain" in data:
            e = data["explain"]
            print(f"\nQ{e['query']} for the Gateway:\n{e['sql']}\n\nrewritten for the governed user:\n{e['governed_sql']}")
        print(f"\nbenchmark runtime {data['runtime_s']:.0f} s")
    if s["mismatches"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
