"""Fixtures of the shell's tests: a kernel with the demo lakehouse and a 100,000-row dataset."""
from __future__ import annotations

import duckdb
import pytest

from clitools import apply_file_depot, as_json, ok, wait_for

BIG_ROWS = 100_000


@pytest.fixture(scope="module")
def lakehouse(run_module, tmp_path_factory):
    """The module's kernel with `dataos demo install --orders 20000` (its workflow run) and `lake:big/t`
    (x = 0…99,999)."""
    ok(run_module("demo", "install", "--orders", "20000", timeout=120))
    wait_for(lambda: as_json(run_module("get", "runtime", "workflow", "daily-revenue", "-o", "json"))["runtime"]
             == "succeeded", timeout=60)
    root = tmp_path_factory.mktemp("lake")
    (root / "big").mkdir()
    duckdb.sql(f"COPY (SELECT i AS x FROM range({BIG_ROWS}) t(i)) TO '{root}/big/t.parquet' (FORMAT parquet)")
    apply_file_depot(run_module, "lake", root)
    return run_module
