"""What the catalog lets an analyst learn or change about governed data: tags that drive masks take
`govern`, masks follow the data into derived datasets, a row filter hides every count, lineage
hides what the caller may not read.

Before: only `PII.*` tags took `govern` (any tag a mask policy selected on could be added or
removed with `update`); a column derived from a masked one was plain in the derived dataset;
profiles under a row filter still showed null percentages and distinct counts; lineage named the
workflows the caller could not read.
"""
from __future__ import annotations

import stat
from pathlib import Path

import duckdb
import pytest

from syscalls import connect
from syscalls.client import Client
from syscalls.errors import SyscallError

LINEAGE_JOB = {"name": "contacts-build", "version": "v1", "type": "workflow", "workflow": {
    "schedule": {"cron": "0 0 1 1 *"},  # never runs here: lineage comes from the spec
    "dag": [{"name": "build", "spec": {"stack": "sql", "stackSpec": {
        "inputs": [{"name": "people", "dataset": "dataos://lake:crm/people"}],
        "steps": [{"name": "contacts", "sql": "SELECT id, lower(email) AS contact, region FROM people"}],
        "outputs": [{"name": "contacts", "dataset": "dataos://lake:crm/contacts"}]}}}]}}


@pytest.fixture
def k(tmp_path):
    root = tmp_path / "lake"
    (root / "crm").mkdir(parents=True)
    duckdb.sql(f"COPY (SELECT i AS id, 'p' || i || '@example.com' AS email, i * 1000 AS salary, "
               f"CASE WHEN i % 2 = 0 THEN 'EU' ELSE 'US' END AS region FROM range(20) t(i)) "
               f"TO '{root}/crm/people.parquet'")
    with connect(f"embedded://{tmp_path / 'state'}") as c:
        c.resource.apply(manifests=[
            {"name": "lake", "version": "v1", "type": "depot", "depot": {"type": "file", "file": {"path": str(root)}}},
            {"name": "analysts", "version": "v1", "type": "policy", "policy": {"access": {
                "subjects": {"tags": [["roles:id:analyst"]]}, "predicates": ["select", "update"],
                "objects": {"paths": ["dataos://lake:crm/*"]}}}},
            {"name": "mask-sensitive", "version": "v1", "type": "policy", "policy": {"data": {
                "type": "mask", "priority": 10, "selector": {"user": {"tags": ["roles:id:analyst"]},
                                                             "column": {"tags": ["Sensitive.*"]}},
                "mask": {"operator": "redact"}}}},
            {"name": "eu-only", "version": "v1", "type": "policy", "policy": {"data": {
                "type": "filter", "priority": 10, "dataset_id": "lake.crm.people",
                "selector": {"user": {"tags": ["roles:id:analyst"]}},
                "filters": [{"column": "region", "operator": "equals", "value": "EU"}]}}}])
        list(c.catalog.scan(depot="lake"))
        c.user.create(name="ana", tags=["roles:id:analyst"])
        c.analyst = Client(c.transport, c.user.apikey.create(user="ana")["token"])
        c.root = root
        yield c


def test_a_tag_a_mask_policy_selects_on_takes_govern(k):
    with pytest.raises(SyscallError) as e:  # it would unmask (or mask) the column for everyone
        k.analyst.catalog.tag(ref="dataos://lake:crm/people#salary", tag="Sensitive.Salary")
    assert e.value.code == "EACCES" and "govern" in e.value.message
    k.analyst.catalog.tag(ref="dataos://lake:crm/people#salary", tag="Team.Finance")  # a plain tag: update
    k.catalog.tag(ref="dataos://lake:crm/people#salary", tag="Sensitive.Salary")
    with pytest.raises(SyscallError) as e:
        k.analyst.catalog.tag(ref="dataos://lake:crm/people#salary", tag="Sensitive.Salary", remove=True)
    assert e.value.code == "EACCES"
    assert k.analyst.query.execute(sql="SELECT max(salary) FROM lake.crm.people")["rows"] == [[None]]


def test_policy_tags_follow_lineage_into_derived_datasets(k):
    k.catalog.tag(ref="dataos://lake:crm/people#email", tag="PII.Email")
    k.resource.apply(manifests=[LINEAGE_JOB])
    duckdb.sql(f"COPY (SELECT id, lower(email) AS contact, region FROM '{k.root}/crm/people.parquet') "
               f"TO '{k.root}/crm/contacts.parquet'")  # what the job would write
    list(k.catalog.scan(depot="lake"))
    entry = k.catalog.get(ref="dataos://lake:crm/contacts")
    assert entry["aspects"]["tags"]["propagated"] == {"contact": {"PII.Email": "dataos://lake:crm/people#email"}}
    answer = k.analyst.query.execute(sql="SELECT contact FROM lake.crm.contacts ORDER BY id LIMIT 1")
    assert answer["columns"][0]["masked"] == "hash" and "@" not in answer["rows"][0][0]
    assert "contact" in k.analyst.catalog.get(ref="dataos://lake:crm/contacts")["masked"]
    k.catalog.tag(ref="dataos://lake:crm/people#email", tag="PII.Email", remove=True)  # and stops with it
    assert "@" in k.analyst.query.execute(sql="SELECT contact FROM lake.crm.contacts LIMIT 1")["rows"][0][0]


def test_under_a_row_filter_a_profile_shows_no_counts_at_all(k):
    seen = k.analyst.catalog.get(ref="dataos://lake:crm/people")
    profile = seen["aspects"]["profile"]
    assert profile["sample_rows"] is None and all(stats == {} for stats in profile["columns"].values())
    assert seen["aspects"]["properties"]["rows"] is None and seen["filtered"] == ["eu-only"]
    assert k.catalog.get(ref="dataos://lake:crm/people")["aspects"]["profile"]["sample_rows"] == 20


def test_lineage_hides_the_job_the_caller_cannot_read(k):
    k.resource.apply(manifests=[LINEAGE_JOB])
    for who, via in ((k, "resource://public/workflow/contacts-build"), (k.analyst, "(hidden)")):
        graph = who.catalog.lineage(ref="dataos://lake:crm/people", direction="downstream")
        assert [e["via"] for e in graph["edges"]] == [via]


def test_files_a_write_creates_are_private_to_the_kernel(k):
    import base64

    import pyarrow as pa
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, pa.schema([("x", pa.int64())])) as w:
        w.write_table(pa.table({"x": [1, 2]}))
    data = base64.b64encode(sink.getvalue().to_pybytes()).decode()
    k.dataset.write(address="dataos://lake:fresh/t", data=data)
    k.dataset.write(address="dataos://lake:fresh/t", data=data, mode="append")
    made = [p for p in Path(k.root, "fresh").rglob("*")] + [Path(k.root, "fresh")]
    assert made and all(stat.S_IMODE(p.stat().st_mode) == (0o700 if p.is_dir() else 0o600) for p in made)


def test_catalog_show_names_where_a_propagated_tag_comes_from():
    from dataos_shell.cli.catalog import _describe
    entity = {"urn": "dataos://lake:crm/contacts", "masked": {"contact": "pii-email"}, "aspects": {
        "schema": {"columns": [{"name": "contact", "type": "VARCHAR"}]},
        "tags": {"dataset": [], "columns": {}, "propagated": {"contact": {"PII.Email": "dataos://lake:crm/people#email"}}}}}
    assert "PII.Email (from lake.crm.people.email) [masked: pii-email]" in _describe(entity)
