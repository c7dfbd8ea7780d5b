"""Shell completion latency: `ShellCompleter.get_completions` over an in-memory catalog of
10,000 datasets (20 depots × 10 collections × 50 datasets, 20 columns each), 2,000 resources of
each workload type and 1,000 pods. Goal: p99 ≤ 50 ms.

The inputs (`--inputs`, deterministic) are what people type: command prefixes, sub-commands and
flags, resource names (prefix and fuzzy), pods, `cd dataos://…` / `ls lake…` / `cat …` paths
absolute and relative, and SQL — keywords, `select * from ` (cwd's collection, `depot.`,
`depot.collection.`), columns with a FROM after the cursor, `alias.`, multi-line statements,
fuzzy table and column names. Each input is completed `--runs` times (after a warm-up); its time
is the median; percentiles are over the inputs (and, separately, over every single call).

    .venv/bin/python bench/bench_completion.py [--inputs 500] [--runs 5] [--json]
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).parent))
from common import percentile, report  # noqa: E402

from prompt_toolkit.completion import CompleteEvent  # noqa: E402
from prompt_toolkit.document import Document  # noqa: E402

from dataos_shell.shell.completion import ShellCompleter  # noqa: E402
from userlib.completion.commands import command_tree  # noqa: E402
from userlib.completion.source import Snapshot, SnapshotSource  # noqa: E402
from userlib.completion.state import ShellState  # noqa: E402

DEPOTS = ["lake", "warehouse", "crm", "sales", "hr", "finance", "marketing", "ops", "supply", "web",
          "support", "risk", "lake2", "archive", "events", "iot", "billing", "product", "legal", "analytics"]
COLLECTIONS = ["raw", "staging", "curated", "reporting", "public", "sandbox", "history", "ml", "exports", "shared"]
PREFIXES = ("daily", "monthly", "weekly", "raw", "stg", "fct", "dim", "agg", "hist", "current")
NOUNS = ("customer", "order", "invoice", "payment", "product", "employee", "account", "transaction", "shipment",
         "supplier", "inventory", "session", "event", "click", "campaign", "lead", "ticket", "refund")
COLUMNS = ("id customer_id order_id product_id created_at updated_at email phone first_name last_name amount "
           "currency status country city zip_code sku quantity unit_price discount revenue total_amount tax "
           "shipping_cost description name title category brand channel source campaign_id session_id user_id "
           "device_type region store_id employee_id department salary hire_date is_active payment_method").split()
TYPES = ("BIGINT", "VARCHAR", "DOUBLE", "TIMESTAMP", "DATE", "BOOLEAN")
COMMANDS = {"ls": "List depots, collections or datasets.", "cd": "Change the directory.", "pwd": "Where you are.",
            "cat": "Show a dataset.", "head": "The first rows of a dataset.", "ps": "Pods and queries.",
            "kill": "Stop a pod or a query.", "mount": "The depots.", "man": "A manual.", "alias": "Aliases.",
            "export": "Set a variable.", "exit": "Leave the shell."}


def catalog(rng: random.Random) -> Snapshot:
    collections, datasets, columns = {}, {}, {}
    for d in DEPOTS:
        collections[d] = tuple(sorted(COLLECTIONS))
        for c in COLLECTIONS:
            names = set()
            while len(names) < 50:
                names.add(f"{rng.choice(PREFIXES)}_{rng.choice(NOUNS)}_{rng.choice(NOUNS)}s")
            datasets[(d, c)] = tuple(sorted(names))
            for n in names:
                columns[f"dataos://{d}:{c}/{n}"] = tuple((col, rng.choice(TYPES)) for col in rng.sample(COLUMNS, 20))
    resources = {t: tuple(sorted({f"{rng.choice(NOUNS)}-{rng.choice(PREFIXES)}-{i}" for i in range(2000)}))
                 for t in ("workflow", "service", "worker")}
    resources["depot"] = tuple(sorted(DEPOTS))
    pods = tuple(sorted(f"{w}-{rng.randrange(16**6):06x}" for w in rng.sample(resources["workflow"], 1000)))
    return Snapshot(depots=tuple(sorted(DEPOTS)), collections=collections, datasets=datasets, columns=columns,
                    resources=resources, types=("cluster", "compute", "depot", "instance-secret", "policy",
                                                "secret", "service", "worker", "workflow"),
                    workspaces=("public", "sandbox"), pods=pods)


def fuzz(rng: random.Random, name: str) -> str:
    """A subsequence of a name, the way people type abbreviations (`dcust` for daily_customer…)."""
    letters = [ch for ch in name if ch.isalnum()]
    keep = sorted(rng.sample(range(len(letters)), min(len(letters), rng.randint(3, 5))))
    return "".join(letters[i] for i in keep)


def inputs(rng: random.Random, snap: Snapshot, n: int) -> list[tuple[str, str, str]]:
    """(cwd, text before the cursor, text after it)."""
    tree = command_tree()
    verbs = sorted(set(tree.commands) | set(COMMANDS))
    out: list[tuple[str, str, str]] = []
    while len(out) < n:
        d = rng.choice(DEPOTS)
        c = rng.choice(COLLECTIONS)
        ds = rng.choice(snap.datasets[(d, c)])
        ds2 = rng.choice(snap.datasets[(d, c)])
        cols = [name for name, _ in snap.columns[f"dataos://{d}:{c}/{ds}"]]
        wf = rng.choice(snap.resources["workflow"])
        here = f"dataos://{d}:{c}"
        kind = len(out) % 25
        cases = {
            0: ("", rng.choice(verbs)[:rng.randint(0, 3)], ""),
            1: ("", rng.choice(["catalog ", "catalog s", "runtime ", "runtime p", "user ", "user apikey c",
                                "kernel s", "context u"]), ""),
            2: ("", rng.choice(["get -", "get --o", "get workflow x -o ", "apply --d", "catalog search x --",
                                "logs -", "delete -"]), ""),
            3: ("", f"get workflow {wf[:rng.randint(0, 4)]}", ""),
            4: ("", f"get workflow {fuzz(rng, wf)}", ""),
            5: ("", f"logs {rng.choice(snap.pods)[:rng.randint(1, 6)]}", ""),
            6: ("", "cd dataos://" + d[:rng.randint(0, 3)], ""),
            7: ("", f"ls dataos://{d}:" + c[:rng.randint(0, 2)], ""),
            8: ("", f"ls {d[:rng.randint(1, 4)]}", ""),
            9: ("", f"cat dataos://{d}:{c}/{ds[:rng.randint(0, 6)]}", ""),
            10: (here, f"cat {ds[:rng.randint(0, 8)]}", ""),
            11: (here, f"head {fuzz(rng, ds)}", ""),
            12: (here, "select * from ", ""),
            13: (here, f"select * from {ds[:rng.randint(1, 6)]}", ""),
            14: ("", f"select * from {d}.", ""),
            15: ("", f"select * from {d}.{c}.{ds[:rng.randint(0, 5)]}", ""),
            16: (here, f"select {rng.choice(cols)[:rng.randint(1, 3)]}", f" from {ds}"),
            17: (here, f"select a.{rng.choice(cols)[:rng.randint(0, 3)]}", f" from {ds} a join {ds2} b on a.id = b.id"),
            18: (here, f"select * from {ds} where {rng.choice(cols)[:2]}", ""),
            19: (here, f"select count(*)\nfrom {ds} o\njoin {ds2} p on o.id = p.id\ngroup by o.{rng.choice(cols)[:1]}", ""),
            20: (here, f"select {fuzz(rng, rng.choice(cols))}", f" from {ds}"),
            21: (here, f"select * from {fuzz(rng, ds)}", ""),
            22: (here, rng.choice(["sel", "select * fr", f"select * from {ds} wh", f"select * from {ds} where id = 1 ",
                                   f"SELECT * FROM {ds} ORDER BY "]), ""),
            23: ("", f"cd dataos://{fuzz(rng, d)}", ""),
            24: ("", f"get {rng.choice(['wor', 'ser', 'dep', 'pol', 'wf', ''])}", ""),
        }
        out.append(cases[kind])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inputs", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = random.Random(7)
    started = time.perf_counter()
    snap = catalog(rng)
    build_s = time.perf_counter() - started
    cases = inputs(rng, snap, args.inputs)
    state = ShellState()
    completer = ShellCompleter(state, SnapshotSource(snap), COMMANDS)
    event = CompleteEvent(completion_requested=True)

    def run(cwd: str, before: str, after: str) -> int:
        state.cwd = cwd
        return len(list(completer.get_completions(Document(before + after, len(before)), event)))

    for case in cases[:50]:  # warm-up (the command tree, regex caches)
        run(*case)
    per_input, every, counts, slowest = [], [], [], []
    clock = time.perf_counter_ns
    for case in cases:
        times = []
        for _ in range(args.runs):
            t0 = clock()
            count = run(*case)
            times.append((clock() - t0) / 1e6)
        every += times
        med = statistics.median(times)
        per_input.append(med)
        counts.append(count)
        slowest.append((med, case))
    slowest.sort(reverse=True)
    p = {q: percentile(per_input, q) for q in (50, 95, 99)}
    data = {"inputs": len(cases), "runs": args.runs, "datasets": sum(len(v) for v in snap.datasets.values()),
            "p50_ms": round(p[50], 3), "p95_ms": round(p[95], 3), "p99_ms": round(p[99], 3),
            "max_ms": round(max(per_input), 3), "calls_p99_ms": round(percentile(every, 99), 3),
            "completions_median": statistics.median(counts), "completions_max": max(counts),
            "catalog_build_s": round(build_s, 2),
            "slowest": [{"ms": round(ms, 3), "cwd": cwd, "text": before + "|" + after}
                        for ms, (cwd, before, after) in slowest[:5]]}
    rows = [("completion p50", "", f"{p[50]:.2f} ms"), ("completion p95", "", f"{p[95]:.2f} ms"),
            ("completion p99", "≤ 50 ms", f"{p[99]:.2f} ms"), ("completion max", "", f"{max(per_input):.2f} ms"),
            ("every call p99", "", f"{data['calls_p99_ms']:.2f} ms"),
            ("completions per input (median / max)", "", f"{data['completions_median']:.0f} / {max(counts)}")]
    report(f"Shell completion: {len(cases)} inputs × {args.runs} runs, {data['datasets']:,} datasets",
           rows, args.json, data)
    if not args.json:
        print("\nslowest inputs:")
        for s in data["slowest"]:
            print(f"  {s['ms']:8.3f} ms  cwd={s['cwd'] or '/'}  {s['text']!r}")


if __name__ == "__main__":
    main()
