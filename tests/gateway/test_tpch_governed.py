"""The 22 TPC-H queries at scale factor 0.01, planned in-process for each governed user of
bench/bench_tpch.py (its users, policies and hand-written views), equal the hand-written views'
answers; as the operator (no data policy), the raw tables' answers. In order where the query
orders its rows, otherwise as multisets; floats to 1e-9 relative.

As in the kernel, the engine knows the raw tables as temporary views named by dataset address and
the keyed hash as a function of its own; the data is made offline by the `tpch` extension of the
`duckdb-extension-tpch` wheel (the test extra)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from kernel.gateway import plan

SF = 0.01
KEY = b"tpch-test-key-0123456789abcdef"


def _bench():
    """bench/bench_tpch.py as a module (it imports its sibling benchmarks only when run)."""
    path = Path(__file__).parents[2] / "bench" / "bench_tpch.py"
    spec = importlib.util.spec_from_file_location("bench_tpch", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_tpch"] = module  # (dataclasses look their module up)
    spec.loader.exec_module(module)
    return module


bench = _bench()
USERS = [None, *bench.USERS]  # None: the operator


@pytest.fixture(scope="module")
def tpch(tmp_path_factory: pytest.TempPathFactory):
    if importlib.util.find_spec("duckdb_extension_tpch") is None:
        pytest.skip("duckdb-extension-tpch (the test extra) is not installed: no offline TPC-H generator")
    lake = tmp_path_factory.mktemp("tpch")
    bench.make_lake(lake, SF)
    folder = lake / "tpch"
    raw = bench.raw_engine(folder, KEY)
    answers = {None: raw, **{u: bench.hand_engine(folder, u, KEY) for u in bench.USERS}}
    world = {"queries": bench.queries(), "raw": raw, "answers": answers,
             "args": {u: bench.plan_args(folder, u) for u in USERS}}
    yield world
    for con in answers.values():
        con.close()


@pytest.mark.parametrize("user", USERS, ids=lambda u: u or "operator")
@pytest.mark.parametrize("n", range(1, 23), ids=lambda n: f"Q{n}")
def test_tpch_query_equals_the_hand_written_views(tpch, user, n):
    sql = tpch["queries"][n]
    governed = plan(bench.qualified(sql), **tpch["args"][user])
    got = tpch["raw"].execute(governed.sql).fetchall()
    want = tpch["answers"][user].execute(sql).fetchall()
    assert bench.agree(got, want, bench.ordered(sql)) == "yes", governed.sql
