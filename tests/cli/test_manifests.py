"""Loading resource manifests: files, directories, stdin, line numbers, interpolation, errors."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from userlib.manifests import Manifest, load_manifests, parse_manifests
from syscalls.errors import SyscallError

WORKFLOW = """\
# a workflow
name: orders-daily
version: v1
type: workflow
tags: [retail, daily]
workflow:
  schedule: {cron: "0 * * * *"}
  dag:
    - name: load
      spec:
        stack: sql
        command:
          - run
          - --fast
    - name: report
      dependencies: [load]
"""


def parse(text: str, env: dict[str, str] | None = None) -> list[Manifest]:
    return parse_manifests(text, "m.yaml", env=env or {})


def invalid(text: str, env: dict[str, str] | None = None) -> SyscallError:
    with pytest.raises(SyscallError) as caught:
        parse(text, env)
    error = caught.value
    assert error.code == "EINVAL"
    assert "\n" not in error.message
    return error


def write(root: Path, name: str, text: str = "name: x\n") -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# --- documents and lines -------------------------------------------------------------


def test_single_document() -> None:
    [m] = parse(WORKFLOW)
    assert m.data["name"] == "orders-daily"
    assert m.data["workflow"]["dag"][0]["spec"]["command"] == ["run", "--fast"]
    assert (m.file, m.document, m.line) == ("m.yaml", 0, 2)


def test_field_lines() -> None:
    [m] = parse(WORKFLOW)
    assert m.lines["name"] == 2
    assert m.lines["tags[1]"] == 5
    assert m.lines["workflow.schedule.cron"] == 7
    assert m.lines["workflow.dag[0]"] == 9
    assert m.lines["workflow.dag[0].spec.stack"] == 11
    assert m.lines["workflow.dag[0].spec.command[1]"] == 14
    assert m.lines["workflow.dag[1].dependencies[0]"] == 16
    assert m.where("workflow.dag[1].name") == "m.yaml:15"
    assert m.where() == "m.yaml:2"


def test_nested_list_paths() -> None:
    [m] = parse("policy:\n  access:\n    subjects:\n      tags:\n        - [a]\n        - - b\n          - c\n")
    assert m.data["policy"]["access"]["subjects"]["tags"] == [["a"], ["b", "c"]]
    assert m.lines["policy.access.subjects.tags[1][0]"] == 6
    assert m.lines["policy.access.subjects.tags[1][1]"] == 7


def test_line_of_falls_back_to_ancestor_then_document() -> None:
    [m] = parse(WORKFLOW)
    assert m.line_of("workflow.dag[0].spec.stackSpec.inputs[3]") == 10
    assert m.line_of("workflow.dag[7]") == 8
    assert m.line_of("missing.deep[0]") == m.line == 2
    assert m.line_of("") == 2


def test_multi_document_skips_empty_ones() -> None:
    text = "---\n# only a comment\n---\nname: a\n---\n\n---\nname: b\nn: 1\n...\n"
    a, b = parse(text)
    assert (a.data, a.line) == ({"name": "a"}, 4)
    assert (b.data, b.line, b.lines["n"]) == ({"name": "b", "n": 1}, 8, 9)
    assert a.document < b.document


def test_empty_text_has_no_manifests() -> None:
    assert parse("") == []
    assert parse("# nothing\n---\n") == []


def test_scalars_keep_yaml_types_and_dates_stay_strings() -> None:
    [m] = parse("i: 3\nf: 1.5\nb: true\nn: null\ne:\ns: '3'\nd: 2024-01-31\nt: 2024-01-31T10:00:00Z\n")
    assert m.data == {"i": 3, "f": 1.5, "b": True, "n": None, "e": None, "s": "3",
                      "d": "2024-01-31", "t": "2024-01-31T10:00:00Z"}
    json.dumps(m.data)


def test_keys_are_their_text() -> None:
    [m] = parse("1: a\non: b\n")
    assert m.data == {"1": "a", "on": "b"}


def test_anchors_and_merge_keys() -> None:
    [m] = parse("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\nlist: [*b]\n")
    assert m.data["other"] == {"x": 1, "y": 3}
    assert m.data["list"] == [{"x": 1, "y": 2}]
    assert m.lines["other.y"] == 4


def test_json_input(tmp_path: Path) -> None:
    path = write(tmp_path, "r.json", '{\n\t"name": "a",\n\t"spec": {"n": [1, 2.5, true, null]}\n}\n')
    [m] = load_manifests([str(path)], env={})
    assert m.data == {"name": "a", "spec": {"n": [1, 2.5, True, None]}}
    assert m.lines["spec.n[2]"] == 3


# --- errors ---------------------------------------------------------------------------


def test_non_mapping_document() -> None:
    error = invalid("name: a\n---\n- a\n- b\n")
    assert error.message == "m.yaml:3: expected a mapping (a resource manifest), got a list"
    assert error.details["line"] == 3
    assert "got a string" in invalid("just text\n").message


def test_duplicate_keys() -> None:
    error = invalid("name: a\nworkflow:\n  dag: []\n  dag: [x]\n")
    assert error.message == "m.yaml:4: duplicate key 'workflow.dag' (first at line 3)"
    assert error.details["field"] == "workflow.dag"
    assert invalid('{"name": 1, "name": 2}').message.startswith("m.yaml:1: duplicate key 'name'")


@pytest.mark.parametrize(("text", "line", "column", "problem"), [
    ("name: a\nspec: b: c\n", 2, 8, "mapping values are not allowed"),
    ("name: a\ntags: [a,\n", 3, 1, "did not find expected node content"),
    ('name: a\nx: "\x07"\n', 2, 5, "not allowed"),
])
def test_malformed_yaml(text: str, line: int, column: int, problem: str) -> None:
    error = invalid(text)
    assert error.message.startswith(f"m.yaml:{line}: invalid YAML (column {column}): ")
    assert problem in error.message
    assert (error.details["line"], error.details["column"]) == (line, column)


@pytest.mark.parametrize(("text", "problem"), [
    ("a: !!binary aGk=\n", "unsupported YAML tag !!binary in field 'a'"),
    ("a: !Ref x\n", "unsupported YAML tag !Ref in field 'a'"),
    ("a: &x [*x]\n", "recursive alias in field 'a[0]'"),
    ("? [k]\n: v\n", "mapping keys must be strings, got a list"),
])
def test_unsupported_yaml(text: str, problem: str) -> None:
    assert invalid(text).message == f"m.yaml:1: {problem}"


# --- interpolation ---------------------------------------------------------------------


def test_interpolation_forms() -> None:
    env = {"A": "x", "N": "3", "EMPTY": ""}
    [m] = parse("s: $A-${A}_$A.x ${N}\nd: ${B:-def} ${EMPTY:-e} ${A:-no}\nlit: $$B cost $5 ${ $\nn: $N\n", env)
    assert m.data == {"s": "x-x_x.x 3", "d": "def e x", "lit": "$B cost $5 ${ $", "n": "3"}


def test_interpolation_leaves_keys_and_non_strings_alone() -> None:
    [m] = parse("$A: 1\nb: true\nc: [2, null]\n", {"A": "x"})
    assert m.data == {"$A": 1, "b": True, "c": [2, None]}


def test_interpolation_defaults_to_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATAOS_TEST_VAR", "from-env")
    [m] = parse_manifests("a: $DATAOS_TEST_VAR\n", "m.yaml")
    assert m.data == {"a": "from-env"}


def test_undefined_variable_names_field_and_line() -> None:
    text = "name: a\nworkflow:\n  dag:\n    - spec:\n        command:\n          - run\n          - x\n          - $NOPE\n"
    error = invalid(text)
    assert error.message == ("m.yaml:8: undefined variable $NOPE in field 'workflow.dag[0].spec.command[2]'"
                             " (set it, or write $$ for a literal $)")
    assert (error.details["line"], error.details["field"]) == (8, "workflow.dag[0].spec.command[2]")
    assert "undefined variable $B in field 'a'" in invalid("a: ${B}\n").message


# --- sources --------------------------------------------------------------------------


def test_file_source(tmp_path: Path) -> None:
    path = write(tmp_path, "wf.yaml", WORKFLOW)
    [m] = load_manifests([str(path)], env={})
    assert m.file == str(path)
    assert m.where("name") == f"{path}:2"


def test_directory_in_name_order_skipping_hidden_and_other_files(tmp_path: Path) -> None:
    for name in ("b.yml", "a.yaml", "c.json", "notes.txt", ".hidden.yaml", "sub/d.yaml"):
        write(tmp_path, name, f"name: {Path(name).stem}\n")
    names = [m.data["name"] for m in load_manifests([str(tmp_path)], env={})]
    assert names == ["a", "b", "c"]


def test_directory_recursive(tmp_path: Path) -> None:
    for name in ("b.yaml", "a/z.yaml", "a/b/y.yaml", "c/x.yaml", ".git/h.yaml", "a/.cache/h.yaml"):
        write(tmp_path, name, f"name: {Path(name).stem}\n")
    manifests = load_manifests([str(tmp_path)], recursive=True, env={})
    assert [m.data["name"] for m in manifests] == ["y", "z", "b", "x"]
    assert manifests[0].file == str(tmp_path / "a" / "b" / "y.yaml")


def test_sources_keep_their_order(tmp_path: Path) -> None:
    second, first = write(tmp_path, "a.yaml", "name: second\n"), write(tmp_path, "b.yaml", "name: first\n")
    manifests = load_manifests([str(first), "-", str(second)], env={}, stdin=io.StringIO("name: stdin\n"))
    assert [m.data["name"] for m in manifests] == ["first", "stdin", "second"]


def test_stdin() -> None:
    [m] = load_manifests(["-"], env={"V": "1"}, stdin=io.StringIO("---\nname: $V\n"))
    assert (m.file, m.line, m.data) == ("<stdin>", 2, {"name": "1"})
    with pytest.raises(SyscallError, match=r"<stdin>:1: expected a mapping"):
        load_manifests(["-"], stdin=io.StringIO("[1]\n"))


def test_missing_path(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.yaml")
    with pytest.raises(SyscallError) as caught:
        load_manifests([missing])
    assert caught.value.code == "ENOENT"
    assert caught.value.message == f"{missing}: no such file or directory"
    assert caught.value.details == {"file": missing}


def test_directory_without_manifests(tmp_path: Path) -> None:
    write(tmp_path, "readme.md")
    write(tmp_path, "sub/a.yaml")
    with pytest.raises(SyscallError) as caught:
        load_manifests([str(tmp_path)])
    assert caught.value.code == "EINVAL"
    assert caught.value.message == f"{tmp_path}: no manifest files (*.yaml, *.yml, *.json) (use -R to include subdirectories)"
    assert [m.data for m in load_manifests([str(tmp_path)], recursive=True, env={})] == [{"name": "x"}]


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", "name: a\nname: b\n")
    with pytest.raises(SyscallError, match=rf"^EINVAL: {path}:2: duplicate key 'name'"):
        load_manifests([str(path)])
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"name: a\n\xff\n")
    with pytest.raises(SyscallError, match=rf"{binary}:2: not UTF-8 text"):
        load_manifests([str(binary)])


# --- performance ------------------------------------------------------------------------


def test_five_thousand_documents_load() -> None:
    text = "".join(f"---\n{WORKFLOW.replace('orders-daily', f'wf-{i}')}" for i in range(5000))
    manifests = parse(text)
    assert len(manifests) == 5000
    assert manifests[-1].data["name"] == "wf-4999"
