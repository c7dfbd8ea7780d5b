"""Governed SQL speed on TPC-H (issue 16's measurement base): the 22 queries through the Gateway.

Data: DuckDB's `tpch` extension from the `duckdb-extension-tpch` wheel (the `bench` extra, the
same version as duckdb; installed into this Python if missing) generates scale factor `--sf`
offline (`CALL dbgen`), each table written to `ROOT/tpch/<table>.parquet`, a `file` depot `lake`
on an embedded kernel. The queries are the extension's `tpch_queries()`, their tables qualified
with sqlglot as `lake.tpch.<table>` for the Gateway.

Each round runs every query in turn, each under every variant below in an order shuffled anew
for each query and round (seeded: the same in every run of the benchmark), after a warm-up round
whose results are compared: a query of a few milliseconds runs up to 1.5x slower right after a
big query than after its own twin (CPU caches), so a fixed order would favour whichever variant
follows its twin, and running the variants one after another (each its whole workload) lets the
machine's drift fall on some more than others. Medians over `--runs` rounds of the client's
wall time per query:

1. raw: DuckDB on the Parquet files (one kept connection, a view per table), the query as written;
2. operator: `query.execute` through the Gateway as the operator (no data policy applies);
and for each governed user (`--users`, default all; `USERS`):
3. governed: `query.execute` as the user, under the user's masks and row filters;
4. hand-written: raw DuckDB with views over the Parquet files applying the same masks (the
   kernel's keyed hash registered on the connection) and filters, as a person would write them;
5. rewritten: the Gateway's rewritten SQL for 3 run on the kept raw connection (the datasets as
   temporary views named by address, as the Gateway's engine has them), which tells the SQL's
   shape (5 / 4) from the Gateway's per-query cost (3 / 5: planning, a new engine, JSON rows).

The users: `ana` (analyst; the baseline's one user): customers of the EUROPE nations only
(one policy expression: `c_nationkey IN (SELECT n_nationkey FROM … nation JOIN … region …
WHERE r_name = 'EUROPE')`), `c_phone` keyed-hashed, `c_acctbal`
bucketed; orders from 1993 on, `o_comment` redacted; lineitem shipped from 1993 up to 1998.
`sam` (sales, narrow filters: many queries empty): customers of segment BUILDING, `c_address`
redacted; orders of March 1995; lineitem shipped March-April 1995. `max` (auditor, masks only,
no filter: the pure cost of masks): `c_name`, `c_address`, `o_comment`, `l_comment` redacted,
`c_phone` hashed, `c_acctbal` and `l_discount` bucketed.

2 is checked against 1, 4 and 5 against 3 (in order where the query orders its rows, otherwise as
multisets; floats to 1e-9 relative). Planning: `kernel.gateway.plan.plan` for each query, for
the operator (the goal's figure) and each governed user, called directly (warm), p50 per query and
over all.

    .venv/bin/python bench/bench_tpch.py [--sf 1] [--quick] [--runs 5] [--plans 30] [--keep DIR]
        [--only 1,6,10] [--users ana,sam] [--explain N] [--json]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TABLES = ("customer", "lineitem", "nation", "orders", "part", "partsupp", "region", "supplier")
ACCTBAL_BUCKETS = [-1000, 0, 2500, 5000, 7500]
ORDERS_FROM = "1993-01-01"
SHIPPED = ("1993-01-01", "1998-01-01")
SEGMENT = "BUILDING"
EUROPE = ("c_nationkey IN (SELECT n_nationkey FROM lake.tpch.nation JOIN lake.tpch.region "
          "ON n_regionkey = r_regionkey WHERE r_name = 'EUROPE')")  # one policy expression
MARCH_1995 = ("1995-03-01", "1995-04-01")
SPRING_1995 = ("1995-03-01", "1995-05-01")
DISCOUNT_BUCKETS = [0, 0.05]
GOALS = {"governed_geomean": 1.10, "governed_max": 1.5, "operator_geomean": 1.05, "plan_p50_ms": 2.0}


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sf", type=float, default=None, help="TPC-H scale factor (default 1)")
    parser.add_argument("--quick", action="store_true", help="scale factor 0.1, 3 rounds")
    parser.add_argument("--runs", type=int, default=None, help="timed rounds (default 5)")
    parser.add_argument("--plans", type=int, default=30, help="plan() calls timed per query (default 30)")
    parser.add_argument("--only", default="", help="query numbers to run (comma-separated; default all 22)")
    parser.add_argument("--users", default=",".join(USERS),
                        help=f"governed users to run (comma-separated; default all: {','.join(USERS)})")
    parser.add_argument("--keep", default=None, help="keep the Parquet files in this directory (reused if there)")
    parser.add_argument("--explain", type=int, default=None, metavar="N",
                        help="print query N as written and as the Gateway rewrote it for each governed user")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    args.sf = args.sf or (0.1 if args.quick else 1.0)
    args.runs = args.runs or (3 if args.quick else 5)
    args.users = [u.strip() for u in args.users.split(",") if u.strip()]
    unknown = sorted(set(args.users) - set(USERS))
    if unknown or not args.users:
        parser.error(f"--users: unknown user {', '.join(unknown)} (known: {', '.join(USERS)})")
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


# --- the governed users: policies and the hand-written equivalent ------------------------------

@dataclass(frozen=True)
class User:
    """A governed user: a role tag, its data policies (`policy.data` sections by name, given the
    role) and the views a person would write for it over the Parquet files (table → SQL)."""
    role: str
    about: str
    policies: Callable[[str], dict[str, dict[str, Any]]]
    views: Callable[[Path], dict[str, str]]


def _mask(role: str, dataset: str, column: str, spec: dict) -> dict[str, Any]:
    return {"type": "mask", "priority": 40, "dataset_id": f"lake.tpch.{dataset}",
            "selector": {"user": {"match": "any", "tags": [role]}, "column": {"names": [column]}}, "mask": spec}


def _only(role: str, dataset: str, *filters: tuple[str, str, Any]) -> dict[str, Any]:
    return {"type": "filter", "priority": 50, "dataset_id": f"lake.tpch.{dataset}",
            "selector": {"user": {"match": "any", "tags": [role]}},
            "filters": [{"column": c, "operator": o, "value": v} for c, o, v in filters]}


HASH = {"operator": "hash", "hash": {"algo": "sha256"}}
REDACT = {"operator": "redact"}


def _buckets(bounds: list[float]) -> dict[str, Any]:
    return {"operator": "bucket_number", "bucket_number": {"buckets": bounds}}


def _views(folder: Path, **overrides: str) -> dict[str, str]:
    """A plain view per table, but for `overrides` (table → the person's view)."""
    return {table: overrides.get(table, f"SELECT * FROM read_parquet('{folder / table}.parquet')") for table in TABLES}


def _bucketed(column: str, bounds: list[float]) -> str:
    arms = " ".join(f"WHEN {column} >= {b} THEN CAST({b} AS DECIMAL(15,2))" for b in reversed(bounds))
    return f"CASE {arms} END AS {column}"


def _redacted(column: str) -> str:
    return f"CASE WHEN {column} IS NULL THEN NULL ELSE '#####' END AS {column}"


def ana_policies(role: str) -> dict[str, dict[str, Any]]:
    return {
        "hash-c-phone": _mask(role, "customer", "c_phone", HASH),
        "bucket-c-acctbal": _mask(role, "customer", "c_acctbal", _buckets(ACCTBAL_BUCKETS)),
        "redact-o-comment": _mask(role, "orders", "o_comment", REDACT),
        "customers-of-europe": {**_only(role, "customer"), "filters": [{"expression": EUROPE}]},
        "orders-since-1993": _only(role, "orders", ("o_orderdate", "greater_than_equals", ORDERS_FROM)),
        "lineitem-shipped": _only(role, "lineitem", ("l_shipdate", "greater_than_equals", SHIPPED[0]),
                                  ("l_shipdate", "less_than", SHIPPED[1])),
    }


def ana_views(folder: Path) -> dict[str, str]:
    return _views(
        folder,
        customer=(f"SELECT * REPLACE (gw_keyed_hash(CAST(c_phone AS VARCHAR)) AS c_phone, "
                  f"{_bucketed('c_acctbal', ACCTBAL_BUCKETS)}) "
                  f"FROM read_parquet('{folder}/customer.parquet') WHERE c_nationkey IN (SELECT n_nationkey FROM "
                  f"read_parquet('{folder}/nation.parquet') JOIN read_parquet('{folder}/region.parquet') "
                  f"ON n_regionkey = r_regionkey WHERE r_name = 'EUROPE')"),
        orders=(f"SELECT * REPLACE ({_redacted('o_comment')}) "
                f"FROM read_parquet('{folder}/orders.parquet') WHERE o_orderdate >= DATE '{ORDERS_FROM}'"),
        lineitem=(f"SELECT * FROM read_parquet('{folder}/lineitem.parquet') "
                  f"WHERE l_shipdate >= DATE '{SHIPPED[0]}' AND l_shipdate < DATE '{SHIPPED[1]}'"))


def sam_policies(role: str) -> dict[str, dict[str, Any]]:
    return {
        "sam-redact-c-address": _mask(role, "customer", "c_address", REDACT),
        "sam-segment": _only(role, "customer", ("c_mktsegment", "equals", SEGMENT)),
        "sam-orders-march-1995": _only(role, "orders", ("o_orderdate", "greater_than_equals", MARCH_1995[0]),
                                       ("o_orderdate", "less_than", MARCH_1995[1])),
        "sam-lineitem-spring-1995": _only(role, "lineitem", ("l_shipdate", "greater_than_equals", SPRING_1995[0]),
                                          ("l_shipdate", "less_than", SPRING_1995[1])),
    }


def sam_views(folder: Path) -> dict[str, str]:
    return _views(
        folder,
        customer=(f"SELECT * REPLACE ({_redacted('c_address')}) FROM read_parquet('{folder}/customer.parquet') "
                  f"WHERE c_mktsegment = '{SEGMENT}'"),
        orders=(f"SELECT * FROM read_parquet('{folder}/orders.parquet') "
                f"WHERE o_orderdate >= DATE '{MARCH_1995[0]}' AND o_orderdate < DATE '{MARCH_1995[1]}'"),
        lineitem=(f"SELECT * FROM read_parquet('{folder}/lineitem.parquet') "
                  f"WHERE l_shipdate >= DATE '{SPRING_1995[0]}' AND l_shipdate < DATE '{SPRING_1995[1]}'"))


def max_policies(role: str) -> dict[str, dict[str, Any]]:
    return {
        "max-redact-c-name": _mask(role, "customer", "c_name", REDACT),
        "max-redact-c-address": _mask(role, "customer", "c_address", REDACT),
        "max-hash-c-phone": _mask(role, "customer", "c_phone", HASH),
        "max-bucket-c-acctbal": _mask(role, "customer", "c_acctbal", _buckets(ACCTBAL_BUCKETS)),
        "max-redact-o-comment": _mask(role, "orders", "o_comment", REDACT),
        "max-bucket-l-discount": _mask(role, "lineitem", "l_discount", _buckets(DISCOUNT_BUCKETS)),
        "max-redact-l-comment": _mask(role, "lineitem", "l_comment", REDACT),
    }


def max_views(folder: Path) -> dict[str, str]:
    return _views(
        folder,
        customer=(f"SELECT * REPLACE ({_redacted('c_name')}, {_redacted('c_address')}, "
                  f"gw_keyed_hash(CAST(c_phone AS VARCHAR)) AS c_phone, {_bucketed('c_acctbal', ACCTBAL_BUCKETS)}) "
                  f"FROM read_parquet('{folder}/customer.parquet')"),
        orders=f"SELECT * REPLACE ({_redacted('o_comment')}) FROM read_parquet('{folder}/orders.parquet')",
        lineitem=(f"SELECT * REPLACE ({_bucketed('l_discount', DISCOUNT_BUCKETS)}, {_redacted('l_comment')}) "
                  f"FROM read_parquet('{folder}/lineitem.parquet')"))


USERS: dict[str, User] = {
    "ana": User("roles:id:analyst", "customers of EUROPE, c_phone hashed, c_acctbal bucketed; orders from 1993, "
                "o_comment redacted; lineitem shipped 1993-1997", ana_policies, ana_views),
    "sam": User("roles:id:sales", "customers of segment BUILDING, c_address redacted; orders of March 1995; "
                "lineitem shipped March-April 1995", sam_policies, sam_views),
    "max": User("roles:id:auditor", "masks only: c_name, c_address, o_comment, l_comment redacted, c_phone hashed, "
                "c_acctbal and l_discount bucketed", max_policies, max_views),
}


def data_policies(user: str) -> dict[str, dict[str, Any]]:
    """`user`'s masks and row filters (`policy.data` sections by name)."""
    return USERS[user].policies(USERS[user].role)


def manifests(root: Path, users: list[str]) -> list[dict[str, Any]]:
    return [
        {"name": "lake", "version": "v1", "type": "depot", "depot": {"type": "file", "file": {"path": str(root)}}},
        *({"name": name, "version": "v1", "type": "policy", "policy": {"data": data}}
          for user in users for name, data in data_policies(user).items()),
        {"name": "users-select-tpch", "version": "v1", "type": "policy", "policy": {"access": {
            "subjects": {"tags": [[USERS[u].role] for u in users]}, "predicates": ["select"],
            "objects": {"paths": ["dataos://lake:tpch/*"]}}}},
    ]


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


def raw_engine(folder: Path, key: bytes) -> Any:
    """`engine` over the raw Parquet files, which also knows the datasets as the Gateway's engine
    does (temporary views named by address), to run the Gateway's rewritten SQL."""
    con = engine(_views(folder), key)
    for t in TABLES:
        con.execute(f'CREATE TEMPORARY VIEW "dataos://lake:tpch/{t}" AS SELECT * FROM {t}')
    return con


def hand_engine(folder: Path, user: str, key: bytes) -> Any:
    """`engine` over `user`'s hand-written views."""
    return engine(USERS[user].views(folder), key)


def plan_args(folder: Path, user: str | None) -> dict[str, Any]:
    """`kernel.gateway.plan.plan`'s arguments for `user` (None: the operator, no data policy) on the
    datasets `lake.tpch.<table>` of `folder`'s Parquet files."""
    import duckdb

    from kernel.gateway import Dataset, parse_data_policy
    con = duckdb.connect()
    datasets = {t: Dataset("lake", "tpch", t, {name: kind for name, kind, *_ in con.execute(
        f"DESCRIBE SELECT * FROM '{folder / t}.parquet'").fetchall()}) for t in TABLES}
    con.close()
    policies = [parse_data_policy(name, data) for name, data in data_policies(user).items()] if user else []
    return {"resolve": lambda name, collection, depot: datasets.get(name) if (depot, collection) == ("lake", "tpch")
            else None, "can_select": lambda d: True, "policies": policies,
            "user_tags": frozenset({f"users:id:{user or 'operator'}", *([USERS[user].role] if user else [])})}


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

def bench(root: Path, lake: Path, sqls: dict[int, str], users: list[str], runs: int, plans: int,
          explain: int | None) -> dict[str, Any]:
    from bench_gateway import settle_threads

    from syscalls import connect
    from syscalls.client import Client
    folder = lake / "tpch"
    out: dict[str, Any] = {"runs": runs, "users": {u: USERS[u].about for u in users},
                           "policies": {u: data_policies(u) for u in users}}
    state = root / "state"
    from kernel.daemon import tune_gc
    tune_gc()  # the kernel here is in this process: collect garbage as the daemon does
    with connect(f"embedded://{state}") as op:
        depot, *policies = manifests(lake, users)
        op.resource.apply(manifests=[depot])
        for _ in op.catalog.scan(depot="lake"):  # policy expressions are checked against the catalog
            pass
        op.resource.apply(manifests=policies)
        for u in users:
            op.user.create(name=u, tags=[USERS[u].role])
        out["background_wait_s"] = settle_threads()
        clients = {u: Client(op.transport, op.user.apikey.create(user=u)["token"]) for u in users}
        key = (state / "gateway.key").read_bytes()
        raw = raw_engine(folder, key)
        hands = {u: hand_engine(folder, u, key) for u in users}
        gateway_sql = {n: qualified(sql) for n, sql in sqls.items()}

        def through(client: Any, n: int) -> list:
            return client.query.execute(sql=gateway_sql[n], limit=-1)["rows"]

        probes = {u: {n: clients[u].query.execute(sql=gateway_sql[n], limit=0)["governance"] for n in sqls}
                  for u in users}
        variants: dict[str, Callable[[int], list]] = {"raw": lambda n: raw.execute(sqls[n]).fetchall(),
                                                      "operator": lambda n: through(op, n)}
        for u in users:
            variants |= {f"{u}/governed": lambda n, c=clients[u]: through(c, n),
                         f"{u}/hand_written": lambda n, h=hands[u]: h.execute(sqls[n]).fetchall(),
                         f"{u}/rewritten": lambda n, p=probes[u]: raw.execute(p[n]["sql"]).fetchall()}
        first = {name: {n: fn(n) for n in sqls} for name, fn in variants.items()}  # warm-up, checked
        out["agree"] = {n: {"operator_vs_raw": agree(first["operator"][n], first["raw"][n], ordered(sqls[n])),
                            **{f"{u}/{check}": agree(first[f"{u}/{a}"][n], first[f"{u}/{b}"][n], ordered(sqls[n]))
                               for u in users for check, a, b in (("governed_vs_hand_written", "governed", "hand_written"),
                                                                  ("rewritten_vs_governed", "rewritten", "governed"))}}
                        for n in sqls}
        out["rows"] = {n: {name: len(first[name][n]) for name in variants} for n in sqls}
        del first  # millions of Python objects that every later garbage collection would walk
        out["governed_policies"] = {u: {n: probes[u][n]["policies"] for n in sqls} for u in users}
        if explain in sqls:
            out["explain"] = {"query": explain, "sql": gateway_sql[explain],
                              "governed_sql": {u: probes[u][explain]["sql"] for u in users}}
        times: dict[str, dict[int, list[float]]] = {name: {n: [] for n in sqls} for name in variants}
        out["loadavg_before"] = _load()
        shuffled = random.Random(16)
        for _ in range(runs):
            for n in sqls:
                order = list(variants.items())
                shuffled.shuffle(order)
                for name, fn in order:
                    t0 = time.perf_counter()
                    fn(n)
                    times[name][n].append((time.perf_counter() - t0) * 1000)
        out["loadavg_after"] = _load()
        raw.close()
        for hand in hands.values():
            hand.close()
    planned = {u: bench_plan(folder, gateway_sql, u, plans) for u in users}
    out["operator_plan_ms"], out["operator_plan_kept_ms"] = bench_plan(folder, gateway_sql, None, plans)
    out["plan_ms"] = {u: scratch for u, (scratch, _) in planned.items()}
    out["plan_kept_ms"] = {u: again for u, (_, again) in planned.items()}
    out["ms"] = {name: {n: statistics.median(v) for n, v in per.items()} for name, per in times.items()}
    out["all_ms"] = times
    return out


def bench_plan(folder: Path, gateway_sql: dict[int, str], user: str | None, count: int
               ) -> tuple[dict[int, float], dict[int, float]]:
    """plan() per query for `user` (None: the operator), warm: the median of `count` calls planned from scratch (the
    kept plans dropped before each), and of `count` calls answered from the kept plan (ms)."""
    from kernel.gateway import plan
    kept = sys.modules["kernel.gateway.plan"]._PLANS
    args = plan_args(folder, user)
    scratch, again = {}, {}
    for n, sql in gateway_sql.items():
        for _ in range(3):
            kept.items.clear()
            plan(sql, **args)
        for out, clear in ((scratch, True), (again, False)):
            calls = []
            for _ in range(count):
                if clear:
                    kept.items.clear()
                t0 = time.perf_counter()
                plan(sql, **args)
                calls.append((time.perf_counter() - t0) * 1000)
            out[n] = statistics.median(calls)
    return scratch, again


def _load() -> float:
    return os.getloadavg()[0]


# --- the table ----------------------------------------------------------------------------------

def geomean(values: list[float]) -> float:
    return math.exp(statistics.fmean(math.log(v) for v in values))


def summarize(data: dict[str, Any]) -> dict[str, Any]:
    """Ratios per query; per user and over all (user, query) pairs: geometric mean, highest, worst."""
    ms = data["ms"]
    queries = sorted(ms["raw"])
    op = {n: ms["operator"][n] / ms["raw"][n] for n in queries}
    users = {}
    for u in data["users"]:
        gov = {n: ms[f"{u}/governed"][n] / ms[f"{u}/hand_written"][n] for n in queries}
        shape = {n: ms[f"{u}/rewritten"][n] / ms[f"{u}/hand_written"][n] for n in queries}
        users[u] = {"governed_over_hand_written": gov, "rewritten_over_hand_written": shape,
                    "governed_geomean": geomean(list(gov.values())), "governed_max": max(gov.values()),
                    "shape_geomean": geomean(list(shape.values())),
                    "worst_governed": sorted(queries, key=lambda n: -gov[n])[:5],
                    "plan_p50_ms": statistics.median(data["plan_ms"][u].values())}
    pairs = {(u, n): r for u, s in users.items() for n, r in s["governed_over_hand_written"].items()}
    return {"operator_over_raw": op, "operator_geomean": geomean(list(op.values())), "users": users,
            "operator_plan_p50_ms": statistics.median(data["operator_plan_ms"].values()),
            "governed_geomean": geomean(list(pairs.values())), "governed_max": max(pairs.values()),
            "worst_governed": [(u, n, pairs[u, n]) for u, n in sorted(pairs, key=lambda p: -pairs[p])[:5]],
            "shape_geomean": geomean([r for s in users.values() for r in s["rewritten_over_hand_written"].values()]),
            "plan_p50_ms": statistics.median(v for u in users for v in data["plan_ms"][u].values()),
            "plan_kept_p50_ms": statistics.median(v for u in users for v in data["plan_kept_ms"][u].values()),
            "mismatches": {n: a for n, a in data["agree"].items() if any(v != "yes" for v in a.values())}}


def _ok(checks: dict[str, str], prefix: str) -> str:
    return "yes" if all(v == "yes" for k, v in checks.items() if k.startswith(prefix)) else "NO"


def table(data: dict[str, Any], s: dict[str, Any]) -> str:
    ms, queries = data["ms"], sorted(data["ms"]["raw"])
    lines = [f"{'query':>5}  {'raw':>9}  {'operator':>9}  {'op/raw':>7}  {'plan':>7}  {'rows':>6}  agree"]
    for n in queries:
        lines.append(f"{'Q' + str(n):>5}  {ms['raw'][n]:>6.1f} ms  {ms['operator'][n]:>6.1f} ms  "
                     f"{s['operator_over_raw'][n]:>6.2f}×  {data['operator_plan_ms'][n]:>4.2f} ms  "
                     f"{data['rows'][n]['raw']:>6}  "
                     f"{_ok(data['agree'][n], 'operator')}")
    for u, us in s["users"].items():
        lines += ["", f"{u} ({USERS[u].role}: {data['users'][u]})",
                  (f"{'query':>5}  {'governed':>9}  {'hand':>9}  {'gov/hand':>8}  {'rewritten':>9}  {'rw/hand':>7}  "
                   f"{'plan':>7}  {'rows':>6}  agree")]
        for n in queries:
            lines.append(f"{'Q' + str(n):>5}  {ms[f'{u}/governed'][n]:>6.1f} ms  {ms[f'{u}/hand_written'][n]:>6.1f} ms  "
                         f"{us['governed_over_hand_written'][n]:>7.2f}×  {ms[f'{u}/rewritten'][n]:>6.1f} ms  "
                         f"{us['rewritten_over_hand_written'][n]:>6.2f}×  {data['plan_ms'][u][n]:>4.2f} ms  "
                         f"{data['rows'][n][f'{u}/governed']:>6}  {_ok(data['agree'][n], u + '/')}")
    lines += ["", f"operator / raw, geometric mean: {s['operator_geomean']:.2f}× (goal ≤ {GOALS['operator_geomean']}×); "
              f"the operator's plan() p50, planned from scratch: {s['operator_plan_p50_ms']:.2f} ms "
              f"(goal ≤ {GOALS['plan_p50_ms']} ms)"]
    for u, us in s["users"].items():
        lines.append(f"{u}: governed / hand-written, geometric mean {us['governed_geomean']:.2f}×, highest "
                     f"{us['governed_max']:.2f}× (worst: "
                     + ", ".join(f"Q{n} {us['governed_over_hand_written'][n]:.2f}×" for n in us["worst_governed"])
                     + f"); rewritten SQL / hand-written {us['shape_geomean']:.2f}×; plan() p50 {us['plan_p50_ms']:.2f} ms")
    lines += [f"governed / hand-written over the {len(s['users']) * len(queries)} (user, query) pairs: geometric "
              f"mean {s['governed_geomean']:.2f}× (goal ≤ {GOALS['governed_geomean']}×); highest "
              f"{s['governed_max']:.2f}× (goal ≤ {GOALS['governed_max']}×); worst: "
              + ", ".join(f"{u} Q{n} {r:.2f}×" for u, n, r in s["worst_governed"]),
              f"the rewritten SQL on raw DuckDB / hand-written (the SQL's shape), geometric mean: {s['shape_geomean']:.2f}×",
              f"plan() p50 over the (user, query) pairs (warm), planned from scratch: {s['plan_p50_ms']:.2f} ms; "
              f"from the kept plan: {s['plan_kept_p50_ms']:.2f} ms",
              f"load average before → after: {data['loadavg_before']:.1f} → {data['loadavg_after']:.1f}"]
    for n, a in s["mismatches"].items():
        lines.append(f"MISMATCH Q{n}: " + "; ".join(f"{k}: {v}" for k, v in a.items() if v != "yes"))
    return "\n".join(lines)


def main() -> None:
    from bench_gateway import memory_total
    from common import machine
    args = parse()
    only = {int(x) for x in args.only.split(",") if x.strip()}
    began = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="dataos-bench-tpch-"))
    lake = Path(args.keep) if args.keep else root / "lake"
    try:
        dataset = make_lake(lake, args.sf)
        sqls = {n: q for n, q in queries().items() if not only or n in only}
        data = bench(root, lake, sqls, args.users, args.runs, args.plans, args.explain)
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
            print(f"\nQ{e['query']} for the Gateway:\n{e['sql']}")
            for u, sql in e["governed_sql"].items():
                print(f"\nrewritten for {u}:\n{sql}")
        print(f"\nbenchmark runtime {data['runtime_s']:.0f} s")
    if s["mismatches"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
