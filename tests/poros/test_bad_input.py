"""Bad input costs nothing: a rejected apply stores nothing, a stored resource that no longer
loads does not stop the kernel, out-of-range numbers and malformed YAML are EINVAL naming where,
huge inputs are refused before the work and never quoted back whole."""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

import syscalls
from userlib.manifests import parse_manifests
from syscalls.errors import SyscallError
from pgkit import ON_SQLITE_ONLY

DEPOT_OK = {"name": "fine", "version": "v1", "type": "depot", "depot": {"type": "file", "file": {"path": "/tmp"}}}


def depot(name: str, connection: dict, type_name: str = "file") -> dict:
    return {"name": name, "version": "v1", "type": "depot", "depot": {"type": type_name, type_name: connection}}


@pytest.fixture
def kernel(tmp_path: Path):
    client = syscalls.connect(f"embedded://{tmp_path / 'state'}")
    try:
        yield client
    finally:
        client.close()


def error(call, *args, **kwargs) -> SyscallError:
    with pytest.raises(SyscallError) as caught:
        call(*args, **kwargs)
    return caught.value


def stored(client) -> set[str]:
    return {f"{r['type']}/{r['name']}" for r in client.resource.list()}


# --- a rejected apply stores nothing --------------------------------------------------------

@pytest.mark.parametrize("connection, field", [
    ({"path": "/tmp", "format": "xlsx"}, "depot.file.format"),
    ({"path": 5}, "depot.file.path"),
    ({"format": "csv"}, "depot.file.path"),
    ({"path": "/tmp", "colour": "red"}, "depot.file.colour"),
])
def test_a_depot_with_a_bad_driver_section_is_refused_and_not_stored(kernel, connection, field):
    before = stored(kernel)
    e = error(kernel.resource.apply, manifests=[DEPOT_OK, depot("bad", connection)])
    assert (e.code, e.details.get("field"), e.details.get("document")) == ("EINVAL", field, 1)
    assert stored(kernel) == before  # neither document: all or nothing


@pytest.mark.parametrize("connection, field", [
    ({"host": "127.0.0.1", "port": "x", "database": "test"}, "depot.postgresql.port"),
    ({"host": "127.0.0.1", "port": 70000, "database": "test"}, "depot.postgresql.port"),
    ({"host": "127.0.0.1"}, "depot.postgresql.database"),
    ({"database": "test", "password": "hunter2"}, "depot.postgresql.password"),
    ({"database": "test", "sslmode": "sometimes"}, "depot.postgresql.sslmode"),
])
def test_a_server_depot_section_is_checked_before_it_is_stored(kernel, connection, field):
    e = error(kernel.resource.apply, manifests=[depot("pg", connection, "postgresql")])
    assert (e.code, e.details.get("field")) == ("EINVAL", field)
    assert "depot/pg" not in stored(kernel)


def test_a_manifest_read_at_a_generation_of_a_deleted_resource_is_a_conflict(kernel):
    applied = kernel.resource.apply(manifests=[DEPOT_OK])["results"][0]["resource"]
    kernel.resource.delete(type="depot", name="fine")
    e = error(kernel.resource.apply, manifests=[applied])  # as `get -o yaml` gave it, status and all
    assert (e.code, e.details.get("field")) == ("ECONFLICT", "status.generation")
    assert "depot/fine" not in stored(kernel)
    without_status = {k: v for k, v in applied.items() if k not in ("status", "owner")}
    assert kernel.resource.apply(manifests=[without_status])["results"][0]["action"] == "created"


def test_a_time_zone_too_long_to_be_a_file_name_is_einval(kernel):
    workflow = {"name": "w", "version": "v1", "type": "workflow", "workflow": {
        "schedule": {"cron": "0 3 * * *", "timezone": "x " * 50_000},
        "dag": [{"name": "a", "spec": {"stack": "python", "stackSpec": {"module": "m"}}}]}}
    e = error(kernel.resource.apply, manifests=[workflow])
    assert (e.code, e.details.get("field")) == ("EINVAL", "workflow.schedule.timezone")


# --- the kernel always starts ---------------------------------------------------------------

