"""kubectl habits: `get pods`, `describe pod`, `logs TYPE/NAME`, short type names, `api-resources`,
and an option typo or a bad value as one EINVAL line naming the nearest (not a usage box)."""
from __future__ import annotations


import pytest

from clitools import as_json, error_line, ok, wait_for

WORKFLOW = """\
name: twojobs
version: v1
type: workflow
workflow:
  dag:
    - name: first
      spec: {stack: container, stackSpec: {command: [sh, -c, "echo one"]}}
    - name: second
      dependencies: [first]
      spec: {stack: container, stackSpec: {command: [sh, -c, "echo two; exit 3"]}}
"""


@pytest.fixture
def finished(run_dataos, tmp_path):
    """A two-job workflow run to its end (the second job fails with exit code 3)."""
    (tmp_path / "wf.yaml").write_text(WORKFLOW)
    ok(run_dataos("apply", "-f", tmp_path / "wf.yaml"))
    wait_for(lambda: as_json(run_dataos("get", "runtime", "wf", "twojobs", "-o", "json"))["runtime"]
             in ("succeeded", "failed"), timeout=60)
    return sorted(as_json(run_dataos("pods", "-o", "json")), key=lambda p: p["created"])


def test_get_pods_is_pods_and_describe_pod_shows_its_phases(run_dataos, finished):
    names = [p["name"] for p in finished]
    for word in ("pods", "pod", "po"):
        assert sorted(p["name"] for p in as_json(run_dataos("get", word, "-o", "json"))) == sorted(names)
    assert as_json(run_dataos("get", "po", names[1], "-o", "json"))["name"] == names[1]
    out = ok(run_dataos("describe", "pod", names[1])).stdout
    for expected in ("Name:", names[1], "Phase:", "Failed", "Exit code:", "3", "Resource:",
                     "workflow/twojobs", "Job:", "second"):
        assert expected in out, out
    assert "Failed" in out.split("History:")[1], out


def test_logs_of_a_resource_are_its_pods_logs(run_dataos, finished):
    assert ok(run_dataos("logs", "workflow/twojobs", "--no-prefix")).stdout == "one\ntwo\n"
    assert ok(run_dataos("logs", "wf/twojobs", "-c", "second")).stdout == "two\n"
    assert error_line(run_dataos("logs", "svc/nothing"), "ENOENT", 5).endswith("service 'nothing' has no pods yet")


def test_short_names_and_api_resources(run_dataos):
    table = ok(run_dataos("api-resources")).stdout.splitlines()
    assert table[0].split() == ["NAME", "SHORTNAMES", "LEVEL", "VERSIONS", "SUMMARY"]
    rows = {line.split()[0]: line.split()[1:4] for line in table[1:]}
    assert rows["workflows"] == ["wf", "workspace", "v1"]
    assert rows["instance-secrets"] == ["isec", "instance", "v1"]
    listed = as_json(run_dataos("api-resources", "-o", "json"))
    assert {"name": "depots", "type": "depot", "shortNames": ["dp"], "level": "instance"}.items() \
        <= next(r for r in listed if r["type"] == "depot").items()
    assert "policies" in ok(run_dataos("api-resources", "-o", "name")).stdout.split()
    assert ok(run_dataos("get", "pol", "-o", "json")).stdout == ok(run_dataos("get", "policies", "-o", "json")).stdout


@pytest.mark.parametrize("args, expected", [
    (["get", "workflow", "--ouput", "yaml"], "--ouput: no such option (did you mean --output?)"),
    (["get", "workflow", "-o", "yml"], "--output: 'yml' is not one of table, wide, json, yaml, name (did you mean yaml?)"),
    (["pods", "--al-workspaces"], "--al-workspaces: no such option (did you mean --all-workspaces?)"),
    (["query"], "dataos query: missing argument SQL"),
])
def test_a_bad_option_is_one_einval_line(run_dataos, args, expected):
    line = error_line(run_dataos(*args), "EINVAL", 2)
    assert line.startswith(f"error: EINVAL: {expected}"), line
