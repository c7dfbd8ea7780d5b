"""Benchmark Heimdall's policy decision point: PolicyIndex.decide against a linear scan.

    python bench/bench_heimdall.py [--policies 10000] [--requests 100000] [--rounds 3] [--baseline 300] [--json]
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kernel.heimdall.policy import AccessPolicy, PolicyIndex  # noqa: E402
from tests.heimdall.reference import reference_decide  # noqa: E402

RESOURCE_TYPES = ["workflow", "service", "worker", "secret", "cluster", "depot"]
OBJECT_TAGS = ["PII.Email", "PII.Phone", "PII.Name", "tier:gold", "tier:silver", "finance", "public"]
Request = dict[str, Any]


class World:
    """A synthetic organisation: depots, workspaces, roles and users to write policies about."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.depots = [f"depot{i}" for i in range(60)] + ["lake", "hr", "crm"]
        self.collections = [f"c{i}" for i in range(8)]
        self.datasets = [f"ds{i}" for i in range(40)]
        self.workspaces = ["public", "prod", "sandbox"] + [f"team{i}" for i in range(40)]
        self.roles = [f"roles:id:team{i}-{kind}" for i in range(60) for kind in ("dev", "analyst", "admin")]
        self.users = [f"u{i}" for i in range(5000)]
        self.user_roles = {u: ["roles:id:user", *rng.sample(self.roles, rng.randint(1, 3))] for u in self.users}

    def dataset(self, depot: str | None = None, collection: str | None = None) -> str:
        r = self.rng
        return (f"dataos://{depot or r.choice(self.depots)}:{collection or r.choice(self.collections)}/"
                f"{r.choice(self.datasets)}")

    def resource(self) -> str:
        r = self.rng
        return f"/poros/workspaces/{r.choice(self.workspaces)}/{r.choice(RESOURCE_TYPES)}/res{r.randrange(200)}"

    def policy(self, name: str) -> AccessPolicy:
        """One policy of a realistic mix: dataset and workspace grants to roles and users, denies,
        object-tag rules, a few glob subjects, and two hot spots (one shared path prefix with
        thousands of subjects, one shared subject with thousands of paths)."""
        r = self.rng
        role, user = r.choice(self.roles), f"users:id:{r.choice(self.users)}"
        depot, collection = r.choice(self.depots), r.choice(self.collections)
        kind = r.random()
        allow, object_tags = True, ()
        if kind < 0.25:
            subjects, predicates = [[role]], ["read", "select"]
            paths = [r.choice([self.dataset(depot, collection), f"dataos://{depot}:{collection}/*",
                               f"dataos://{depot}:**"])]
        elif kind < 0.40:
            subjects, predicates = [[user]], ["select"]
            paths = [self.dataset(), f"dataos://{depot}:{collection}/ds{r.randrange(40)}*"]
        elif kind < 0.55:
            ws, rtype = r.choice(self.workspaces), r.choice(RESOURCE_TYPES)
            subjects = r.choice([[[role]], [[role, user]], [[role], [user]]])
            predicates = r.sample(["read", "create", "update", "delete"], r.randint(1, 4))
            paths = [r.choice([f"/poros/workspaces/{ws}/{rtype}/**", f"/poros/workspaces/{ws}/**",
                               f"/poros/workspaces/{ws}/{rtype}/res{r.randrange(200)}"])]
        elif kind < 0.65:
            allow, subjects = False, [[r.choice([role, user, "roles:id:user"])]]
            predicates = r.choice([["select"], ["delete"], ["*"]])
            paths = [r.choice([f"dataos://{depot}:{collection}/*",
                               f"/poros/workspaces/prod/{r.choice(RESOURCE_TYPES)}/*",
                               self.dataset()])]
        elif kind < 0.72:
            allow, subjects = r.random() < 0.5, [[role]]
            predicates, paths = ["select"], []
            object_tags = (r.choice(["PII.*", "tier:gold", "finance", "PII.Email"]),)
        elif kind < 0.73:
            subjects = [[r.choice(["users:id:*", "roles:id:*-admin", "roles:id:team?-dev"])]]
            predicates, paths = ["read"], [f"/poros/workspaces/{r.choice(self.workspaces)}/**"]
        elif kind < 0.87:  # hot spot: one path prefix, thousands of subjects
            subjects, predicates = [[user]], ["select"]
            paths = [r.choice(["dataos://lake:sales/*", f"dataos://lake:sales/ds{r.randrange(40)}"])]
        else:  # hot spot: one subject every caller holds, thousands of paths
            subjects, predicates = [["roles:id:user"]], ["read"]
            paths = [r.choice([self.resource(), f"/poros/workspaces/{r.choice(self.workspaces)}/service/res"
                                                f"{r.randrange(200)}*"])]
        return AccessPolicy(name, allow, tuple(frozenset(c) for c in subjects), frozenset(predicates),
                            tuple(paths), tuple(object_tags))

    def request(self) -> Request:
        r = self.rng
        user = r.choice(self.users)
        kind = r.random()
        if kind < 0.5:
            predicate = r.choice(["select", "select", "read"])
            path = r.choice([self.dataset(), self.dataset("lake", "sales")])
            object_tags = frozenset(r.sample(OBJECT_TAGS, r.choice([0, 0, 1, 2])))
        elif kind < 0.9:
            predicate, path = r.choice(["read", "create", "update", "delete"]), self.resource()
            object_tags = frozenset()
        else:
            predicate, path = "read", f"/heimdall/users/{r.choice([user, r.choice(self.users)])}"
            object_tags = frozenset()
        return {"subject_tags": frozenset([*self.user_roles[user], f"users:id:{user}"]), "predicate": predicate,
                "path": path, "object_tags": object_tags, "user": user}


