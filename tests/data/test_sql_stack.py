"""The `sql` stack: a workflow job reads governed inputs as its owner, runs SQL steps on a
private engine, and writes its outputs whole through `dataset.write`."""
from __future__ import annotations

import uuid

import duckdb
import pyarrow as pa
import pytest

from clitools import arrow_data, wait_for
from syscalls import SyscallError

pytestmark = pytest.mark.slow
EMAILS = {f"p{i}@example.com" for i in range(2000)}


@pytest.fixture(scope="module")
def k(unix):
    return unix


@pytest.fixture(scope="module")
def lake(k, tmp_path_factory):
    """A depot with orders and people; an `etl` user who may run workflows, read the lake masked
    (email hashed, EU rows only) and write its `out` collection."""
    root = tmp_path_factory.mktemp("lake")
    for folder in ("shop", "out"):
        (root / folder).mkdir()
    duckdb.sql(f"COPY (SELECT i AS id, 'p' || i || '@example.com' AS email, CASE WHEN i % 4 = 0 THEN 'EU' ELSE 'US' "
               f"END AS region, (i % 7) * 10 AS amount FROM range(2000) t(i)) TO '{root}/shop/orders.parquet'")
    k.op.resource.apply(manifests=[
        {"name": "lake", "version": "v1", "type": "depot", "depot": {"type": "file", "file": {"path": str(root)}}},
        {"name": "etl-mask", "version": "v1", "type": "policy", "policy": {"data": {
            "type": "mask", "priority": 40, "dataset_id": "lake.shop.orders",
            "selector": {"user": {"match": "any", "tags": ["roles:id:etl"]}, "column": {"names": ["email"]}},
            "mask": {"operator": "hash", "hash": {"algo": "sha256"}}}}},
        {"name": "etl-eu", "version": "v1", "type": "policy", "policy": {"data": {
            "type": "filter", "priority": 50, "dataset_id": "lake.shop.orders",
            "selector": {"user": {"match": "any", "tags": ["roles:id:etl"]}},
            "filters": [{"column": "region", "operator": "equals", "value": "EU"}]}}},
        {"name": "etl-access", "version": "v1", "type": "policy", "policy": {"access": {
            "subjects": {"tags": [["roles:id:etl"]]}, "predicates": ["create", "read", "update", "delete"],
            "objects": {"paths": ["/poros/workspaces/public/**"]}}}},
        {"name": "etl-lake", "version": "v1", "type": "policy", "policy": {"access": {
            "subjects": {"tags": [["roles:id:etl"]]}, "predicates": ["select"],
            "objects": {"paths": ["dataos://lake:shop/*", "dataos://lake:out/*"]}}}},
        {"name": "etl-write", "version": "v1", "type": "policy", "policy": {"access": {
            "subjects": {"tags": [["roles:id:etl"]]}, "predicates": ["write"],
            "objects": {"paths": ["dataos://lake:out/*"]}}}}])
    k.op.user.create(name="etl", tags=["roles:id:etl"])
    return root, k.make_client(k.op.user.apikey.create(user="etl")["token"])


def workflow(name, steps, outputs, inputs=None):
    return {"name": name, "version": "v1", "type": "workflow", "workspace": "public", "workflow": {"dag": [
        {"name": "build", "spec": {"stack": "sql", "stackSpec": {
            "inputs": inputs or [{"name": "orders", "dataset": "dataos://lake:shop/orders"}],
            "steps": steps, "outputs": outputs}}}]}}


def finished(k, name):
    def done():
        rt = k.op.runtime.get(type="workflow", name=name, workspace="public")
        return rt["runtime"] in ("succeeded", "failed") and rt
    return wait_for(done, timeout=60)


def logs(k, name):
    pods = k.op.pod.list(workspace="public", type="workflow", name=name)
    return "".join(k.op.pod.logs(name=pods[-1]["name"]))


def test_a_two_step_workflow_builds_its_output_as_its_owner(k, lake):
    _, etl = lake
    name = f"revenue-{uuid.uuid4().hex[:6]}"
    etl.resource.apply(manifests=[workflow(name, [
        {"name": "eu", "sql": "SELECT email, region, amount FROM orders"},
        {"name": "by_email", "sql": "SELECT email, region, sum(amount) AS total FROM eu GROUP BY ALL"}],
        [{"name": "by_email", "dataset": f"dataos://lake:out/{name.replace('-', '_')}"}])])
    rt = finished(k, name)
    assert rt["runtime"] == "succeeded", logs(k, name)
    out = k.op.query.execute(sql=f"select * from lake.out.{name.replace('-', '_')}", limit=-1)
    assert out["row_count"] == 500  # EU only: the owner's row filter applied to the job
    emails = {row[0] for row in out["rows"]}
    assert not emails & EMAILS and {row[1] for row in out["rows"]} == {"EU"}  # hashed as the owner sees them
    log = logs(k, name)
    assert "input orders: 500 rows" in log and "etl-eu" in log and "output by_email: 500 rows" in log


