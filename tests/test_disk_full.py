"""A full disk is ENOSPC (exit 9) naming the path, never EIO; nothing is half-written; and every
background writer (audit, caretaker, Metis usage) goes on by itself once there is room again,
without a restart.

The disk is a small tmpfs mounted here (as root: CI runs as root), filled up by a file; the
tests are skipped, saying why, where a tmpfs cannot be mounted.
"""
from __future__ import annotations

import errno
import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pyarrow as pa
import pytest

import syscalls
from clitools import DATAOS, arrow_data, wait_for
from syscalls.errors import SyscallError
from pgkit import ON_SQLITE_ONLY


def mount_tmpfs(where: Path, size: str = "8m") -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill up needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")


def unmount(where: Path) -> None:
    if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)  # busy: detach it now, free it later


@pytest.fixture
def disk(tmp_path):
    """An 8 MiB file system of its own."""
    where = tmp_path / "disk"
    where.mkdir()
    mount_tmpfs(where)
    yield where
    unmount(where)


def fill(directory: Path) -> Path:
    """A file taking every free block of `directory`'s file system (delete it to free them)."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (2**20, 4096, 1):
            try:
                while True:
                    os.write(fd, bytes(size))
            except OSError as e:
                assert e.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def cluster(name: str) -> dict:
    return {"name": name, "version": "v1", "type": "cluster", "cluster": {"type": "duckdb"}}


# --- the audit log and the syscalls it answers ---------------------------------------------------

@ON_SQLITE_ONLY
def test_a_full_disk_refuses_calls_with_enospc_and_the_audit_log_resumes(disk):
    state = disk / "state"
    with syscalls.connect(f"embedded://{state}") as k:
        k.auth.whoami()
        answered = 1
        filler = fill(disk)
        for _ in range(500):  # the journal's last page fills up a record at a time
            try:
                k.auth.whoami()
            except SyscallError as e:
                refused = e
                break
            answered += 1
        else:
            pytest.fail("500 calls answered on a full disk")
        assert refused.code == "ENOSPC" and refused.exit_code == 9
        assert refused.message.startswith("the disk is full: ") and str(state) in refused.message
        with pytest.raises(SyscallError) as e:  # an apply on the full disk stores nothing
            k.resource.apply(manifests=[cluster("c1"), cluster("c2")])
        assert e.value.code == "ENOSPC"
        for journal in state.glob("audit.*.journal"):  # whole records only, none half-written
            assert all(json.loads(line) for line in journal.read_bytes().splitlines())

        filler.unlink()
        k.auth.whoami()  # the same kernel answers again
        answered += 1
        assert not [r for r in k.resource.list(type="cluster") if r["name"] in ("c1", "c2")]
        assert [r["action"] for r in k.resource.apply(manifests=[cluster("c1"), cluster("c2")])["results"]] == \
            ["created", "created"]
        audit = sqlite3.connect(f"file:{state / 'audit.db'}?mode=ro", uri=True)

        def moved() -> bool:  # by the writer thread, not by a read of the log
            return audit.execute("SELECT count(*) FROM audit WHERE syscall = 'auth.whoami' AND errno IS NULL"
                                 ).fetchone()[0] == answered

        wait_for(moved, timeout=20)
        audit.close()


def test_a_call_answered_enospc_on_a_full_disk_did_nothing(disk):
    """A store may still take a write where its files have room (SQLite reuses its WAL), the
    audit journal not: every apply on a full disk is stored and answered, or refused and not stored."""
    state = disk / "state"
    with syscalls.connect(f"embedded://{state}") as k:
        for i in range(20):  # the WAL grows, and is checkpointed: room to reuse
            k.resource.apply(manifests=[cluster(f"warm-{i}")])
        with sqlite3.connect(state / "poros.db") as db:
            db.execute("PRAGMA wal_checkpoint(RESTART)")
        filler = fill(disk)
        answered, refused = set(), set()
        for i in range(400):
            try:
                k.resource.apply(manifests=[cluster(f"c-{i}")])
                answered.add(f"c-{i}")
            except SyscallError as e:
                assert e.code == "ENOSPC"
                refused.add(f"c-{i}")
        assert refused, "400 applies answered on a full disk"
        filler.unlink()
        stored = {r["name"] for r in k.resource.list(type="cluster") if r["name"].startswith("c-")}
        assert stored == answered
    with syscalls.connect(f"embedded://{state}") as k:  # the catalog catches up on what it missed
        assert all(k.catalog.get(ref=f"resource://public/cluster/{name}") for name in answered)


@pytest.mark.slow
@ON_SQLITE_ONLY
def test_the_cli_says_enospc_exit_9_and_the_daemon_recovers(disk, tmp_path):
    env = {**{k: v for k, v in os.environ.items() if k not in ("DATAOS_TOKEN", "DATAOS_CONTEXT")},
           "DATAOS_HOME": str(disk), "NO_COLOR": "1", "DATAOS_NO_PAGER": "1"}

    def dataos(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*DATAOS, *args], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path)

    def pid() -> int:
        return json.loads(dataos("kernel", "status", "-o", "json").stdout)["pid"]

    try:
        manifests = tmp_path / "two.yaml"
        manifests.write_text("name: a\nversion: v1\ntype: cluster\ncluster: {type: duckdb}\n---\n"
                             "name: b\nversion: v1\ntype: cluster\ncluster: {type: duckdb}\n")
        assert dataos("get", "cluster", "default").returncode == 0  # starts the daemon
        daemon = pid()
        filler = fill(disk)
        r = dataos("apply", "-f", str(manifests))
        assert r.returncode == 9, r.stdout + r.stderr
        assert "Traceback" not in r.stderr and len(r.stderr.splitlines()) == 1, r.stderr
        assert r.stderr.startswith(f"error: ENOSPC: the disk is full: cannot write {disk}"), r.stderr
        filler.unlink()
        assert dataos("get", "cluster", "a").returncode == 5  # none of the two was stored
        assert dataos("get", "cluster", "b").returncode == 5
        r = dataos("apply", "-f", str(manifests))
        assert r.returncode == 0, r.stdout + r.stderr
        assert pid() == daemon
        log = json.loads(dataos("audit", "--syscall", "resource.apply", "-o", "json").stdout)
        assert log[0]["errno"] is None and any(e["errno"] == "ENOSPC" for e in log)
    finally:
        dataos("kernel", "stop")


# --- the other background writers ----------------------------------------------------------------

def test_pod_changes_on_a_full_disk_are_recorded_once_there_is_room(disk):
    from kernel.caretaker import Caretaker
    from kernel.store import Place
    from kernel.cloud import PodStatus

    def pod(phase: str, **more) -> PodStatus:
        return PodStatus(name="p", workspace="public", phase=phase, labels={}, created="2026-01-01T00:00:00.000Z",
                         **more)

    caretaker = Caretaker(Place(disk))
    caretaker.observe([pod("Pending")])
    filler = fill(disk)
    for _ in range(20):  # the pod runs and ends while nothing can be written
        caretaker.observe([pod("Running", started="2026-01-01T00:00:01.000Z")])
        caretaker.observe([pod("Succeeded", started="2026-01-01T00:00:01.000Z",
                               finished="2026-01-01T00:00:02.000Z", exit_code=0)])
    assert caretaker.get("p")["phase"] == "Succeeded"  # current all along
    filler.unlink()
    caretaker.observe([])
    caretaker.close()
    again = Caretaker(Place(disk))
    assert again.get("p")["exit_code"] == 0
    assert [e["phase"] for e in again.history("p")] == ["Pending"] + ["Running", "Succeeded"] * 20
    again.close()


def test_usage_counted_on_a_full_disk_is_written_once_there_is_room(disk, monkeypatch):
    import kernel.metis.service as service
    from kernel.store import Place
    from kernel.depot.registry import Depots
    monkeypatch.setattr(service, "USAGE_FLUSH", -1.0)  # every count is written at once
    metis = service.Metis(Place(disk), Depots())
    urn = "dataos://lake:sales/orders"
    metis.catalog.put(urn, "schema", {"columns": [{"name": "id", "type": "BIGINT"}]}, "test")
    filler = fill(disk)
    for _ in range(30):
        metis.used([urn])  # a query read it: never an error, whatever the disk
    filler.unlink()
    metis.used([urn])
    assert metis.catalog.aspect(urn, "usage")["queries"] == 31
    metis.close()


def test_a_query_that_cannot_spill_to_a_full_disk_is_enospc(disk):
    from kernel.minerva.duckdb_engine import Limits, Query
    spill = disk / "spill"
    spill.mkdir()
    fill(disk)
    query = Query("select count(*) from (select md5(i::varchar) s from range(2000000) t(i) order by s)", [],
                  Limits(memory="32MiB", threads=1, cluster="small", spill=str(spill)))
    try:
        with pytest.raises(SyscallError) as e:
            query.run()
            query.fetchmany(1)
    finally:
        query.close()
    assert e.value.code == "ENOSPC" and e.value.details["path"] == str(spill)
    assert os.listdir(spill) == []  # its spill folder went with it


# --- datasets ------------------------------------------------------------------------------------

def test_a_dataset_write_on_a_full_disk_leaves_nothing_and_works_once_there_is_room(disk, tmp_path):
    lake = disk / "lake"
    (lake / "sales").mkdir(parents=True)
    data = arrow_data(pa.table({"id": list(range(50_000)), "note": [f"row {i}" for i in range(50_000)]}))
    with syscalls.connect(f"embedded://{tmp_path / 'state'}") as k:
        k.resource.apply(manifests=[{"name": "lake", "version": "v1", "type": "depot",
                                     "depot": {"type": "file", "file": {"path": str(lake)}}}])
        filler = fill(disk)
        with pytest.raises(SyscallError) as e:
            k.dataset.write(address="dataos://lake:sales/orders", data=data)
        assert e.value.code == "ENOSPC" and str(lake / "sales") in e.value.message
        assert os.listdir(lake / "sales") == []  # no dataset, no staging, no half a part
        filler.unlink()
        assert k.dataset.write(address="dataos://lake:sales/orders", data=data)["rows"] == 50_000
        assert k.query.execute(sql="select count(*) from lake.sales.orders")["rows"] == [[50_000]]


def test_a_commit_that_fails_part_way_is_undone(tmp_path, monkeypatch):
    """Moving parts into a dataset can need space too (a directory block): the moves made are
    undone, so readers never see some parts of an append."""
    from kernel.depot import Address
    from kernel.depot.file import FileDepot
    from kernel.depot.writes import Uploads
    depot = FileDepot("lake", {"path": str(tmp_path)})
    where = Address.parse("dataos://lake:sales/orders")
    uploads = Uploads()
    first = uploads.begin("ana", where, depot, "overwrite")
    uploads.append(first, pa.table({"id": [0]}))
    uploads.commit(first)
    before = sorted(p.name for p in (tmp_path / "sales" / "orders").iterdir())
    more = uploads.begin("ana", where, depot, "append")
    for i in range(1, 4):
        uploads.append(more, pa.table({"id": [i]}))
    real, calls = Path.rename, []

    def rename(self, target):  # the third move finds the disk full
        calls.append(self)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(SyscallError) as e:
        uploads.commit(more)
    assert e.value.code == "ENOSPC" and len(calls) > 3  # two moves made, then undone
    monkeypatch.undo()
    assert sorted(p.name for p in (tmp_path / "sales" / "orders").iterdir()) == before
    uploads.commit(more)  # every staged part is still staged
    assert len(list((tmp_path / "sales" / "orders").iterdir())) == 4


def test_a_kernel_that_cannot_start_on_a_full_disk_says_so_in_one_line(disk):
    fill(disk)
    r = subprocess.run([os.sys.executable, "-m", "kernel", "serve", "--state", str(disk / "state"),
                        "--listen", "127.0.0.1:0"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 9, r.stderr
    assert "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("dataos kernel: ENOSPC: the disk is full")


def test_readyz_says_the_disk_is_full_and_not_where(disk):
    """/readyz answers anyone: a full disk makes it 503, and its answer names no path."""
    import asyncio

    import httpx

    from kernel.api import create_app
    from kernel.kernel import Kernel
    kernel = Kernel(disk / "state", operator="ops")
    token = kernel.session_token()
    filler = fill(disk)
    try:
        for _ in range(5000):  # until the journal's reserve is used up
            try:
                kernel.call(token, "auth.whoami")
            except SyscallError as e:
                assert e.code == "ENOSPC"
                break

        async def ready() -> httpx.Response:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(kernel)),
                                         base_url="http://kernel") as client:
                return await client.get("/readyz")
        answer = asyncio.run(ready())
        assert answer.status_code == 503
        assert answer.json()["problems"] == ["ENOSPC: the disk is full: no room for the audit records of calls"]
    finally:
        filler.unlink()
        kernel.close()
