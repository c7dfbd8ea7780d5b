"""`query.stream`: governed results as Arrow batches, the same on every transport, and the
clusters queries run on (the built-in default serves every depot; others only theirs)."""
from __future__ import annotations

import uuid

import duckdb
import pyarrow as pa
import pytest

from syscalls import SyscallError
from clitools import wait_for

TRANSPORTS = ["embedded", "unix", "http", "https", "replicas"]  # replicas: two kernels, calls alternating
ROWS = 250_000


@pytest.fixture(scope="module", params=TRANSPORTS)
def k(request):
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="module")
def lake(k, tmp_path_factory):
    """A depot with one 250,000-row dataset, an analyst who sees it masked and filtered."""
    root = tmp_path_factory.mktemp("lake")
    (root / "hr").mkdir()
    duckdb.sql(f"COPY (SELECT i AS id, 'person' || i || '@example.com' AS email, "
               f"CASE WHEN i % 2 = 0 THEN 'EU' ELSE 'US' END AS region FROM range({ROWS}) t(i)) "
               f"TO '{root}/hr/people.parquet' (FORMAT parquet)")
    depot = f"lake{uuid.uuid4().hex[:6]}"
    role = f"roles:id:analyst-{depot}"
    k.op.resource.apply(manifests=[
        {"name": depot, "version": "v1", "type": "depot", "depot": {"type": "file", "file": {"path": str(root)}}},
        {"name": f"{depot}-mask", "version": "v1", "type": "policy", "policy": {"data": {
            "type": "mask", "priority": 40, "dataset_id": f"{depot}.hr.people",
            "selector": {"user": {"match": "any", "tags": [role]}, "column": {"names": ["email"]}},
            "mask": {"operator": "hash", "hash": {"algo": "sha256"}}}}},
        {"name": f"{depot}-eu", "version": "v1", "type": "policy", "policy": {"data": {
            "type": "filter", "priority": 50, "dataset_id": f"{depot}.hr.people",
            "selector": {"user": {"match": "any", "tags": [role]}},
            "filters": [{"column": "region", "operator": "equals", "value": "EU"}]}}},
        {"name": f"{depot}-read", "version": "v1", "type": "policy", "policy": {"access": {
            "subjects": {"tags": [[role]]}, "predicates": ["select"], "objects": {"paths": [f"dataos://{depot}:hr/*"]}}}}])
    analyst = f"ana-{depot}"
    k.op.user.create(name=analyst, tags=[role])
    return depot, k.make_client(k.op.user.apikey.create(user=analyst)["token"])


def collect(items):
    items = list(items)
    header, schema, footer = items[0], items[1], items[-1]
    batches = items[2:-1]
    assert isinstance(schema, pa.Schema) and all(isinstance(b, pa.RecordBatch) for b in batches)
    return header, pa.Table.from_batches(batches, schema=schema), footer


def test_a_large_result_arrives_as_arrow_batches(k, lake):
    depot, _ = lake
    header, table, footer = collect(k.op.query.stream(sql=f"select * from {depot}.hr.people order by id"))
    assert table.num_rows == ROWS == footer["row_count"]
    assert [c["name"] for c in header["columns"]] == table.column_names == ["id", "email", "region"]
    assert table.column("email")[7].as_py() == "person7@example.com"
    assert header["governance"]["policies"] == []


def test_the_stream_is_governed_like_execute(k, lake):
    depot, analyst = lake
    header, table, footer = collect(analyst.query.stream(sql=f"select email, region from {depot}.hr.people"))
    assert footer["row_count"] == table.num_rows == ROWS // 2
    assert set(table.column("region").to_pylist()) == {"EU"}
    assert not any(e.startswith("person") for e in table.column("email").to_pylist())
    assert {c["name"]: c["masked"] for c in header["columns"]}["email"] == "hash"
    assert sorted(header["governance"]["policies"]) == [f"{depot}-eu", f"{depot}-mask"]


def test_limit_cuts_the_stream(k, lake):
    depot, _ = lake
    _, table, footer = collect(k.op.query.stream(sql=f"select id from {depot}.hr.people", limit=12_345))
    assert table.num_rows == footer["row_count"] == 12_345


def test_refusals_come_before_any_item(k, lake):
    depot, analyst = lake
    with pytest.raises(SyscallError) as e:
        next(iter(analyst.query.stream(sql=f"select * from {depot}.hr.nothing")))
    assert e.value.code in ("EACCES", "ENOENT")
    with pytest.raises(SyscallError) as e:
        next(iter(k.op.query.stream(sql="select * from read_csv('/etc/passwd')")))
    assert e.value.code == "EACCES"


