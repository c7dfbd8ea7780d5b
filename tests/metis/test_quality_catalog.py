"""catalog.quality: a data quality check run recorded as a versioned aspect of a dataset, with a
change-log line; `update` to record (nothing recorded without it), strict validation naming the
field, and what others see of it (pass/fail always, counts not under a row filter or on a masked
column)."""
from __future__ import annotations

import uuid

import duckdb
import pytest

from syscalls import SyscallError


def uniq(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6]}"


def fails(code: str, fn, **kwargs) -> SyscallError:
    with pytest.raises(SyscallError) as caught:
        fn(**kwargs)
    assert caught.value.code == code, caught.value
    return caught.value


RESULTS = [
    {"rule": "not_null(email)", "passed": True, "failed_rows": 0, "total_rows": 100, "detail": "", "columns": ["email"]},
    {"rule": "unique(id)", "passed": False, "failed_rows": 3, "total_rows": 100, "detail": "extra copies of an id key",
     "columns": ["id"]},
    {"rule": "row_count(1)", "passed": True, "failed_rows": 0, "total_rows": 100, "detail": "expected at least 1 rows"},
]


@pytest.fixture(scope="module")
def lake(embedded, tmp_path_factory):
    """A scanned file depot; an analyst (select only, EU rows only) and an editor (select, update)."""
    k = embedded
    root = tmp_path_factory.mktemp("qlake")
    (root / "crm").mkdir()
    duckdb.sql(f"COPY (SELECT i AS id, 'p' || i || '@example.com' AS email, CASE WHEN i % 2 = 0 THEN 'EU' ELSE 'US' "
               f"END AS region FROM range(100) t(i)) TO '{root}/crm/people.parquet'")
    depot = uniq("ql")
    analyst, editor = f"roles:id:{depot}-analyst", f"roles:id:{depot}-editor"
    k.op.resource.apply(manifests=[
        {"name": depot, "version": "v1", "type": "depot", "depot": {"type": "file", "file": {"path": str(root)}}},
        {"name": f"{depot}-read", "version": "v1", "type": "policy", "policy": {"access": {
            "subjects": {"tags": [[analyst], [editor]]}, "predicates": ["select"],
            "objects": {"paths": [f"dataos://{depot}:crm/*"]}}}},
        {"name": f"{depot}-edit", "version": "v1", "type": "policy", "policy": {"access": {
            "subjects": {"tags": [[editor]]}, "predicates": ["update"], "objects": {"paths": [f"dataos://{depot}:crm/*"]}}}},
        {"name": f"{depot}-eu", "version": "v1", "type": "policy", "policy": {"data": {
            "type": "filter", "priority": 50, "dataset_id": f"{depot}.crm.people",
            "selector": {"user": {"match": "any", "tags": [analyst]}},
            "filters": [{"column": "region", "operator": "equals", "value": "EU"}]}}}])
    clients = {}
    for role, tag in (("analyst", analyst), ("editor", editor)):
        name = uniq(role)
        k.op.user.create(name=name, tags=[tag])
        clients[role] = k.make_client(k.op.user.apikey.create(user=name)["token"])
    for _ in k.op.catalog.scan(depot=depot):
        pass
    return f"dataos://{depot}:crm/people", clients["analyst"], clients["editor"]


def test_a_run_is_a_versioned_aspect_with_a_change_log_line(embedded, lake):
    udl, _, editor = lake
    entry = editor.catalog.quality(ref=udl, results=RESULTS)
    run = entry["aspects"]["quality"]
    me = editor.auth.whoami()["id"]
    assert run["by"] == me and run["time"].endswith("Z") and run["passed"] == 2 and run["failed"] == 1
    assert run["filtered"] == []
    assert [r["rule"] for r in run["results"]] == ["not_null(email)", "unique(id)", "row_count(1)"]
    assert run["results"][1] == {**RESULTS[1]} and run["results"][2]["columns"] == []
    editor.catalog.quality(ref=udl, results=RESULTS[:1])  # the same results again are a new run
    history = [h for h in embedded.op.catalog.history(ref=udl) if h["aspect"] == "quality"]
    assert [h["changes"] for h in history[-2:]] == [["quality check: 2 passed, 1 failed (unique(id))"],
                                                     ["quality check: 1 passed"]]
    assert history[-1]["version"] == history[-2]["version"] + 1 and history[-1]["by"] == me
    assert embedded.op.catalog.get(ref=udl)["aspects"]["quality"]["results"] == [RESULTS[0]]


