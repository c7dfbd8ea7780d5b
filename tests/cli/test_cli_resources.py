"""The resource verbs and `dataos syscall`, through the real `dataos` console script.

One DATAOS_HOME (and so one local kernel daemon, started on demand by the first command) is
shared by this module; every test uses its own resource names.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

import syscalls
from clitools import error_line, no_traceback, ok, uniq


def workflow_yaml(name: str, description: str = "daily orders", extra: str = "") -> str:
    return f"""\
name: {name}
version: v1
type: workflow
tags: [retail]
description: {description}
{extra}workflow:
  schedule: {{cron: "0 * * * *", concurrencyPolicy: Forbid}}
  dag:
    - name: load
      spec: {{stack: container, stackSpec: {{command: ["true"]}}}}
    - name: report
      dependencies: [load]
      spec: {{stack: python, stackSpec: {{script: "pass"}}}}
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def get_json(run, *args: str):
    return json.loads(ok(run("get", *args, "-o", "json")).stdout)


# --- version and the syscall table ---------------------------------------------------------------

def test_version(run_module):
    r = ok(run_module("version"))
    assert r.stdout.startswith(f"dataos {syscalls.__version__} ")
    assert ok(run_module("--version")).stdout == r.stdout


def test_syscall_list(run_module):
    r = ok(run_module("syscall", "--list"))
    names = [line.split()[0] for line in r.stdout.splitlines()[1:]]
    assert {"resource.apply", "resource.get", "auth.whoami", "user.create", "audit.list"} <= set(names)
    table = json.loads(ok(run_module("syscall", "--list", "-o", "json")).stdout)
    apply = next(s for s in table if s["name"] == "resource.apply")
    assert apply["request"]["manifests"]["required"] is True and "ECONFLICT" in apply["errors"]


def test_syscall_whoami_envelope(run_module):
    r = ok(run_module("syscall", "auth.whoami"))
    envelope = json.loads(r.stdout)
    assert envelope["ok"] is True
    assert "roles:id:operator" in envelope["result"]["tags"]


def test_syscall_enoent_exits_5(run_module):
    r = run_module("syscall", "user.get", '{"name":"nobody"}')
    assert r.returncode == 5
    no_traceback(r)
    envelope = json.loads(r.stdout)
    assert envelope["ok"] is False and envelope["error"]["code"] == "ENOENT" and envelope["error"]["message"]


def test_syscall_request_from_stdin(run_module):
    name = uniq("x")
    r = ok(run_module("syscall", "user.create", "-", input=json.dumps({"name": name}) + "\n"))
    envelope = json.loads(r.stdout)
    assert set(envelope) == {"ok", "result"} and envelope["ok"] is True
    assert envelope["result"]["id"] == name
    got = json.loads(ok(run_module("syscall", "user.get", json.dumps({"name": name}))).stdout)
    assert got["result"]["id"] == name


@pytest.mark.parametrize("args, stdin, code, exit_code", [
    (("user.get", "{bad json"), None, "EINVAL", 2),
    (("user.get", "-"), "not json", "EINVAL", 2),
    (("user.get", '{"nam": "x"}'), None, "EINVAL", 2),
    (("no.such.syscall",), None, "ENOSYS", 8),
])
def test_syscall_errors(run_module, args, stdin, code, exit_code):
    r = run_module("syscall", *args, input=stdin)
    assert r.returncode == exit_code, r.stdout + r.stderr
    no_traceback(r)
    envelope = json.loads(r.stdout)
    assert envelope["ok"] is False and envelope["error"]["code"] == code


# --- apply ---------------------------------------------------------------------------------------

def test_apply_file_then_unchanged_then_configured(run_module, tmp_path):
    name = uniq("orders")
    f = write(tmp_path, "wf.yaml", workflow_yaml(name))
    assert ok(run_module("apply", "-f", f)).stdout.strip() == \
        f"workflow/{name} created in public, generation 1"
    assert ok(run_module("apply", "-f", f)).stdout.strip() == \
        f"workflow/{name} unchanged in public, generation 1"
    write(tmp_path, "wf.yaml", workflow_yaml(name, "changed"))
    assert ok(run_module("apply", "-f", f)).stdout.strip() == \
        f"workflow/{name} configured in public, generation 2"
    assert get_json(run_module, "workflow", name)["description"] == "changed"


