"""A dataset no policy governs is read through its engine view, with no derived table around it:
the view itself selects exactly the columns the query was planned with. A column the data gained
since (a file rewritten between planning and running) is never read, by `*` or otherwise."""
from __future__ import annotations

import duckdb
import pytest

import syscalls


@pytest.fixture
def kernel(tmp_path):
    folder = tmp_path / "lake" / "c"
    folder.mkdir(parents=True)
    duckdb.sql(f"COPY (SELECT 1 AS a, 'x' AS b, 'top secret' AS secret) TO '{folder}/t.parquet' (FORMAT parquet)")
    with syscalls.connect(f"embedded://{tmp_path / 'state'}") as op:
        op.resource.apply(manifests=[{"name": "lake", "version": "v1", "type": "depot",
                                      "depot": {"type": "file", "file": {"path": str(tmp_path / "lake")}}}])
        yield op


def test_a_column_the_plan_does_not_know_is_not_in_the_view(kernel, monkeypatch):
    depots = kernel.transport.kernel.depots
    known = depots.columns

    def before_the_file_changed(*args):  # the schema the query is planned with lacks `secret`
        return {name: kind for name, kind in known(*args).items() if name != "secret"}

    monkeypatch.setattr(depots, "columns", before_the_file_changed)
    result = kernel.query.execute(sql="SELECT * FROM lake.c.t")
    assert '"temp"."main"."dataos://lake:c/t"' in result["governance"]["sql"]  # no derived table
    assert [c["name"] for c in result["columns"]] == ["a", "b"] and result["rows"] == [[1, "x"]]
    for sql in ("SELECT t FROM lake.c.t", "SELECT COLUMNS(*) FROM lake.c.t", "SELECT * FROM lake.c.t AS t(p, q, r)"):
        try:
            rows = kernel.query.execute(sql=sql)["rows"]
        except syscalls.SyscallError:
            continue
        assert "top secret" not in repr(rows), sql