def test_recording_takes_update_and_a_denial_records_nothing(embedded, lake):
    udl, analyst, _ = lake
    before = embedded.op.catalog.history(ref=udl)
    e = fails("EACCES", analyst.catalog.quality, ref=udl, results=RESULTS)
    assert "update" in e.message and udl in e.message
    assert embedded.op.catalog.history(ref=udl) == before
    fails("EACCES", analyst.catalog.quality, ref=udl, results=[])  # no hint about the input before the check


def test_results_are_validated_naming_the_field(lake):
    udl, _, editor = lake
    good = RESULTS[0]
    for results, field in [
        ([], "results"),
        ("not a list", "results"),
        ([good, "x"], "item 1"),  # the table's own type check
        ([{**good, "extra": 1}], "results[0].extra"),
        ([{k: v for k, v in good.items() if k != "passed"}], "results[0].passed"),
        ([{**good, "passed": "yes"}], "results[0].passed"),
        ([{**good, "failed_rows": True}], "results[0].failed_rows"),
        ([{**good, "failed_rows": 1.5}], "results[0].failed_rows"),
        ([{**good, "total_rows": -1}], "results[0].total_rows"),
        ([{**good, "rule": " "}], "results[0].rule"),
        ([{**good, "detail": None}], "results[0].detail"),
        ([{**good, "columns": "email"}], "results[0].columns"),
        ([{**good, "columns": ["nope"]}], "results[0].columns"),
    ]:
        e = fails("EINVAL", editor.catalog.quality, ref=udl, results=results)
        assert field in e.message, (field, e.message)
    fails("EINVAL", editor.catalog.quality, ref=udl + "#email", results=[good])
    fails("ENOENT", editor.catalog.quality, ref=udl.replace("people", "nobody"), results=[good])
    fails("EINVAL", editor.catalog.quality, ref="not an address", results=[good])


def test_whoever_sees_the_dataset_sees_pass_fail_but_counts_only_as_they_would(embedded, lake):
    udl, analyst, editor = lake
    editor.catalog.quality(ref=udl, results=RESULTS)
    seen = analyst.catalog.get(ref=udl)["aspects"]["quality"]  # under a row filter: no counts
    assert [r["passed"] for r in seen["results"]] == [True, False, True]
    assert all(r["failed_rows"] is None and r["total_rows"] is None for r in seen["results"])
    assert editor.catalog.get(ref=udl)["aspects"]["quality"]["results"][1]["failed_rows"] == 3
    embedded.op.catalog.tag(ref=udl + "#email", tag="PII.Email")
    try:
        shown = {r["rule"]: r for r in editor.catalog.get(ref=udl)["aspects"]["quality"]["results"]}
        assert shown["not_null(email)"]["failed_rows"] is None and shown["not_null(email)"]["passed"] is True
        assert shown["unique(id)"]["failed_rows"] == 3  # other columns keep their counts
    finally:
        embedded.op.catalog.tag(ref=udl + "#email", tag="PII.Email", remove=True)


def test_a_run_by_someone_under_a_row_filter_says_so(embedded, lake):
    udl, _, _ = lake
    depot = udl.removeprefix("dataos://").split(":")[0]
    name = uniq("both")
    embedded.op.user.create(name=name, tags=[f"roles:id:{depot}-analyst", f"roles:id:{depot}-editor"])
    both = embedded.make_client(embedded.op.user.apikey.create(user=name)["token"])
    run = both.catalog.quality(ref=udl, results=RESULTS)["aspects"]["quality"]
    assert run["filtered"] == [f"{depot}-eu"]
    assert embedded.op.catalog.get(ref=udl)["aspects"]["quality"]["filtered"] == [f"{depot}-eu"]