def test_apply_directory_and_recursive(run_module, tmp_path):
    top, nested, ignored = uniq("top"), uniq("nested"), uniq("ignored")
    write(tmp_path, "dir/a.yaml", workflow_yaml(top))
    write(tmp_path, "dir/sub/b.yml", workflow_yaml(nested))
    write(tmp_path, "dir/notes.txt", workflow_yaml(ignored))
    r = ok(run_module("apply", "-f", tmp_path / "dir"))
    assert f"workflow/{top} created" in r.stdout and nested not in r.stdout
    r = ok(run_module("apply", "-R", "-f", tmp_path / "dir"))
    assert f"workflow/{top} unchanged" in r.stdout and f"workflow/{nested} created" in r.stdout
    assert run_module("get", "workflow", ignored).returncode == 5


def test_apply_directory_without_manifests_hints_recursive(run_module, tmp_path):
    write(tmp_path, "only/sub/a.yaml", workflow_yaml(uniq("wf")))
    line = error_line(run_module("apply", "-f", tmp_path / "only"), "EINVAL", 2)
    assert "-R" in line


def test_apply_from_stdin_multi_document(run_module):
    a, b = uniq("a"), uniq("b")
    r = ok(run_module("apply", "-f", "-", input=workflow_yaml(a) + "---\n" + workflow_yaml(b)))
    assert r.stdout.splitlines() == [f"workflow/{a} created in public, generation 1",
                                     f"workflow/{b} created in public, generation 1"]
    assert get_json(run_module, "workflow", b)["name"] == b


def test_apply_dry_run_writes_nothing(run_module, tmp_path):
    name = uniq("dry")
    f = write(tmp_path, "wf.yaml", workflow_yaml(name))
    r = ok(run_module("apply", "--dry-run", "-f", f))
    assert r.stdout.strip() == f"workflow/{name} created (dry run) in public, generation 1"
    error_line(run_module("get", "workflow", name), "ENOENT", 5)
    ok(run_module("apply", "-f", f))
    write(tmp_path, "wf.yaml", workflow_yaml(name, "changed"))
    assert "configured (dry run)" in ok(run_module("apply", "--dry-run", "-f", f)).stdout
    assert get_json(run_module, "workflow", name)["description"] == "daily orders"


def test_apply_into_a_workspace(run_module, tmp_path):
    name, ws = uniq("wf"), uniq("ws")
    f = write(tmp_path, "wf.yaml", workflow_yaml(name))
    assert ok(run_module("apply", "-f", f, "-w", ws)).stdout.strip() == \
        f"workflow/{name} created in {ws}, generation 1"
    assert get_json(run_module, "workflow", name, "-w", ws)["workspace"] == ws
    error_line(run_module("get", "workflow", name), "ENOENT", 5)
    listed = json.loads(ok(run_module("get", "workflow", "-w", ws, "-o", "json")).stdout)
    assert [r["name"] for r in listed] == [name]
    everywhere = json.loads(ok(run_module("get", "workflow", "-A", "-o", "json")).stdout)
    assert name in [r["name"] for r in everywhere]


def test_apply_interpolates_environment_variables(run_module, tmp_path):
    name = uniq("wf")
    f = write(tmp_path, "wf.yaml", workflow_yaml(name, "${DESC} costs $$5 for $OWNER_TEAM"))
    ok(run_module("apply", "-f", f, env={"DESC": "Orders", "OWNER_TEAM": "sales"}))
    assert get_json(run_module, "workflow", name)["description"] == "Orders costs $5 for sales"
    line = error_line(run_module("apply", "-f", f, env={"DESC": "x", "OWNER_TEAM": None}), "EINVAL", 2)
    assert "$OWNER_TEAM" in line and f"{f}:5" in line and "description" in line


# --- get and identifiers -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def applied(run_module, tmp_path_factory):
    """One workflow at generation 2: (name, manifest file)."""
    name = uniq("orders")
    f = write(tmp_path_factory.mktemp("applied"), "wf.yaml", workflow_yaml(name, "first"))
    ok(run_module("apply", "-f", f))
    write(f.parent, "wf.yaml", workflow_yaml(name, "second"))
    ok(run_module("apply", "-f", f))
    return name, f


