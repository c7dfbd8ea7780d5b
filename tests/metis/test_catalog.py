"""The catalog through its syscalls: scans on apply and on demand, what each user may see,
tags that drive masks in the Gateway, schema history, lineage of a sql workflow, scheduled scans."""
from __future__ import annotations

import os
import uuid

import duckdb
import pytest

from clitools import wait_for
from syscalls import SyscallError


@pytest.fixture(scope="module")
def k(unix):
    return unix


def uniq(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def lake(k, tmp_path_factory):
    """A file depot (people, orders), an analyst who may select its `crm` collection only."""
    root = tmp_path_factory.mktemp("lake")
    for folder in ("crm", "secret"):
        (root / folder).mkdir()
    duckdb.sql(f"COPY (SELECT i AS id, 'p' || i || '@example.com' AS email, '+49 30 555 ' || lpad(i::VARCHAR, 4, '0') "
               f"AS phone, CASE WHEN i % 2 = 0 THEN 'EU' ELSE 'US' END AS region FROM range(500) t(i)) "
               f"TO '{root}/crm/people.parquet'")
    duckdb.sql(f"COPY (SELECT i AS order_id, i % 500 AS person_id, i * 2.5 AS amount FROM range(2000) t(i)) "
               f"TO '{root}/crm/orders.parquet'")
    duckdb.sql(f"COPY (SELECT 1 AS launch_code) TO '{root}/secret/codes.parquet'")
    depot = uniq("lake")
    role = f"roles:id:{depot}-analyst"
    k.op.resource.apply(manifests=[
        {"name": depot, "version": "v1", "type": "depot", "depot": {"type": "file", "file": {"path": str(root)}}},
        {"name": f"{depot}-read", "version": "v1", "type": "policy", "policy": {"access": {
            "subjects": {"tags": [[role]]}, "predicates": ["select"], "objects": {"paths": [f"dataos://{depot}:crm/*"]}}}},
        {"name": f"{depot}-eu", "version": "v1", "type": "policy", "policy": {"data": {
            "type": "filter", "priority": 50, "dataset_id": f"{depot}.crm.people",
            "selector": {"user": {"match": "any", "tags": [role]}},
            "filters": [{"column": "region", "operator": "equals", "value": "EU"}]}}}])
    user = uniq("ana")
    k.op.user.create(name=user, tags=[role])
    analyst = k.make_client(k.op.user.apikey.create(user=user)["token"])
    people = f"dataos://{depot}:crm/people"
    wait_for(lambda: _scanned(k, people), timeout=30)  # the first scan runs when the depot is applied
    return root, depot, analyst


def _scanned(k, urn):
    try:
        return k.op.catalog.get(ref=urn)["aspects"].get("schema")
    except SyscallError:
        return None


def test_a_depot_is_scanned_when_applied(k, lake):
    _, depot, _ = lake
    entry = k.op.catalog.get(ref=f"dataos://{depot}:crm/people")
    assert [c["name"] for c in entry["aspects"]["schema"]["columns"]] == ["id", "email", "phone", "region"]
    assert entry["aspects"]["properties"]["rows"] == 500
    profile = entry["aspects"]["profile"]["columns"]
    assert profile["id"]["min"] in (0, "0") and profile["region"]["distinct"] >= 2
    suggestions = entry["aspects"]["suggestions"]["columns"]
    assert "PII.Email" in suggestions["email"] and "PII.PhoneNumber" in suggestions["phone"]
    assert "tags" not in entry["aspects"] or not entry["aspects"]["tags"].get("columns")  # suggested, not applied


def test_a_rescan_touches_only_what_changed(k, lake):
    root, depot, _ = lake
    states = [p["state"] for p in k.op.catalog.scan(depot=depot)]
    assert states.count("unchanged") == 3 and states[-1] == "done"
    os.utime(root / "crm" / "orders.parquet")
    states = [(p["dataset"], p["state"]) for p in k.op.catalog.scan(depot=depot)]
    assert [d for d, s in states if s == "scanned"] == ["crm/orders"] or \
        [d for d, s in states if s == "scanned"] == [f"dataos://{depot}:crm/orders"]


def test_users_see_only_what_they_may_select(k, lake):
    _, depot, analyst = lake
    found = analyst.catalog.search(text="codes")
    assert all("secret" not in r["urn"] for r in found["results"])
    with pytest.raises(SyscallError) as e:
        analyst.catalog.get(ref=f"dataos://{depot}:secret/codes")
    assert e.value.code == "ENOENT"
    assert any(r["urn"] == f"dataos://{depot}:crm/people" for r in analyst.catalog.search(text="phone")["results"])
    # the analyst's row filter hides values and counts computed over rows they cannot see
    seen = analyst.catalog.get(ref=f"dataos://{depot}:crm/people")
    assert seen["aspects"]["properties"]["rows"] is None and seen["filtered"] == [f"{depot}-eu"]
    assert "min" not in seen["aspects"]["profile"]["columns"]["email"]


def test_search_ranks_names_above_columns(k, lake):
    _, depot, _ = lake
    results = k.op.catalog.search(text="people", depot=depot)["results"]
    assert results[0]["urn"] == f"dataos://{depot}:crm/people"
    assert k.op.catalog.search(text="email", depot=depot)["results"][0]["urn"] == f"dataos://{depot}:crm/people"


def test_a_pii_tag_masks_the_column_for_users_without_pii_reader(k, lake):
    _, depot, analyst = lake
    people = f"{depot}.crm.people"
    before = analyst.query.execute(sql=f"select phone from {people} order by id limit 1")["rows"][0][0]
    assert before.startswith("+49")
    k.op.catalog.tag(ref=f"dataos://{depot}:crm/people#phone", tag="PII.PhoneNumber")
    after = analyst.query.execute(sql=f"select phone from {people} order by id limit 1")
    assert after["rows"][0][0] != before and after["columns"][0]["masked"]
    assert "pii-phonenumber" in after["governance"]["policies"]
    assert k.op.query.execute(sql=f"select phone from {people} order by id limit 1")["rows"][0][0] != before  # operators too
    entry = analyst.catalog.get(ref=f"dataos://{depot}:crm/people")
    assert entry["masked"]["phone"] == "pii-phonenumber" and entry["aspects"]["profile"]["columns"]["phone"] == {}
    k.op.catalog.tag(ref=f"dataos://{depot}:crm/people#phone", tag="PII.PhoneNumber", remove=True)
    assert analyst.query.execute(sql=f"select phone from {people} order by id limit 1")["rows"][0][0] == before


def test_editing_needs_rights_and_pii_tags_need_govern(k, lake):
    _, depot, analyst = lake
    with pytest.raises(SyscallError) as e:
        analyst.catalog.tag(ref=f"dataos://{depot}:crm/people#email", tag="PII.Email", remove=False)
    assert e.value.code == "EACCES"
    with pytest.raises(SyscallError) as e:
        analyst.catalog.describe(ref=f"dataos://{depot}:crm/people", text="mine now")
    assert e.value.code == "EACCES"


def test_bad_references(k, lake):
    _, depot, _ = lake
    with pytest.raises(SyscallError) as e:
        k.op.catalog.get(ref=f"dataos://{depot}:crm/nothing")
    assert e.value.code == "ENOENT"
    with pytest.raises(SyscallError) as e:
        k.op.catalog.tag(ref=f"dataos://{depot}:crm/people#nope", tag="PII.Email")
    assert e.value.code == "EINVAL" and "email" in e.value.message and "phone" in e.value.message
    with pytest.raises(SyscallError) as e:
        k.op.catalog.tag(ref=f"dataos://{depot}:crm/people", tag="not a tag!")
    assert e.value.code == "EINVAL"
    with pytest.raises(SyscallError) as e:
        k.op.catalog.owner(ref=f"dataos://{depot}:crm/people", user="nobody-at-all")
    assert e.value.code == "ENOENT"


def test_descriptions_owners_and_history(k, lake):
    root, depot, _ = lake
    urn = f"dataos://{depot}:crm/orders"
    k.op.catalog.describe(ref=urn, text="Every order")
    k.op.catalog.describe(ref=urn + "#amount", text="In euros")
    me = k.op.auth.whoami()["id"]
    k.op.catalog.owner(ref=urn, user=me)
    entry = k.op.catalog.get(ref=urn)
    assert entry["aspects"]["description"] == {"dataset": "Every order", "columns": {"amount": "In euros"}}
    assert entry["aspects"]["ownership"] == {"owner": me}
    duckdb.sql(f"COPY (SELECT i AS order_id, i % 500 AS person_id, i * 2.5 AS amount, 'web' AS channel "
               f"FROM range(2000) t(i)) TO '{root}/crm/orders.parquet'")
    list(k.op.catalog.scan(depot=depot))
    changes = [c for h in k.op.catalog.history(ref=urn) for c in h["changes"]]
    assert any("channel" in c and "added" in c for c in changes)
    assert any("owner" in c for c in changes) and any("description" in c for c in changes)
    assert k.op.catalog.search(text="euros", depot=depot)["results"][0]["urn"] == urn


def test_an_unreachable_depot_keeps_its_last_metadata(k, tmp_path):
    root = tmp_path / "gone"
    (root / "c").mkdir(parents=True)
    duckdb.sql(f"COPY (SELECT 1 AS x) TO '{root}/c/t.parquet'")
    depot = uniq("gone")
    k.op.resource.apply(manifests=[{"name": depot, "version": "v1", "type": "depot",
                                    "depot": {"type": "file", "file": {"path": str(root)}}}])
    wait_for(lambda: _scanned(k, f"dataos://{depot}:c/t"), timeout=30)
    (root / "c" / "t.parquet").unlink()
    (root / "c").rmdir()
    root.rmdir()
    with pytest.raises(SyscallError) as e:
        list(k.op.catalog.scan(depot=depot))
    assert e.value.code == "EUNAVAIL"
    assert _scanned(k, f"dataos://{depot}:c/t")


def test_lineage_of_a_two_step_sql_workflow(k, lake):
    _, depot, _ = lake
    name = uniq("wf")
    k.op.resource.apply(manifests=[{"name": name, "version": "v1", "type": "workflow", "workspace": "public",
                                    "workflow": {"dag": [{"name": "build", "spec": {"stack": "sql", "stackSpec": {
        "inputs": [{"name": "people", "dataset": f"dataos://{depot}:crm/people"},
                   {"name": "orders", "dataset": f"dataos://{depot}:crm/orders"}],
        "steps": [{"name": "joined", "sql": "SELECT p.region, o.amount FROM orders o JOIN people p ON p.id = o.person_id"},
                  {"name": "by_region", "sql": "SELECT region, sum(amount) AS revenue FROM joined GROUP BY region"}],
        "outputs": [{"name": "by_region", "dataset": f"dataos://{depot}:crm/{name}"}]}}}]}}])
    out = f"dataos://{depot}:crm/{name}"
    state = wait_for(lambda: (r := k.op.runtime.get(type="workflow", name=name, workspace="public")["runtime"])
                     in ("succeeded", "failed") and r, timeout=60)
    pods = k.op.pod.list(workspace="public", type="workflow", name=name)
    assert state == "succeeded", "".join(k.op.pod.logs(name=pods[-1]["name"]))
    graph = k.op.catalog.lineage(ref=out, direction="upstream")
    edges = {(e["from"], e["to"]): e for e in graph["edges"]}
    assert set(edges) == {(f"dataos://{depot}:crm/people", out), (f"dataos://{depot}:crm/orders", out)}
    revenue = edges[(f"dataos://{depot}:crm/orders", out)]["columns"]["revenue"]
    assert [f"dataos://{depot}:crm/orders", "amount"] in revenue
    down = k.op.catalog.lineage(ref=f"dataos://{depot}:crm/orders", direction="downstream")
    assert out in down["nodes"]


def test_a_scheduled_scan_is_a_system_workflow(k, tmp_path):
    depot = uniq("sched")
    (tmp_path / "c").mkdir()
    manifest = {"name": depot, "version": "v1", "type": "depot",
                "depot": {"type": "file", "file": {"path": str(tmp_path)}, "scan": {"cron": "0 3 * * *"}}}
    k.op.resource.apply(manifests=[manifest])
    wf = k.op.resource.get(type="workflow", name=f"scan-{depot}", workspace="system")
    assert wf["layer"] == "system" and wf["workflow"]["schedule"]["cron"] == "0 3 * * *"
    k.op.runtime.control(type="workflow", name=f"scan-{depot}", workspace="system", action="run")
    pods = wait_for(lambda: [p for p in k.op.pod.list(workspace="system", type="workflow", name=f"scan-{depot}")
                             if p["phase"] in ("Succeeded", "Failed")], timeout=60)
    assert pods[0]["phase"] == "Succeeded"
    assert "scanned" in "".join(k.op.pod.logs(name=pods[0]["name"]))
    del manifest["depot"]["scan"]
    k.op.resource.apply(manifests=[manifest])
    with pytest.raises(SyscallError):
        k.op.resource.get(type="workflow", name=f"scan-{depot}", workspace="system")


PYTHON_JOB = """\
import base64
import pyarrow as pa
from syscalls import connect
with connect() as c:
    items = list(c.query.stream(sql="select person_id, sum(amount) AS total from {depot}.crm.orders group by 1"))
    table = pa.Table.from_batches([b for b in items if isinstance(b, pa.RecordBatch)], schema=items[1])
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    c.dataset.write(address="dataos://{depot}:crm/{out}", data=base64.b64encode(sink.getvalue().to_pybytes()).decode())
    print("wrote", table.num_rows)
"""


def test_a_job_that_reads_and_writes_gets_dataset_lineage_from_query_history(k, lake):
    _, depot, _ = lake
    name, out = uniq("py"), uniq("totals")
    k.op.resource.apply(manifests=[{"name": name, "version": "v1", "type": "workflow", "workspace": "public",
                                    "workflow": {"dag": [{"name": "job", "spec": {"stack": "python", "stackSpec": {
                                        "script": PYTHON_JOB.format(depot=depot, out=out)}}}]}}])
    state = wait_for(lambda: (r := k.op.runtime.get(type="workflow", name=name, workspace="public")["runtime"])
                     in ("succeeded", "failed") and r, timeout=60)
    pods = k.op.pod.list(workspace="public", type="workflow", name=name)
    assert state == "succeeded", "".join(k.op.pod.logs(name=pods[-1]["name"]))
    graph = k.op.catalog.lineage(ref=f"dataos://{depot}:crm/{out}", direction="upstream")
    assert [(e["from"], e["via"]) for e in graph["edges"]] == [(f"dataos://{depot}:crm/orders",
                                                                f"history:{k.op.auth.whoami()['id']}")]
