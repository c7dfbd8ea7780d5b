"""The interactive shell driven through prompt_toolkit's pipe input, in this process, against a
kernel with the demo lakehouse: commands, SQL over two lines, cd/ls/pwd, aliases and variables,
an unknown command's suggestion, Ctrl-C at the prompt, Ctrl-D, history."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from clitools import DATAOS, ok, wait_for
from dataos_shell import session
from dataos_shell.shell.repl import history_file, interactive
from shellkit import CLEAN, shell_env

CTRL_C, CTRL_D, ENTER = "\x03", "\x04", "\r"


@pytest.fixture
def repl(lakehouse, module_home, monkeypatch, capsys):
    """`repl(*lines)`: type the lines (each ended by Enter), then Ctrl-D: (exit code, stdout, stderr)."""
    monkeypatch.setenv("DATAOS_HOME", str(module_home))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("DATAOS_NO_PAGER", "1")
    for name in CLEAN:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(os, "environ", os.environ)  # `export` writes os.environ: monkeypatch restores it

    def run(*lines: str, keys: str = "") -> tuple[int, str, str]:
        capsys.readouterr()
        with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
            pipe.send_text("".join(line + ENTER for line in lines) + keys + CTRL_D)
            code = interactive()
        out = capsys.readouterr()
        return code, out.out, out.err

    try:
        yield run
    finally:
        session.close()


def test_a_cli_verb_runs_in_the_shell(repl):
    code, out, err = repl("whoami", "dataos version")
    assert code == 0 and "roles:id:operator" in out and "dataos 0." in out
    assert "dataos shell on local" in err


def test_sql_over_two_lines_resolves_in_the_cwd(repl):
    code, out, err = repl("cd dataos://lakehouse:retail", "select count(*) as n", "from customers;")
    assert code == 0 and out.split() == ["n", "50000"] and "(1 row)" in err


def test_cd_ls_pwd(repl):
    code, out, err = repl("pwd", "ls", "cd lakehouse", "pwd", "ls -l", "cd retail", "pwd", "ls", "cd ..", "pwd",
                          "cd /", "pwd", "cd lakehouse:retail", "cd", "pwd")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[:3] == ["dataos://", "lake", "lakehouse"]
    assert "dataos://lakehouse" in lines and "dataos://lakehouse:retail" in lines
    assert [line.split()[:2] for line in lines if line.startswith("retail")] == [["retail", "4"]]
    assert {"customers", "orders", "products", "daily_revenue"} <= set(lines)
    assert lines[-3:] == ["dataos://lakehouse", "dataos://", "dataos://"]


def test_ls_l_shows_rows_size_owner_tags(repl):
    code, out, _ = repl("cd lakehouse:retail", "ls -l")
    header, *rows = out.splitlines()
    assert header.split() == ["NAME", "ROWS", "SIZE", "FORMAT", "OWNER", "TAGS"]
    customers = next(r.split() for r in rows if r.startswith("customers"))
    assert customers[1] == "50,000" and customers[2].endswith("K") and customers[3] == "parquet"


def test_head_and_cat_are_governed_previews(repl):
    code, out, err = repl("cd lakehouse:retail", "head -n 3 orders", "cd /", "head -2 lakehouse.retail.products",
                          "cat nope")
    assert code == 2  # the last command's: cat of a root-level name is not a dataset (EINVAL)
    assert out.splitlines()[0].split()[0] == "order_id" and len(out.splitlines()) == 3 + 1 + 2 + 1
    assert "(3 rows)" in err and "(2 rows)" in err and "error: EINVAL: nope: dataos://nope is not a dataset" in err


def test_alias_and_export(repl):
    code, out, err = repl("alias ll='ls -l'", "alias", "export DS=orders", "cd lakehouse:retail", "ll",
                          "head -n 1 $DS", "head -n 1 '$DS'", "unalias ll", "ll")
    assert "alias ll='ls -l'" in out and "ROWS" in out and "order_id" in out
    assert os.environ["DS"] == "orders"
    assert "error: ENOENT: unknown relation lakehouse.retail." in err  # '$DS' stays $DS: no such dataset
    assert "error: ENOSYS: ll: command not found" in err.splitlines()[-1]
    assert code == 8


def test_export_reaches_manifests(repl, tmp_path):
    manifest = tmp_path / "wf.yaml"
    manifest.write_text("name: $WF_NAME\nversion: v1\ntype: workflow\nworkflow:\n  dag:\n"
                        "    - name: a\n      spec: {stack: container, stackSpec: {command: ['true']}}\n")
    code, out, err = repl("export WF_NAME=from-the-shell", f"apply -f {manifest} --dry-run")
    assert code == 0, err
    assert "from-the-shell" in out


def test_an_unknown_command_suggests_the_nearest(repl):
    code, _, err = repl("sleect 1", "mont")
    assert "error: ENOSYS: sleect: command not found (did you mean select?)" in err
    assert "error: ENOSYS: mont: command not found (did you mean mount?)" in err
    assert code == 8 and "Traceback" not in err


def test_ctrl_c_at_the_prompt_clears_the_line(repl):
    code, out, err = repl(keys="garbage" + CTRL_C + "pwd" + ENTER)
    assert code == 0 and out == "dataos://\n" and "garbage" not in err


def test_ctrl_c_clears_an_open_statement(repl):
    code, out, err = repl(keys="select count(*)" + ENTER + "from" + CTRL_C + "pwd" + ENTER)
    assert code == 0 and out == "dataos://\n" and "error" not in err


def test_ctrl_d_exits_with_the_last_code_and_exit_with_its_own(repl):
    assert repl("cd nope")[0] == 5
    assert repl("cd nope", "pwd")[0] == 0
    code, out, _ = repl("exit 3", "pwd")
    assert code == 3 and out == ""


def test_a_sql_error_shows_a_caret(repl):
    code, _, err = repl("select * fro", "lakehouse.retail.customers;")
    assert code == 2
    assert err.splitlines()[-3:] == ["error: EINVAL: syntax error at line 2, column 1",
                                     "  lakehouse.retail.customers;", "  ^"]  # under the token's start


def test_timing_mount_ps_man_help_history(repl):
    code, out, err = repl("\\timing", "select 42 as answer;", "mount", "ps -a", "man ls", "help", "history")
    assert code == 0, err
    assert "Timing is on." in out and " ms (kernel " in err
    assert "lakehouse   file" in out and "QUERYABLE" in out
    assert "ls: List depots" in out and "Shell commands:" in out and "dataos verbs" in out
    assert "select 42 as answer;" in history_file().read_text()
    assert re.search(r"^ +\d+  select 42 as answer;$", out, re.M)  # `history` lists what was typed


def test_describe_is_the_verb_or_sql_by_what_follows(repl):
    _, out, err = repl("describe workflow daily-revenue", "describe lakehouse.retail.customers;")
    assert "Name:         daily-revenue" in out
    assert "column_name" in out and "customer_id" in out  # DESCRIBE reached the Gateway as SQL


def test_ps_shows_a_running_query_and_kill_cancels_it(repl, lakehouse):
    slow = "select count(*) from lake.big.t a, lake.big.t b where a.x < b.x"
    query = subprocess.Popen([*DATAOS, "query", slow], env=shell_env(lakehouse.home), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        running = wait_for(lambda: [q["id"] for q in json.loads(ok(lakehouse("syscall", "query.list")).stdout)["result"]
                                    if q["sql"] == slow])
        code, out, err = repl("ps", f"kill {running[0][:6]}", "kill nope")
        assert query.wait(10) == 8 and "ECANCELED" in query.stderr.read()
    finally:
        query.kill()
        query.wait()
    assert [line.split()[:3] for line in out.splitlines() if line.startswith("query ") and "Running" in line] == \
        [["query", running[0], "Running"]]
    assert f"query {running[0]} cancelled" in out
    assert err.splitlines()[-1] == "error: ENOENT: kill: no pod or running query 'nope'" and code == 5


def test_the_prompt_comes_before_typer_rich_pyarrow_and_duckdb_are_imported(lakehouse):
    program = (
        "import sys\n"
        "from prompt_toolkit.application import create_app_session\n"
        "from prompt_toolkit.input import create_pipe_input\n"
        "from prompt_toolkit.output import DummyOutput\n"
        "from dataos_shell.shell import repl\n"
        "repl.Extras.load = lambda *args: None  # what the background thread imports does not count\n"
        "with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):\n"
        "    pipe.send_text('\\x04')\n"
        "    repl.interactive()\n"
        "print(sorted(m for m in ('typer', 'rich', 'pyarrow', 'duckdb', 'sqlglot') if m in sys.modules))\n")
    r = ok(subprocess.run([sys.executable, "-c", program], env=shell_env(lakehouse.home), capture_output=True,
                          text=True, timeout=60))
    assert r.stdout.strip() == "[]"