def test_get_output_formats(run_module, applied):
    name, f = applied
    table = ok(run_module("get", "workflow", name)).stdout.splitlines()
    assert table[0].split() == ["NAME", "VERSION", "TYPE", "WORKSPACE", "STATUS", "RUNTIME", "OWNER", "AGE"]
    assert table[1].split()[:5] == [name, "v1", "workflow", "public", "active"]
    wide = ok(run_module("get", "workflow", name, "-o", "wide")).stdout.splitlines()
    assert wide[0].split()[-3:] == ["GENERATION", "TAGS", "UID"]
    assert wide[1].split()[-3:-1] == ["2", "retail"]
    assert ok(run_module("get", "workflow", name, "-o", "name")).stdout == f"workflow/{name}\n"
    as_json = get_json(run_module, "workflow", name)
    as_yaml = yaml.safe_load(ok(run_module("get", "workflow", name, "-o", "yaml")).stdout)
    assert as_yaml == as_json

    # -o json is the manifest as applied, plus owner/workspace, plus status
    manifest = yaml.safe_load(f.read_text())
    status = as_json.pop("status")
    owner = as_json.pop("owner")
    assert as_json == {**manifest, "workspace": "public"}
    assert owner == json.loads(ok(run_module("whoami", "-o", "json")).stdout)["id"]
    assert status["generation"] == 2 and status["aggregateStatus"] == "active" and status["uid"]


def test_get_lists(run_module, applied):
    name, _ = applied
    listed = json.loads(ok(run_module("get", "workflows", "-o", "json")).stdout)
    assert name in [r["name"] for r in listed] and all(r["type"] == "workflow" for r in listed)
    names = ok(run_module("get", "-o", "name")).stdout.splitlines()
    assert f"workflow/{name}" in names and "policy/operator-full-access" in names
    r = ok(run_module("get", "workflow", "-w", uniq("empty")))
    assert r.stdout == "" and "no workflows found" in r.stderr


def test_identifier_forms_agree(run_module, applied):
    name, _ = applied
    forms = [
        ("workflow", name),
        (f"workflow/{name}",),
        ("workflow", name, "-w", "public"),
        ("-t", "workflow", "-n", name, "-w", "public"),
        ("-i", f"{name} | v1 | workflow | public"),
        ("-i", f"{name} | v1 | workflow"),
        ("--id", f"workflow:v1:{name}:public"),
        ("--id", f"workflow:v1:{name}"),
    ]
    outputs = {form: ok(run_module("get", *form, "-o", "json")).stdout for form in forms}
    assert len(set(outputs.values())) == 1, outputs
    assert json.loads(outputs[forms[0]])["name"] == name


def test_conflicting_identifiers_are_einval(run_module, applied):
    name, _ = applied
    line = error_line(run_module("get", "workflow", name, "-n", "other"), "EINVAL", 2)
    assert "-n" in line and "NAME argument" in line
    error_line(run_module("get", "-i", "just-a-name"), "EINVAL", 2)
    error_line(run_module("get", "--id", "workflow"), "EINVAL", 2)


def test_describe(run_module, applied):
    name, _ = applied
    r = ok(run_module("describe", "workflow", name))
    fields = dict(re.findall(r"^([A-Za-z]+):[ \t]+(.*)$", r.stdout, re.M))
    assert fields["Name"] == name and fields["Type"] == "workflow (v1)" and fields["Workspace"] == "public"
    assert fields["Generation"] == "2" and fields["Description"] == "second" and fields["Tags"] == "retail"
    assert "Spec:" in r.stdout and "stack: container" in r.stdout
    history = [line for line in r.stdout.split("History:")[1].split("Events:")[0].splitlines() if line.strip()]
    assert [line.split()[0] for line in history[1:]] == ["1", "2"]
    assert "Applied" in r.stdout.split("Events:")[1]
    assert ok(run_module("describe", f"workflow/{name}")).stdout.split("Created:")[0] == \
        r.stdout.split("Created:")[0]