@ON_SQLITE_ONLY
def test_a_stored_resource_that_no_longer_loads_is_marked_error_and_the_kernel_serves_the_rest(tmp_path):
    state, lake = tmp_path / "state", tmp_path / "lake"
    lake.mkdir()  # its own folder: /tmp changes under a listing
    with syscalls.connect(f"embedded://{state}") as client:
        client.resource.apply(manifests=[depot("fine", {"path": str(lake)}), depot("broken", {"path": "/tmp"}),
                                         depot("gone", {"path": "/tmp"})])
    with sqlite3.connect(state / "poros.db") as db:  # what a downgrade or a removed plugin leaves behind
        for name, section in (("broken", {"type": "file", "file": {"path": 5}}),
                              ("gone", {"type": "file", "file": {"path": "/tmp", "format": "xlsx"}})):
            manifest = json.loads(db.execute("SELECT manifest FROM resources WHERE name=?", (name,)).fetchone()[0])
            db.execute("UPDATE resources SET manifest=? WHERE name=?", (json.dumps({**manifest, "depot": section}),
                                                                          name))
    with syscalls.connect(f"embedded://{state}") as client:
        status = {r["name"]: r["status"] for r in client.resource.list(type="depot")}
        assert status["fine"]["aggregateStatus"] == "active"
        for name in ("broken", "gone"):
            assert status[name]["aggregateStatus"] == "error"
            assert status[name]["error"]  # the reason, for get/describe
        assert client.dataset.list(address="dataos://fine") == []  # served (its folder holds no data)
        # Re-applying a good version heals it.
        client.resource.apply(manifests=[depot("broken", {"path": "/tmp"})])
        healed = client.resource.get(type="depot", name="broken")["status"]
        assert healed["aggregateStatus"] == "active" and "error" not in healed


# --- numbers and sizes in syscall requests --------------------------------------------------

@pytest.mark.parametrize("name, request_, field", [
    ("query.execute", {"sql": "select 1", "limit": 2**63}, "limit"),
    ("query.execute", {"sql": "select 1", "timeout": 1e308}, "timeout"),
    ("query.execute", {"sql": "select 1", "timeout": float("nan")}, "timeout"),
    ("query.stream", {"sql": "select 1", "timeout": -1}, "timeout"),
    ("pod.logs", {"name": "p", "tail": 2**63}, "tail"),
    ("pod.logs", {"name": "p", "tail": -1}, "tail"),
    ("pod.watch", {"timeout": float("inf")}, "timeout"),
    ("resource.delete", {"type": "depot", "name": "x", "generation": 0}, "generation"),
    ("audit.list", {"limit": -2**64}, "limit"),
    ("resource.apply", {"manifests": [{**DEPOT_OK, "tags": [], "replicas": 2**64}]}, "manifests[0].replicas"),
])
def test_numbers_out_of_range_are_einval_naming_the_field(kernel, name, request_, field):
    e = error(kernel.transport.call, name, request_, kernel.token)
    assert (e.code, e.details.get("field")) == ("EINVAL", field)


def test_an_error_quotes_at_most_about_80_characters_of_the_input(kernel):
    huge = "x" * 1_000_000
    for call in (lambda: kernel.resource.apply(manifests=[{**DEPOT_OK, "name": huge}]),
                 lambda: kernel.resource.get(type=huge, name="x"),
                 lambda: kernel.user.get(name=huge),
                 lambda: kernel.query.execute(sql="select 1", dialect=huge)):
        e = error(call)
        assert len(e.message) < 300 and huge[:80] not in e.message
        assert all(len(str(v)) <= 1000 for v in e.details.values())


def test_an_error_is_one_line_whatever_the_input_holds(kernel):
    e = error(kernel.user.get, name="x\n\x92\x1b[31m y " * 50_000)
    assert e.code == "ENOENT" and len(e.message) <= 1000 and e.message.isprintable()


# --- YAML -----------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["!!int abc", "!!float x", "!!bool maybe", "!!int ''", "!!int 0o8",
                                   ".inf", ".nan", "99999999999999999999", "!!int " + "9" * 5000])
def test_a_typed_scalar_that_does_not_parse_is_einval_with_file_and_line(value):
    text = f"name: x\nversion: v1\ntype: workflow\nworkflow:\n  limit: {value}\n"
    e = error(parse_manifests, text, "bad.yaml")
    assert e.code == "EINVAL" and e.message.startswith("bad.yaml:5: ")
    assert e.details["field"] == "workflow.limit" and len(e.message) < 200


def test_text_that_was_not_utf8_is_einval_with_its_line():
    e = error(parse_manifests, "name: a\nversion: v1\ntype: b\udcff\n", "<stdin>")
    assert e.code == "EINVAL" and e.message == "<stdin>:3: not UTF-8 text"


def test_an_alias_bomb_is_refused_before_it_expands():
    lines = ["name: x", "version: v1", "type: workflow", "a0: &a0 [" + ",".join(["xxxxxxxxxx"] * 50) + "]"]
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    started = time.monotonic()
    e = error(parse_manifests, "\n".join(lines), "bomb.yaml")
    assert e.code == "EINVAL" and "expands to more than" in e.message
    assert time.monotonic() - started < 5  # (1 s on a quiet machine: see BENCHMARKS.md)


def test_a_document_of_too_many_values_is_refused_while_it_is_read():
    text = "name: x\nversion: v1\ntype: workflow\nworkflow: {dag: [" + ",".join(["{name: a}"] * 1_000_000) + "]}\n"
    started = time.monotonic()
    e = error(parse_manifests, text, "flow.yaml")
    assert e.code == "EINVAL" and e.message.startswith("flow.yaml:4: ") and "more than 50,000 values" in e.message
    assert time.monotonic() - started < 5
