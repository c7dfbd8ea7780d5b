"""`dataos query --out FILE` when things go wrong. Killed mid-export, it leaves no `.FILE.*.part`
behind: a SIGTERM (or SIGHUP) removes it before the client dies of the signal; after a SIGKILL,
which nothing can catch, the next export to that file removes the leftover (its writer is
gone). A FILE that cannot be written is refused before the query runs, in one line."""
from __future__ import annotations

import os
import signal
import subprocess

import duckdb
import pyarrow.parquet as pq
import pytest

from clitools import DATAOS, apply_file_depot, error_line, ok, wait_for

ROWS = 20_000
ENDLESS = ("select a.id, b.id as other, c.id as third, a.note "  # 8·10¹² rows: days (400M took 20 s on a fast host,
           "from sig.s.rows a, sig.s.rows b, sig.s.rows c")     # and an export ended before its signal came)


@pytest.fixture(scope="module")
def depot(run_module, tmp_path_factory):
    root = tmp_path_factory.mktemp("sig")
    (root / "s").mkdir()
    duckdb.sql(f"COPY (SELECT i AS id, 'note ' || i AS note FROM range({ROWS}) t(i)) "
               f"TO '{root}/s/rows.parquet' (FORMAT parquet)")
    apply_file_depot(run_module, "sig", root)


def _signals_by_default() -> None:
    """The export as from a terminal, even when the tests run under nohup (which the CLI, as it
    should, leaves ignored)."""
    for sig in (signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


def exporting(run, target) -> subprocess.Popen:
    """`dataos query ENDLESS --out target`, once its temporary file has data in it."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("DATAOS_")}, "DATAOS_HOME": str(run.home),
           "NO_COLOR": "1", "DATAOS_NO_PAGER": "1", "DATAOS_NO_DEMO": "1"}
    proc = subprocess.Popen([*DATAOS, "query", ENDLESS, "--out", str(target)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=_signals_by_default)
    wait_for(lambda: proc.poll() is not None or any(p.stat().st_size for p in target.parent.glob("*.part")), 60)
    assert proc.poll() is None, proc.communicate()
    return proc


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_terminated_export_removes_its_temporary_file(run_module, depot, tmp_path, sig):
    target = tmp_path / "all.parquet"
    proc = exporting(run_module, target)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == -sig, err  # it still dies of the signal (its parent sees why)
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_the_next_export_removes_what_a_killed_one_left(run_module, depot, tmp_path):
    target = tmp_path / "all.csv"
    proc = exporting(run_module, target)
    proc.kill()
    proc.communicate(timeout=30)
    [left] = tmp_path.glob("*.part")  # a SIGKILL cannot be caught
    ok(run_module("query", "select * from sig.s.rows", "--out", str(target)))
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
    assert len(target.read_text().splitlines()) == ROWS + 1

    other = tmp_path / "other.parquet"  # a live export's file is left alone
    proc = exporting(run_module, other)
    try:
        [live] = tmp_path.glob("*.part")
        ok(run_module("query", "select * from sig.s.rows", "--out", str(other)))
        assert live.exists() and pq.read_table(other).num_rows == ROWS
    finally:
        proc.kill()
        proc.communicate(timeout=30)


def test_a_file_that_cannot_be_written_is_refused_before_the_query(run_module, tmp_path):
    line = error_line(run_module("query", ENDLESS, "--out", tmp_path / "no" / "x.csv"), "ENOENT", 5)
    assert f"there is no directory {tmp_path / 'no'}" in line
    (tmp_path / "d.parquet").mkdir()
    error_line(run_module("query", ENDLESS, "--out", tmp_path / "d.parquet"), "EINVAL", 2)
    assert [p.name for p in tmp_path.iterdir()] == ["d.parquet"]