def test_history(run_module, applied):
    name, _ = applied
    generations = json.loads(ok(run_module("history", "workflow", name, "-o", "json")).stdout)
    assert [(g["generation"], g["action"]) for g in generations] == [(1, "created"), (2, "configured")]
    assert [g["manifest"]["description"] for g in generations] == ["first", "second"]
    table = ok(run_module("history", "--id", f"workflow:v1:{name}")).stdout.splitlines()
    assert table[0].split() == ["GENERATION", "UID", "APPLIED", "BY", "ACTION"] and len(table) == 3
    assert ok(run_module("history", "workflow", name, "-o", "name")).stdout.split() == \
        [f"workflow/{name}@1", f"workflow/{name}@2"]


def test_diff(run_module, tmp_path):
    name = uniq("wf")
    f = write(tmp_path, "wf.yaml", workflow_yaml(name, "before"))
    new = run_module("diff", "-f", f)
    assert new.returncode == 1 and f"+++ file/workflow/{name}" in new.stdout and "+name: " + name in new.stdout
    ok(run_module("apply", "-f", f))
    same = ok(run_module("diff", "-f", f))
    assert same.stdout == ""
    write(tmp_path, "wf.yaml", workflow_yaml(name, "after"))
    changed = run_module("diff", "-f", f)
    assert changed.returncode == 1, changed.stderr
    no_traceback(changed)
    lines = changed.stdout.splitlines()
    assert lines[0] == f"--- live/workflow/{name}" and lines[1] == f"+++ file/workflow/{name}"
    assert "-description: before" in lines and "+description: after" in lines
    assert not [line for line in lines[2:] if line.startswith(("+", "-")) and "description" not in line]
    assert get_json(run_module, "workflow", name)["description"] == "before"  # diff writes nothing


# --- delete --------------------------------------------------------------------------------------

def test_delete_by_name_and_by_file(run_module, tmp_path):
    a, b = uniq("a"), uniq("b")
    fa = write(tmp_path, "a.yaml", workflow_yaml(a))
    fb = write(tmp_path, "b.yaml", workflow_yaml(b))
    ok(run_module("apply", "-f", fa, "-f", fb))
    assert ok(run_module("delete", "workflow", a)).stdout.strip() == f"workflow/{a} deleted"
    error_line(run_module("get", "workflow", a), "ENOENT", 5)
    assert ok(run_module("delete", "-f", fb)).stdout.strip() == f"workflow/{b} deleted"
    error_line(run_module("get", "workflow", b), "ENOENT", 5)
    # history is kept
    actions = [g["action"] for g in json.loads(ok(run_module("history", "workflow", a, "-o", "json")).stdout)]
    assert actions == ["created", "deleted"]


def test_delete_missing(run_module, tmp_path):
    name = uniq("gone")
    line = error_line(run_module("delete", "workflow", name), "ENOENT", 5)
    assert name in line
    r = ok(run_module("delete", "workflow", name, "--ignore-not-found"))
    assert "nothing deleted" in r.stdout
    f = write(tmp_path, "gone.yaml", workflow_yaml(name))
    line = error_line(run_module("delete", "-f", f), "ENOENT", 5)
    assert str(f) in line
    ok(run_module("delete", "-f", f, "--ignore-not-found"))


def test_system_policies_cannot_be_deleted(run_module):
    line = error_line(run_module("delete", "policy", "self-read"), "EACCES", 4)
    assert "system" in line
    assert get_json(run_module, "policy", "self-read")["layer"] == "system"


# --- bad input -----------------------------------------------------------------------------------

