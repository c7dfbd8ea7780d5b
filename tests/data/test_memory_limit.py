"""Memory limits: every cluster has one (the built-in `default` a configurable share of the
machine's memory), and a query that needs more is ENOMEM naming the cluster and its limit —
not EINVAL — while the kernel goes on answering."""
from __future__ import annotations

import duckdb
import pytest

import syscalls
from syscalls.errors import SyscallError

ROWS = 1_000_000
GREEDY = "select median(s) from lake.big.strings"  # holds every string in memory at once


@pytest.fixture
def lake(tmp_path):
    (tmp_path / "lake" / "big").mkdir(parents=True)
    duckdb.sql(f"COPY (SELECT md5(i::varchar) AS s FROM range({ROWS}) t(i)) "
               f"TO '{tmp_path}/lake/big/strings.parquet' (FORMAT parquet)")
    return {"name": "lake", "version": "v1", "type": "depot",
            "depot": {"type": "file", "file": {"path": str(tmp_path / "lake")}}}


def test_a_query_over_its_clusters_memory_limit_is_enomem_and_the_kernel_goes_on(tmp_path, lake):
    with syscalls.connect(f"embedded://{tmp_path / 'state'}") as k:
        k.resource.apply(manifests=[lake, {"name": "tiny", "version": "v1", "type": "cluster", "cluster": {
            "type": "duckdb", "resources": {"memory": "16Mi", "threads": 1}}}])
        with pytest.raises(SyscallError) as e:
            k.query.execute(sql=GREEDY, cluster="tiny")
        assert e.value.code == "ENOMEM" and e.value.exit_code == 10
        assert "cluster 'tiny'" in e.value.message and "16MiB" in e.value.message
        assert e.value.details == {"cluster": "tiny", "memory": "16MiB"}
        assert k.query.execute(sql="select count(*) from lake.big.strings", cluster="tiny")["rows"] == [[ROWS]]
        assert k.query.execute(sql=GREEDY)["row_count"] == 1  # the default cluster has room for it
        assert sorted(h["errno"] or "" for h in k.query.history(limit=3)) == ["", "", "ENOMEM"]


def test_the_default_cluster_has_a_share_of_the_machines_memory(tmp_path):
    from kernel.minerva.clusters import machine_memory
    with syscalls.connect(f"embedded://{tmp_path / 'state'}") as k:
        memory = k.resource.get(type="cluster", name="default", workspace="public")["cluster"]["resources"]["memory"]
    assert memory == f"{machine_memory() // 2 // 2**20}Mi"  # 50% unless DATAOS_DEFAULT_CLUSTER_MEMORY says


def test_the_default_clusters_memory_is_configurable(tmp_path, lake, monkeypatch):
    monkeypatch.setenv("DATAOS_DEFAULT_CLUSTER_MEMORY", "16Mi")
    with syscalls.connect(f"embedded://{tmp_path / 'state'}") as k:
        k.resource.apply(manifests=[lake])
        with pytest.raises(SyscallError) as e:
            k.query.execute(sql=GREEDY)
        assert e.value.code == "ENOMEM" and "cluster 'default'" in e.value.message
    monkeypatch.setenv("DATAOS_DEFAULT_CLUSTER_MEMORY", "101%")
    with pytest.raises(SyscallError) as e:
        syscalls.connect(f"embedded://{tmp_path / 'state'}")
    assert e.value.code == "EINVAL" and "DATAOS_DEFAULT_CLUSTER_MEMORY" in e.value.message
