"""A governed lake behind the `dataos` CLI, for the meta-command and SQL-error tests: `lake.shop.orders`
(id, email, amount, region; emails hashed and rows filtered to EU for analysts, who may select
`lake:shop/*`) and `lake.hr.salaries` (no one but the operator may select it), both in the catalog;
users `ana` (an analyst) and `bob` (an intern, who may select nothing)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
from clitools import apply_file_depot, ok

ORDERS = 40  # ids 0…39, region EU for even ids
EMAIL = "buyer{}@example.com"


@dataclass
class Lake:
    run: object  # the module's Runner (the operator)
    tokens: dict[str, str]

    def as_(self, user: str, *args: str, **kwargs):
        """`dataos ARGS…` as `user` (the operator when "op")."""
        env = None if user == "op" else {"DATAOS_TOKEN": self.tokens[user]}
        return self.run(*args, env=env, **kwargs)


def governed_lake(run, root: Path) -> Lake:
    for folder in ("shop", "hr"):
        (root / folder).mkdir()
    duckdb.sql(f"COPY (SELECT i AS id, 'buyer' || i || '@example.com' AS email, i * 1.5 AS amount, "
               f"CASE WHEN i % 2 = 0 THEN 'EU' ELSE 'US' END AS region FROM range({ORDERS}) t(i)) "
               f"TO '{root}/shop/orders.parquet' (FORMAT parquet)")
    duckdb.sql(f"COPY (SELECT i AS id, 1000 * i AS secret_bonus FROM range(5) t(i)) "
               f"TO '{root}/hr/salaries.parquet' (FORMAT parquet)")
    apply_file_depot(run, "lake", root)
    analysts = {"match": "any", "tags": ["roles:id:analyst"]}
    manifests = [
        {"name": "hash-email", "version": "v1", "type": "policy", "policy": {"data": {
            "type": "mask", "priority": 40, "dataset_id": "lake.shop.orders",
            "selector": {"user": analysts, "column": {"names": ["email"]}},
            "mask": {"operator": "hash", "hash": {"algo": "sha256"}}}}},
        {"name": "eu-only", "version": "v1", "type": "policy", "policy": {"data": {
            "type": "filter", "priority": 50, "dataset_id": "lake.shop.orders", "selector": {"user": analysts},
            "filters": [{"column": "region", "operator": "equals", "value": "EU"}]}}},
        {"name": "analysts-select-shop", "version": "v1", "type": "policy", "policy": {"access": {
            "subjects": {"tags": [["roles:id:analyst"]]}, "predicates": ["select"],
            "objects": {"paths": ["dataos://lake:shop/*"]}}}}]
    policies = root / "policies.yaml"
    policies.write_text("\n---\n".join(json.dumps(m) for m in manifests))
    ok(run("apply", "-f", str(policies)))
    ok(run("catalog", "scan", "lake"))
    tokens = {}
    for user, tag in (("ana", "roles:id:analyst"), ("bob", "roles:id:intern")):
        ok(run("user", "create", user, "--tag", tag))
        tokens[user] = ok(run("user", "apikey", "create", user)).stdout.strip()
    return Lake(run, tokens)