BAD = {
    "malformed": ("name: x\ntype: workflow\n  bad: [\n", 3, None),
    "unknown-type": ("name: x\nversion: v1\ntype: spaceship\n", 3, "type"),
    "bad-name": (workflow_yaml("Bad_Name"), 1, "name"),
    "missing-version": ("name: x\ntype: workflow\nworkflow:\n  dag:\n    - name: a\n      spec: {stack: python}\n",
                        1, "version"),
    "bad-stack": ("name: x\nversion: v1\ntype: workflow\nworkflow:\n  dag:\n    - name: a\n"
                  "      spec: {stack: 42}\n", 7, "workflow.dag[0].spec.stack"),
    "dag-cycle": (workflow_yaml("x").replace("    - name: load\n", "    - name: load\n      dependencies: [report]\n"),
                  8, "workflow.dag"),
    "depot-workspace": ("name: d\nversion: v1\ntype: depot\nworkspace: public\ndepot: {type: file, file: {}}\n",
                        4, "workspace"),
    "duplicate-key": ("name: x\nname: y\n", 2, "name"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_manifest_is_one_einval_line(run_module, tmp_path, case):
    text, line_no, field = BAD[case]
    f = write(tmp_path, f"{case}.yaml", text)
    line = error_line(run_module("apply", "-f", f), "EINVAL", 2)
    assert f"{f}:{line_no}:" in line
    if field:
        assert field in line
    assert run_module("diff", "-f", f).returncode == 2


def test_bad_manifest_from_stdin_names_stdin(run_module):
    line = error_line(run_module("apply", "-f", "-", input="name: x\nversion: v1\ntype: spaceship\n"), "EINVAL", 2)
    assert "<stdin>:3:" in line and "type" in line


def test_missing_file_is_enoent(run_module, tmp_path):
    line = error_line(run_module("apply", "-f", tmp_path / "nope.yaml"), "ENOENT", 5)
    assert "nope.yaml" in line


def test_rejected_multi_document_apply_changes_nothing(run_module, tmp_path):
    kept, new = uniq("kept"), uniq("new")
    ok(run_module("apply", "-f", write(tmp_path, "kept.yaml", workflow_yaml(kept, "before"))))
    before = ok(run_module("get", "workflow", kept, "-o", "json")).stdout
    text = workflow_yaml(kept, "after") + "---\n" + workflow_yaml(new) + "---\n" + workflow_yaml("Bad_Name")
    f = write(tmp_path, "multi.yaml", text)
    line = error_line(run_module("apply", "-f", f), "EINVAL", 2)
    bad_line = text.splitlines().index("name: Bad_Name") + 1
    assert f"{f}:{bad_line}:" in line and "name" in line
    assert ok(run_module("get", "workflow", kept, "-o", "json")).stdout == before
    error_line(run_module("get", "workflow", new), "ENOENT", 5)


def test_stale_manifest_is_econflict(run_module, tmp_path):
    name = uniq("wf")
    f = write(tmp_path, "wf.yaml", workflow_yaml(name, "one"))
    ok(run_module("apply", "-f", f))
    read = get_json(run_module, "workflow", name)  # read at generation 1
    write(tmp_path, "wf.yaml", workflow_yaml(name, "two"))
    ok(run_module("apply", "-f", f))  # someone else moves it to generation 2
    read["description"] = "three"
    stale = write(tmp_path, "stale.json", json.dumps(read))
    line = error_line(run_module("apply", "-f", stale), "ECONFLICT", 6)
    assert "generation" in line and str(stale) in line
    assert get_json(run_module, "workflow", name)["description"] == "two"


def test_get_yaml_round_trips_through_apply(run_module, tmp_path):
    ws = uniq("ws")
    a, b = uniq("a"), uniq("b")
    ok(run_module("apply", "-w", ws, "-f", "-", input=workflow_yaml(a) + "---\n" + workflow_yaml(b)))
    listed = ok(run_module("get", "workflow", "-w", ws, "-o", "yaml")).stdout
    f = write(tmp_path, "all.yaml", listed)
    r = ok(run_module("apply", "-f", f))
    assert sorted(r.stdout.splitlines()) == sorted([f"workflow/{a} unchanged in {ws}, generation 1",
                                                    f"workflow/{b} unchanged in {ws}, generation 1"])
    one = ok(run_module("get", "workflow", a, "-w", ws, "-o", "yaml")).stdout
    f = write(tmp_path, "a.yaml", one.replace("description: daily orders", "description: edited"))
    assert ok(run_module("apply", "-f", f)).stdout.strip() == f"workflow/{a} configured in {ws}, generation 2"
    # the edited file was read at generation 1: applying it again is a stale write
    line = error_line(run_module("apply", "-f", f), "ECONFLICT", 6)
    assert f"{f}:" in line and "generation 2" in line


def test_empty_list_message_pluralizes(run_module):
    r = ok(run_module("get", "policy", "-w", uniq("ws"), "--type", "policy", env={"DATAOS_TOKEN": _viewer(run_module)}))
    assert r.stderr.strip().startswith("no policies found")


def _viewer(run) -> str:
    """The token of a new user who may read nothing but themselves."""
    name = uniq("viewer")
    ok(run("user", "create", name))
    return ok(run("user", "apikey", "create", name)).stdout.strip()
