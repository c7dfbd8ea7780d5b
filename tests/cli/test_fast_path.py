"""`dataos get …` and `dataos whoami` skip Typer (issue 15): the fast path prints the same bytes
and exits with the same code as the Typer command, for success and for every kind of error.

One DATAOS_HOME (one local kernel daemon) is shared by the module.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from clitools import DATAOS, as_json, ok, wait_for

TYPER = [sys.executable, "-c", "import sys; from dataos_shell.cli.app import run; run(sys.argv[1:])"]
POLICY = """\
name: fast-readers
version: v1
type: policy
description: fast path
policy:
  access:
    subjects: {tags: [[roles:id:fast]]}
    predicates: [read]
    objects: {paths: [/heimdall/users/**]}
"""
LINES = [  # (command line, extra environment, exit code)
    (["get", "policy"], {}, 0),
    (["get", "policies", "-o", "json"], {}, 0),
    (["get", "-o", "yaml", "policy"], {}, 0),
    (["get", "policy", "-o", "name"], {}, 0),
    (["get", "policy", "fast-readers"], {}, 0),
    (["get", "policy/fast-readers", "-o", "wide"], {}, 0),
    (["get", "policy", "fast-readers", "-w", "public", "-o", "json"], {}, 0),
    (["get", "--workspace", "public", "--output", "yaml", "policy", "fast-readers"], {}, 0),
    (["get"], {}, 0),
    (["get", "depot"], {}, 0),  # none: one line on stderr
    (["whoami"], {}, 0),
    (["whoami", "-o", "json"], {}, 0),
    (["whoami", "--output", "yaml"], {}, 0),
    (["get", "policy", "nosuch"], {}, 5),  # ENOENT
    (["get", "nosuchtype"], {}, 2),  # EINVAL: bad type
    (["get", "policy/fast-readers", "other"], {}, 2),  # EINVAL: the name given twice
    (["get", "policy"], {"DATAOS_URL": "unix:///nonexistent/kernel.sock"}, 7),  # kernel down: EUNAVAIL
    (["whoami"], {"DATAOS_URL": "unix:///nonexistent/kernel.sock"}, 7),
    (["whoami"], {"DATAOS_TOKEN": "not-a-token"}, 3),  # EAUTH
    (["get", "policy"], {"DATAOS_CONTEXT": "nosuch"}, 5),  # ENOENT: no such context
]


@pytest.fixture(scope="module")
def home(run_module, module_home):
    (module_home / "policy.yaml").write_text(POLICY)
    ok(run_module("apply", "-f", module_home / "policy.yaml"))
    wait_for(lambda: as_json(run_module("get", "policy", "fast-readers", "-o", "json"))["status"]
             ["aggregateStatus"] == "active")  # settled: both runs of a pair see the same status


def run(cmd: list[str], run_module, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`cmd` in the module's DATAOS_HOME, as the `run_module` fixture runs `dataos`; bytes out."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DATAOS_", "_")) or k == "DATAOS_NO_DEMO"}
    clean.update(DATAOS_HOME=str(run_module.home), NO_COLOR="1", DATAOS_NO_PAGER="1", **env)
    return subprocess.run(cmd, env=clean, capture_output=True, timeout=60, cwd=run_module.home.parent, check=False)


def both(line: list[str], run_module, env: dict[str, str]):
    """`dataos LINE` and the Typer app given LINE, asserted to print the same bytes and exit the
    same. The AGE column ticks every second: a pair that straddles a tick is run again."""
    for _ in range(3):
        fast, typer = run([*DATAOS, *line], run_module, env), run([*TYPER, *line], run_module, env)
        if (fast.returncode, fast.stdout, fast.stderr) == (typer.returncode, typer.stdout, typer.stderr):
            break
    assert (fast.returncode, fast.stdout, fast.stderr) == (typer.returncode, typer.stdout, typer.stderr)
    return fast, typer


@pytest.mark.parametrize(("line", "env", "code"), LINES, ids=[" ".join(c[0] + list(c[1])) for c in LINES])
def test_fast_path_prints_what_typer_prints(home, run_module, line, env, code):
    fast, _ = both(line, run_module, env)
    assert fast.returncode == code, fast.stderr
    assert b"Traceback" not in fast.stderr
    if code:
        assert len(fast.stderr.splitlines()) == 1 and fast.stderr.startswith(b"error: E")
    else:
        assert fast.stdout or fast.stderr.startswith(b"no depots found")


@pytest.mark.parametrize("line", [["get", "policy"], ["whoami", "-o", "json"]])
def test_plain_get_and_whoami_import_neither_typer_nor_http_client_nor_yaml(home, run_module, line):
    r = run([sys.executable, "-X", "importtime", "-m", "dataos_shell", *line], run_module, {})
    assert r.returncode == 0, r.stderr
    imported = {row.rsplit("|", 1)[-1].strip() for row in r.stderr.decode().splitlines() if "|" in row}
    assert "dataos_shell.cli.views" in imported
    assert not {"typer", "rich", "dataos_shell.cli.app", "dataos_shell.cli.resources", "http.client", "yaml"} & imported


@pytest.mark.parametrize("line", [
    ["get", "policy", "-A"], ["get", "policy", "--help"], ["get", "policy", "-o", "JSON"],
    ["get", "policy", "-o", "json", "-o", "yaml"], ["get", "pods"], ["get", "po", "-o", "name"],
    ["--no-plugins", "get", "policy"], ["whoami", "extra"],
])
def test_other_command_lines_still_go_through_typer(home, run_module, line):
    fast, _ = both(line, run_module, {})
    if line[-1] == "--help":
        assert b"--all-workspaces" in fast.stdout


def test_a_hand_edit_of_the_config_is_seen_by_the_next_command(run_dataos):
    """The config's parse is kept for the next command (no PyYAML to import), never past an edit."""
    ok(run_dataos("context", "add", "prod", "--url", "https://one.example"))
    assert "https://one.example" in ok(run_dataos("context", "list")).stdout
    config = run_dataos.home / "config" / "config.yaml"
    with config.open("r+") as f:  # in place: same inode, same size
        text = f.read()
        f.seek(0)
        f.write(text.replace("https://one.example", "https://two.example"))
    assert "https://two.example" in ok(run_dataos("context", "list")).stdout
    config.write_text("contexts: [unclosed\n")
    r = run_dataos("get", "workflow")
    assert r.returncode == 2 and r.stderr.startswith("error: EINVAL: ") and "not valid YAML" in r.stderr
