"""Shared by the data tests: a governed file lake on an embedded kernel, users, and the local
database servers."""
from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from syscalls import connect
from syscalls.client import Client


def emails(rows: int) -> list[str]:
    return [f"person{i}@example.com" for i in range(rows)]


@contextmanager
def governed_lake(tmp_path: Path, rows: int) -> Iterator[Client]:
    """A kernel with `lake.hr.employees` (id, email, region: EU for even ids), its emails hashed and
    its rows filtered to EU for `roles:id:analyst`, who may select the lake; users `ana` (an analyst)
    and `bob` (an intern). The client has `lake` (the depot's folder)."""
    lake = tmp_path / "lake"
    (lake / "hr").mkdir(parents=True)
    duckdb.sql(f"COPY (SELECT i AS id, 'person' || i || '@example.com' AS email, "
               f"CASE WHEN i % 2 = 0 THEN 'EU' ELSE 'US' END AS region FROM range({rows}) t(i)) "
               f"TO '{lake}/hr/employees.parquet' (FORMAT parquet)")
    with connect(f"embedded://{tmp_path / 'state'}") as c:
        c.resource.apply(manifests=[
            {"name": "lake", "version": "v1", "type": "depot", "depot": {"type": "file", "file": {"path": str(lake)}}},
            {"name": "mask-email", "version": "v1", "type": "policy", "policy": {"data": {
                "type": "mask", "priority": 40, "dataset_id": "lake.hr.employees",
                "selector": {"user": {"match": "any", "tags": ["roles:id:analyst"]}, "column": {"names": ["email"]}},
                "mask": {"operator": "hash", "hash": {"algo": "sha256"}}}}},
            {"name": "eu-only", "version": "v1", "type": "policy", "policy": {"data": {
                "type": "filter", "priority": 50, "dataset_id": "lake.hr.employees",
                "selector": {"user": {"match": "any", "tags": ["roles:id:analyst"]}},
                "filters": [{"column": "region", "operator": "equals", "value": "EU"}]}}},
            {"name": "analysts-select", "version": "v1", "type": "policy", "policy": {"access": {
                "subjects": {"tags": [["roles:id:analyst"]]}, "predicates": ["select"],
                "objects": {"paths": ["dataos://lake:*/*"]}}}}])
        c.user.create(name="ana", tags=["roles:id:analyst"])
        c.user.create(name="bob", tags=["roles:id:intern"])
        c.lake = lake
        yield c


def as_user(k: Client, name: str) -> Client:
    return Client(k.transport, k.user.apikey.create(user=name)["token"])


def answers(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def psql(sql: str) -> str:
    """Run SQL on the local PostgreSQL's `test` database; its output, unaligned."""
    return subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-tA", "-v", "ON_ERROR_STOP=1",
                           "-c", sql], check=True, capture_output=True, text=True, timeout=30).stdout
