"""kubectl habits: `dataos edit TYPE NAME` ($EDITOR on the resource's YAML, applied at the generation
it was read at) and `dataos explain TYPE[.field.path]` (the manifest schema the kernel validates)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from clitools import DATAOS, as_json, error_line, ok

WORKER = """\
name: {name}
version: v1
type: worker
tags: [edited]
worker:
  stack: container
  replicas: 0
  stackSpec: {{command: [sh, -c, "echo $$HOME"]}}
"""


@pytest.fixture
def worker(run_module, tmp_path):
    """A worker of this test's own, and `edit(*args, editor=…)`: `dataos edit worker NAME` with that
    EDITOR (temporary files under tmp_path/edits)."""
    name = f"ed-{tmp_path.name[-12:].strip('_').lower().replace('_', '-')}"
    (tmp_path / "w.yaml").write_text(WORKER.format(name=name))
    ok(run_module("apply", "-f", tmp_path / "w.yaml"))
    (tmp_path / "edits").mkdir()

    def edit(editor: str):
        bin_dir = str(Path(DATAOS[0]).parent)
        return run_module("edit", "worker", name, env={"EDITOR": editor, "TMPDIR": str(tmp_path / "edits"),
                                                        "PATH": f"{bin_dir}:/usr/bin:/bin"})

    def live():
        return as_json(run_module("get", "worker", name, "-o", "json"))

    return name, edit, live, tmp_path / "edits"


def test_edit_applies_what_was_changed_and_keeps_the_rest_verbatim(worker):
    name, edit, live, edits = worker
    r = ok(edit("sed -i 's/replicas: 0/replicas: 2/'"))
    assert r.stdout == f"worker/{name} edited, generation 2\n"
    after = live()
    assert after["worker"]["replicas"] == 2 and after["status"]["generation"] == 2
    assert after["worker"]["stackSpec"]["command"] == ["sh", "-c", "echo $HOME"]  # no $VAR interpolation
    assert list(edits.iterdir()) == []


def test_an_edit_that_changes_nothing_is_cancelled(worker):
    _name, edit, live, edits = worker
    assert ok(edit("true")).stdout == "Edit cancelled, no changes made.\n"
    assert ok(edit("sed -i s/^#.*//")).stdout == "Edit cancelled, no changes made.\n"  # comments are no change
    assert live()["status"]["generation"] == 1
    assert list(edits.iterdir()) == []


def test_a_change_made_meanwhile_is_econflict_and_the_edit_is_kept(worker, tmp_path):
    name, edit, live, edits = worker
    editor = tmp_path / "editor.sh"  # someone applies a change while the file is open, then we save ours
    editor.write_text(f"""#!/bin/sh
dataos get worker {name} -o yaml | sed '/^status:/,$d' | sed 's/replicas: 0/replicas: 5/' | dataos apply -f - >/dev/null
sed -i 's/replicas: 0/replicas: 3/' "$1"
""")
    editor.chmod(0o755)
    line = error_line(edit(str(editor)), "ECONFLICT", 6)
    [kept] = list(edits.iterdir())
    assert f"your edit is kept in {kept}" in line and "generation 2" in line, line
    assert "replicas: 3" in kept.read_text()
    assert live()["worker"]["replicas"] == 5  # theirs stands


def test_a_bad_edit_is_one_line_naming_the_kept_file(worker):
    _name, edit, live, edits = worker
    line = error_line(edit("sed -i 's/replicas: 0/replicas: [/'"), "EINVAL", 2)
    [kept] = list(edits.iterdir())
    assert line.startswith(f"error: EINVAL: {kept}:") and "invalid YAML" in line and "kept in that file" in line
    kept.unlink()
    line = error_line(edit("sed -i 's/replicas: 0/replicas: -1/'"), "EINVAL", 2)
    [kept] = list(edits.iterdir())
    assert "worker.replicas: must be at least 0" in line and str(kept) in line, line
    assert live()["status"]["generation"] == 1


def test_explain_lists_a_types_fields(run_module):
    out = ok(run_module("explain", "workflow")).stdout
    assert out.startswith("TYPE:      workflow\nVERSIONS:  v1\nLEVEL:     workspace\n")
    assert "  name\t<string> -required-\n" in out and "  tags\t<[]string>\n" in out
    assert "  workflow\t<Object> -required-\n" in out


def test_explain_a_field_path_and_its_nested_fields(run_module):
    out = ok(run_module("explain", "wf.dag")).stdout  # short type name; the section may be left out
    assert out == ok(run_module("explain", "workflow.workflow.dag")).stdout
    assert "FIELD:     workflow.dag <[]Object> -required-\n" in out
    assert "  dependencies\t<[]string>\n    Jobs of this DAG that must succeed first.\n" in out
    tree = ok(run_module("explain", "workflow.schedule", "--recursive")).stdout
    assert "  cron\t<string> -required-\n" in tree and "  concurrencyPolicy\t<string>\n" in tree
    schema = as_json(run_module("explain", "depot.depot.type", "-o", "json"))
    assert schema["type"] == "string" and "file" in schema["enum"]


@pytest.mark.parametrize("target, expected", [
    ("workflow.dag.retyr", "field 'retyr' does not exist in workflow.workflow.dag (did you mean retry?)"),
    ("wrkflow", "no resource type 'wrkflow' (did you mean workflow?)"),
])
def test_explain_of_something_unknown_is_enoent_naming_the_nearest(run_module, target, expected):
    line = error_line(run_module("explain", target), "ENOENT", 5)
    assert line.startswith(f"error: ENOENT: {expected}"), line


def test_the_schema_syscall(run_module):
    result = json.loads(ok(run_module("syscall", "resource.schema", '{"type": "secret"}')).stdout)["result"]
    assert result["level"] == "workspace" and result["schema"]["fields"]["secret"]["fields"]["data"]["required"]