def test_overwrite_replaces_and_append_adds(k, lake):
    root, etl = lake
    name = f"counts-{uuid.uuid4().hex[:6]}"
    table = name.replace("-", "_")
    for i, mode in enumerate(("overwrite", "overwrite", "append")):  # each a new generation: a new run
        etl.resource.apply(manifests=[workflow(name, [{"name": "n", "sql": f"SELECT {i} AS run, '{mode}' AS mode, "
                                                                             f"count(*) AS c FROM orders"}],
                                               [{"name": "n", "dataset": f"dataos://lake:out/{table}",
                                                 "options": {"saveMode": mode}}])])
        wait_for(lambda: len([p for p in k.op.pod.list(workspace="public", type="workflow", name=name)
                              if p["phase"] in ("Succeeded", "Failed")]) == i + 1, timeout=60)
        assert finished(k, name)["runtime"] == "succeeded", logs(k, name)
    rows = k.op.query.execute(sql=f"select run, mode, c from lake.out.{table} order by run", limit=-1)["rows"]
    assert rows == [[1, "overwrite", 500], [2, "append", 500]]  # run 0 overwritten by run 1, run 2 appended
    assert not [p for p in (root / "out").iterdir() if p.name.startswith(".dataos-")]  # nothing staged is left


def test_steps_cannot_read_files_or_anything_but_their_inputs(k, lake):
    _, etl = lake
    name = f"sneaky-{uuid.uuid4().hex[:6]}"
    etl.resource.apply(manifests=[workflow(name, [{"name": "x", "sql": "SELECT * FROM read_csv('/etc/passwd')"}],
                                           [{"name": "x", "dataset": "dataos://lake:out/sneaky"}])])
    rt = finished(k, name)
    assert rt["runtime"] == "failed"
    assert "step x" in logs(k, name) and "root:" not in logs(k, name)


def test_bad_stack_specs_are_refused_at_apply(k, lake):
    _, etl = lake
    cases = [
        (workflow("bad1", [{"name": "s", "sql": "SELECT 1"}], [{"name": "nope", "dataset": "dataos://lake:out/x"}]),
         "outputs[0].name"),
        (workflow("bad2", [{"name": "orders", "sql": "SELECT 1"}], [{"name": "orders", "dataset": "dataos://lake:out/x"}]),
         "steps[0].name"),
        (workflow("bad3", [], [{"name": "orders", "dataset": "dataos://lake:out"}]), "outputs[0].dataset"),
    ]
    for manifest, field in cases:
        with pytest.raises(SyscallError) as e:
            etl.resource.apply(manifests=[manifest])
        assert e.value.code == "EINVAL" and field in e.value.message, e.value.message


def test_dataset_write_needs_write_on_the_dataset(k, lake):
    _, etl = lake
    data = arrow_data(pa.table({"a": [1, 2]}))
    with pytest.raises(SyscallError) as e:
        etl.dataset.write(address="dataos://lake:shop/orders", data=data)
    assert e.value.code == "EACCES"
    with pytest.raises(SyscallError) as e:
        etl.dataset.write(address="dataos://lake:out/x", data="not base64!")
    assert e.value.code == "EINVAL"
    # chunks: nothing is visible until the commit
    first = etl.dataset.write(address="dataos://lake:out/chunked", data=data, commit=False)
    with pytest.raises(SyscallError):
        k.op.query.execute(sql="select * from lake.out.chunked")
    for sneaky in ("..", ".hidden", "a..b"):  # never outside the collection, never a hidden name
        with pytest.raises(SyscallError) as e:
            k.op.dataset.write(address=f"dataos://lake:out/{sneaky}", data=data)
        assert e.value.code == "EINVAL"
    done = etl.dataset.write(address="dataos://lake:out/chunked", data=data, upload=first["upload"])
    assert done["rows"] == 4 and done["committed"]
    assert k.op.query.execute(sql="select count(*) from lake.out.chunked")["rows"] == [[4]]