def test_a_client_that_stops_reading_ends_the_query(k, lake):
    depot, _ = lake
    endless = f"select a.*, b.id AS b from {depot}.hr.people a, {depot}.hr.people b"  # 62.5 billion rows
    items = iter(k.op.query.stream(sql=endless, timeout=60))
    header = next(items)
    next(items)
    items.close()

    def ended():
        return [h for h in k.op.query.history(limit=50) if h["id"] == header["id"]]

    assert wait_for(ended, timeout=10), "the abandoned query never ended"
    assert ended()[0]["errno"] == "ECANCELED" and (ended()[0]["rows"] or 0) < ROWS * ROWS


# --- clusters ------------------------------------------------------------------------------------

def test_the_default_cluster_is_built_in_and_serves_every_depot(k, lake):
    depot, analyst = lake
    found = k.op.resource.get(type="cluster", name="default", workspace="public")
    assert found["layer"] == "system" and "depots" not in found["cluster"]
    assert analyst.query.execute(sql=f"select count(*) from {depot}.hr.people", cluster="default")["rows"] == [
        [ROWS // 2]]


def test_a_cluster_serves_only_its_depots(k, lake):
    depot, analyst = lake
    name = f"small-{uuid.uuid4().hex[:6]}"
    k.op.resource.apply(manifests=[{"name": name, "version": "v1", "type": "cluster", "workspace": "public",
                                    "cluster": {"type": "duckdb", "depots": [{"address": "dataos://elsewhere"}],
                                                "resources": {"memory": "512Mi", "threads": 1}}}])
    with pytest.raises(SyscallError) as e:
        k.op.query.execute(sql=f"select count(*) from {depot}.hr.people", cluster=name)
    assert e.value.code == "EINVAL" and depot in e.value.message and name in e.value.message
    with pytest.raises(SyscallError) as e:
        analyst.query.execute(sql=f"select count(*) from {depot}.hr.people", cluster=name)
    assert e.value.code == "EACCES"  # nobody granted the analyst this cluster
    k.op.resource.apply(manifests=[{"name": name, "version": "v1", "type": "cluster", "workspace": "public",
                                    "cluster": {"type": "duckdb", "depots": [{"address": f"dataos://{depot}"}],
                                                "resources": {"memory": "512Mi", "threads": 1}}}])
    assert k.op.query.execute(sql=f"select count(*) from {depot}.hr.people", cluster=name)["rows"] == [[ROWS]]
    with pytest.raises(SyscallError) as e:
        k.op.query.execute(sql="select 1", cluster="no-such-cluster")
    assert e.value.code == "ENOENT"


def test_the_default_cluster_cannot_be_changed_or_deleted(k):
    with pytest.raises(SyscallError) as e:
        k.op.resource.delete(type="cluster", name="default", workspace="public")
    assert e.value.code == "EACCES"


# --- what the shell needs: client-chosen ids, running queries, listings ----------------------------

def test_a_query_can_be_cancelled_by_the_id_its_client_chose(k, lake):
    import threading
    depot, _ = lake
    query_id = f"mine-{uuid.uuid4().hex[:8]}"
    outcome = {}

    def run():
        try:
            k.op.query.execute(sql=f"select count(*) from {depot}.hr.people a, {depot}.hr.people b, "
                                   f"{depot}.hr.people c where a.email < b.email and b.email < c.email",
                               id=query_id, timeout=60)  # long enough to be cancelled, however fast engines get
        except SyscallError as e:
            outcome["code"] = e.code

    worker = threading.Thread(target=run)
    worker.start()
    assert wait_for(lambda: any(q["id"] == query_id for q in k.op.query.list()), timeout=20)
    _, analyst = lake
    for _ in range(2):  # on either replica (calls alternate): the one running it, or one that asks it
        with pytest.raises(SyscallError) as e:
            analyst.query.cancel(id=query_id)  # not theirs: as if it did not exist
        assert e.value.code == "ENOENT"
    assert worker.is_alive() and outcome == {}
    k.op.query.cancel(id=query_id)
    worker.join(timeout=30)
    assert outcome == {"code": "ECANCELED"}
    assert not any(q["id"] == query_id for q in k.op.query.list())
    with pytest.raises(SyscallError) as e:
        k.op.query.execute(sql="select 1", id=query_id)  # ids are for good: history holds it at once
    assert e.value.code == "EEXIST"
    with pytest.raises(SyscallError) as e:
        k.op.query.execute(sql="select 1", id="not ok!")
    assert e.value.code == "EINVAL"


def test_dataset_list_shows_what_the_caller_may_select(k, lake):
    depot, analyst = lake
    assert [c["name"] for c in k.op.dataset.list(address=f"dataos://{depot}")] == ["hr"]
    listed = k.op.dataset.list(address=f"dataos://{depot}:hr")
    assert [(d["name"], d["kind"]) for d in listed] == [("people", "dataset")]
    assert [d["name"] for d in analyst.dataset.list(address=f"dataos://{depot}:hr")] == ["people"]
    with pytest.raises(SyscallError) as e:
        k.op.dataset.list(address="dataos://no-such-depot")
    assert e.value.code == "ENOENT"
