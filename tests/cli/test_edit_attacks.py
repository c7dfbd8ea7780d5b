"""Attacks on `dataos edit`: the editor changes what the edit is about (type, name, workspace),
the resource changes under it (deleted and created anew), the file is junk; and what the
temporary file holds of a secret (and the values that survive an edit of it)."""
from __future__ import annotations

import hashlib
import shlex
from pathlib import Path

import pytest
from clitools import DATAOS, as_json, ok, uniq, wait_for

PASSWORD = f"hunter2-{uniq('p')}-Very-Secret"

WORKER = """\
name: {name}
version: v1
type: worker
worker:
  stack: container
  replicas: 0
  stackSpec: {{command: [sh, -c, "true"]}}
"""


@pytest.fixture
def edit(run_module, tmp_path):
    """`edit(type, name, script)`: `dataos edit` whose editor is the shell `script` ($0 the file)."""
    (tmp_path / "edits").mkdir()
    bin_dir = str(Path(DATAOS[0]).parent)

    def run(type_: str, name: str, script: str, *args: str):
        return run_module("edit", type_, name, *args, env={
            "EDITOR": f"sh -c {shlex.quote(script)}", "TMPDIR": str(tmp_path / "edits"),
            "PATH": f"{bin_dir}:/usr/bin:/bin"})
    return run


def _worker(run_module, tmp_path, workspace: str | None = None) -> str:
    name = uniq("ew")
    (tmp_path / f"{name}.yaml").write_text(WORKER.format(name=name))
    ok(run_module("apply", "-f", tmp_path / f"{name}.yaml", *(("-w", workspace) if workspace else ())))
    return name


def _get(run_module, type_: str, name: str, *args: str):
    r = run_module("get", type_, name, *args, "-o", "json")
    return as_json(r) if r.returncode == 0 else None


@pytest.mark.parametrize("change", ["s/^name: .*/name: {other}/", "s/^workspace: public/workspace: {workspace}/",
                                    "s/^type: worker/type: service/", "s/^type: worker/type: Worker/",
                                    "s/^name: .*/name: {name}-x/"])
def test_an_edit_cannot_write_to_another_resource(run_module, tmp_path, edit, change):
    name, workspace = _worker(run_module, tmp_path), uniq("ws")
    other = _worker(run_module, tmp_path, workspace=workspace)
    change = change.format(other=other, name=name, workspace=workspace)
    script = f"sed -i -e {shlex.quote(change)} -e 's/replicas: 0/replicas: 1/' \"$0\""
    r = edit("worker", name, script)
    assert r.returncode != 0 and "Traceback" not in r.stderr, r
    assert _get(run_module, "worker", name)["status"]["generation"] == 1
    assert _get(run_module, "worker", other, "-w", workspace)["status"]["generation"] == 1
    assert _get(run_module, "worker", other) is None
    assert _get(run_module, "worker", f"{name}-x") is None and _get(run_module, "service", name) is None


def test_an_edit_over_a_resource_deleted_and_created_anew_meanwhile_is_econflict(run_module, tmp_path, edit):
    """Same name, same generation 1, another uid: the edit must not land on the new one."""
    name = _worker(run_module, tmp_path)
    manifest = tmp_path / f"{name}.yaml"
    dataos = " ".join(map(shlex.quote, DATAOS))
    script = (f"{dataos} delete worker {name} >/dev/null && {dataos} apply -f {shlex.quote(str(manifest))} >/dev/null"
              " && sed -i 's/replicas: 0/replicas: 3/' \"$0\"")
    r = edit("worker", name, script)
    assert r.returncode != 0 and "ECONFLICT" in r.stderr, r
    assert _get(run_module, "worker", name)["worker"]["replicas"] == 0


@pytest.mark.parametrize("junk", ["just text", "- a\n- b", "name: [", "42", "{}", "---\n---\n"])
def test_a_junk_edit_is_one_error_line(run_module, tmp_path, edit, junk):
    name = _worker(run_module, tmp_path)
    r = edit("worker", name, f"printf %s {shlex.quote(junk)} > \"$0\"")
    assert "Traceback" not in r.stdout + r.stderr, r.stderr
    assert r.returncode != 0 or "cancelled" in r.stdout, r
    assert _get(run_module, "worker", name)["status"]["generation"] == 1


@pytest.mark.parametrize("type_", ["secret", "instance-secret"])
def test_an_edited_secret_is_never_in_the_file_in_clear_and_keeps_its_values(run_module, tmp_path, edit, type_):
    name = uniq("es")
    (tmp_path / "s.yaml").write_text(f"name: {name}\nversion: v1\ntype: {type_}\n{type_}:\n  type: key-value\n"
                                     f"  data: {{password: {PASSWORD}, user: app}}\n")
    ok(run_module("apply", "-f", tmp_path / "s.yaml"))
    seen = tmp_path / "seen.yaml"
    script = (f"stat -c %a \"$0\" > {seen}.mode; cp \"$0\" {seen}; "
              "sed -i 's/^version: v1/version: v1\\ndescription: edited/' \"$0\"")
    r = ok(edit(type_, name, script))
    assert "edited, generation 2" in r.stdout, r.stdout
    assert (seen.with_suffix(".yaml.mode")).read_text().strip() == "600"
    text = seen.read_text()
    assert PASSWORD not in text and "<redacted>" in text, text
    assert not list((tmp_path / "edits").iterdir())  # nothing left behind
    if type_ == "instance-secret":
        return
    (tmp_path / "wf.yaml").write_text(
        f"name: {name}-wf\nversion: v1\ntype: workflow\nworkflow:\n  dag:\n  - name: a\n    spec:\n"
        f"      stack: container\n      stackSpec: {{command: [sh, -c, 'printf %s \"$$password\" | sha256sum']}}\n"
        f"      dataosSecrets: [{{name: {name}}}]\n")
    ok(run_module("apply", "-f", tmp_path / "wf.yaml"))
    rt = wait_for(lambda: (x := _get(run_module, "runtime", "workflow", f"{name}-wf")) and
                  x.get("runtime") == "succeeded" and x, timeout=60)
    logs = ok(run_module("logs", rt["pods"][0]["name"])).stdout
    # the edit kept the real value, not the marker (a digest: logs mask the value itself)
    assert hashlib.sha256(PASSWORD.encode()).hexdigest() in logs, logs


def test_the_edit_file_is_private(run_module, tmp_path, edit):
    name = _worker(run_module, tmp_path)
    mode = tmp_path / "mode"
    ok(edit("worker", name, f"stat -c %a \"$0\" > {mode}"))
    assert mode.read_text().strip() == "600"
