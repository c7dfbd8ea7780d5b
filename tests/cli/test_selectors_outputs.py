"""kubectl habits of `get`: tag selectors (-l), -o jsonpath=… and custom-columns=…, and --watch
(the table, then a line per change, until Ctrl-C)."""
from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading

import pytest
from clitools import DATAOS, error_line, ok, wait_for

WORKERS = """\
name: sel-a
version: v1
type: worker
tags: [retail, team:x]
worker: {stack: container, replicas: 0, stackSpec: {command: [sleep, "60"]}}
---
name: sel-b
version: v1
type: worker
tags: [retail]
worker: {stack: container, replicas: 0, stackSpec: {command: [sleep, "60"]}}
---
name: sel-c
version: v1
type: worker
worker: {stack: container, replicas: 0, stackSpec: {command: [sleep, "60"]}}
"""


@pytest.fixture(scope="module")
def workers(run_module, tmp_path_factory):
    path = tmp_path_factory.mktemp("sel") / "workers.yaml"
    path.write_text(WORKERS)
    ok(run_module("apply", "-f", path))
    return run_module


@pytest.mark.parametrize("selectors, names", [
    (["-l", "retail"], ["sel-a", "sel-b"]),
    (["-l", "retail,team:x"], ["sel-a"]),
    (["-l", "retail", "-l", "team:x"], ["sel-a"]),
    (["-l", "retail,!team:x"], ["sel-b"]),
])
def test_a_tag_selector_keeps_what_has_every_tag(workers, selectors, names):
    out = ok(workers("get", "workers", *selectors, "-o", "name")).stdout
    assert out.split() == [f"worker/{n}" for n in names]


def test_a_selector_that_matches_nothing_says_so_and_succeeds(workers):
    r = ok(workers("get", "wk", "-l", "no-such-tag"))
    assert r.stdout == ""
    assert r.stderr.strip() == "no workers tagged no-such-tag found in workspace public"
    error_line(workers("get", "wk", "sel-a", "-l", "retail"), "EINVAL", 2)


def test_jsonpath_prints_what_the_template_picks(workers):
    listed = ok(workers("get", "wk", "-l", "retail", "-o", "jsonpath={.items[*].name}")).stdout
    assert listed == "sel-a sel-b"  # as kubectl: no newline added
    lines = ok(workers("get", "wk", "-o", 'jsonpath={range .items[*]}{.name}{"\\t"}{.tags}{"\\n"}{end}')).stdout
    assert lines == 'sel-a\t["retail","team:x"]\nsel-b\t["retail"]\nsel-c\t\n'
    one = ok(workers("get", "worker", "sel-a", "-o", "jsonpath={.worker.stackSpec.command[0]} {.status.generation}"))
    assert one.stdout == "sleep 1"
    filtered = '{.items[?(@.name=="sel-c")].worker.replicas}|{.no.such.key}|'
    assert ok(workers("get", "wk", "-o", f"jsonpath={filtered}")).stdout == "0||"


def test_custom_columns_are_a_table_with_your_headers(workers):
    out = ok(workers("get", "wk", "-o", "custom-columns=NAME:.name,TAGS:.tags,GEN:{.status.generation}")).stdout
    assert [line.split() for line in out.splitlines()] == [
        ["NAME", "TAGS", "GEN"], ["sel-a", "retail,team:x", "1"], ["sel-b", "retail", "1"], ["sel-c", "<none>", "1"]]


@pytest.mark.parametrize("output, expected", [
    ("csv", ("--output: 'csv' is not one of table, wide, json, yaml, name or jsonpath=TEMPLATE, "
            "custom-columns=HEADER:.path,…")),
    ("jsonpath", "--output: jsonpath needs a template: jsonpath=TEMPLATE"),
    ("jsonpath={.items[", "--output: jsonpath template '{.items[': no } closes the { at column 1"),
    ("jsonpath={range .items[*]}{.name}", ("--output: jsonpath template '{range .items[*]}{.name}': {range …} "
                                          "without {end}")),
    ("custom-columns=NAME", "--output: custom-columns template 'NAME': 'NAME' is not HEADER:.path"),
])
def test_a_bad_output_format_is_one_einval_line(workers, output, expected):
    line = error_line(workers("get", "wk", "-o", output), "EINVAL", 2)
    assert line.startswith(f"error: EINVAL: {expected}"), line


class Watch:
    """`dataos get … --watch` running: its output lines as they come."""

    def __init__(self, runner, *args):
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("DATAOS_")}, "DATAOS_HOME": str(runner.home),
               "NO_COLOR": "1", "DATAOS_NO_PAGER": "1", "DATAOS_NO_DEMO": "1"}
        self.proc = subprocess.Popen([*DATAOS, "get", *args, "--watch"], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [self.lines.put(line) for line in self.proc.stdout], daemon=True).start()

    def next_line(self, timeout: float = 20) -> str:
        return self.lines.get(timeout=timeout).rstrip("\n")

    def interrupt(self) -> subprocess.CompletedProcess:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(20)
        return subprocess.CompletedProcess(self.proc.args, self.proc.returncode, "", self.proc.stderr.read())


def test_watch_prints_the_table_then_a_line_per_change_until_ctrl_c(workers, tmp_path):
    watch = Watch(workers, "wk", "-l", "retail")
    try:
        assert watch.next_line().split()[:5] == ["NAME", "VERSION", "TYPE", "WORKSPACE", "STATUS"]
        assert [watch.next_line().split()[0] for _ in range(2)] == ["sel-a", "sel-b"]
        changed = tmp_path / "b.yaml"
        changed.write_text(WORKERS.split("---\n")[1].replace("replicas: 0", "replicas: 1"))
        ok(workers("apply", "-f", changed))
        wait_for(lambda: "running:1" in watch.next_line().split(), timeout=30, every=0)
        ok(workers("delete", "worker", "sel-b"))
        wait_for(lambda: watch.next_line().split()[:5] == ["sel-b", "v1", "worker", "public", "deleted"],
                 timeout=30, every=0)
    finally:
        done = watch.interrupt()
    assert done.returncode == 130 and "Traceback" not in done.stderr, done.stderr


def test_watch_of_a_single_object_format_prints_one_a_line(workers):
    watch = Watch(workers, "wk", "sel-a", "-o", "name")
    try:
        assert watch.next_line() == "worker/sel-a"
    finally:
        assert watch.interrupt().returncode == 130