BUILTINS = [
    AccessPolicy("operator-full-access", True, (frozenset({"roles:id:operator"}),), frozenset({"*"}), ("**",), ()),
    AccessPolicy("self-read", True, (frozenset({"users:id:*"}),), frozenset({"read"}),
                 ("/heimdall/users/${user}", "/poros/types"), ()),
]


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def run(n_policies: int, n_requests: int, n_rounds: int, n_baseline: int, seed: int) -> dict[str, Any]:
    world = World(random.Random(seed))
    policies = BUILTINS + [world.policy(f"p{i:05d}") for i in range(n_policies - len(BUILTINS))]
    requests = [world.request() for _ in range(n_requests)]

    start = time.perf_counter_ns()
    index = PolicyIndex(policies)
    build_ms = (time.perf_counter_ns() - start) / 1e6

    for r in requests[:2000]:  # warm-up
        index.decide(**r)
    clock = time.perf_counter_ns
    rounds, allowed = [], 0
    for _ in range(n_rounds):
        timings = []
        for r in requests:
            t0 = clock()
            decision = index.decide(**r)
            timings.append((clock() - t0) / 1000)
            allowed += decision.allow
        timings.sort()
        rounds.append({"mean": round(statistics.fmean(timings), 2), "p50": round(percentile(timings, 0.5), 2),
                       "p99": round(percentile(timings, 0.99), 2), "max": round(timings[-1], 1)})
    headline = sorted(rounds, key=lambda x: x["p99"])[len(rounds) // 2]  # the median round by p99

    baseline, mismatches = [], 0
    for r in requests[:n_baseline]:
        t0 = clock()
        expected = reference_decide(policies, **r)
        baseline.append((clock() - t0) / 1000)
        decision = index.decide(**r)
        mismatches += (decision.allow, decision.policy) != expected
    baseline.sort()

    return {
        "policies": len(index), "requests": n_requests, "build_ms": round(build_ms, 1),
        "allowed_fraction": round(allowed / (n_requests * n_rounds), 3),
        "index_us": headline, "rounds_us": rounds,
        "baseline_requests": n_baseline, "baseline_mismatches": mismatches,
        "baseline_us": {"mean": round(statistics.fmean(baseline), 1), "p50": round(percentile(baseline, 0.5), 1),
                        "p99": round(percentile(baseline, 0.99), 1)},
        "speedup_mean": round(statistics.fmean(baseline) / headline["mean"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=100_000, help="decide() calls per round")
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds; the median round (by p99) is reported")
    parser.add_argument("--baseline", type=int, default=300, help="requests for the linear-scan baseline")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    result = run(args.policies, args.requests, args.rounds, args.baseline, args.seed)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    idx, base = result["index_us"], result["baseline_us"]
    print(f"policies {result['policies']}   index build {result['build_ms']} ms   "
          f"allowed {result['allowed_fraction']:.1%}")
    print(f"{'evaluator':<14}{'requests':>10}{'mean µs':>10}{'p50 µs':>10}{'p99 µs':>10}{'max µs':>10}")
    for i, row in enumerate(result["rounds_us"], 1):
        label = f"index rnd {i}" + ("*" if row is idx else "")
        print(f"{label:<14}{result['requests']:>10}{row['mean']:>10}{row['p50']:>10}{row['p99']:>10}{row['max']:>10}")
    print(f"{'linear scan':<14}{result['baseline_requests']:>10}{base['mean']:>10}{base['p50']:>10}"
          f"{base['p99']:>10}{'':>10}")
    print(f"* median round   speed-up (mean) {result['speedup_mean']}x   "
          f"disagreements with the linear scan {result['baseline_mismatches']}")


if __name__ == "__main__":
    main()
