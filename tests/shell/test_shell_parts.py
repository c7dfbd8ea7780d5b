"""The shell's parts without a kernel: dataos:// paths, which lines are SQL and where statements
end, `$VAR` expansion, the caret under a SQL error, records for wide results, all_commands()."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from userlib.output import fitted, records
from dataos_shell.shell import sql
from dataos_shell.shell.commands import Shell, all_commands
from dataos_shell.shell.paths import Where, parse, resolve
from userlib.completion.state import ShellState
from syscalls import SyscallError

RETAIL = "dataos://lakehouse:retail"


@pytest.mark.parametrize("cwd, text, expected", [
    ("", "dataos://lakehouse:retail", RETAIL),
    ("", "lakehouse", "dataos://lakehouse"),
    ("", "lakehouse:retail", RETAIL),
    ("dataos://lakehouse", "retail", RETAIL),
    (RETAIL, "..", "dataos://lakehouse"),
    (RETAIL, "../..", "dataos://"),
    (RETAIL, "/", "dataos://"),
    (RETAIL, "/lake/big", "dataos://lake:big"),
    (RETAIL, "../other", "dataos://lakehouse:other"),
    (RETAIL, "orders", "dataos://lakehouse:retail/orders"),
    ("dataos://lakehouse", "retail/orders", "dataos://lakehouse:retail/orders"),
    ("", "lakehouse.retail.orders", "dataos://lakehouse:retail/orders"),
    (RETAIL, "dataos://lake:big/t", "dataos://lake:big/t"),
    (RETAIL, ".", RETAIL),
])
def test_paths_resolve_against_the_cwd(cwd, text, expected):
    assert str(resolve(cwd, text)) == expected


def test_where_levels_cwd_and_sql():
    where = parse("dataos://lakehouse:retail/orders")
    assert where.level == 3 and where.sql == '"lakehouse"."retail"."orders"'
    assert where.parent().cwd == RETAIL and Where().cwd == "" and str(Where()) == "dataos://"
    with pytest.raises(SyscallError) as e:
        resolve(RETAIL, "orders/deeper")
    assert e.value.code == "EINVAL"


@pytest.mark.parametrize("text, expected", [
    ("select 1", True), ("SELECT 1", True), ("with x as (select 1) select * from x", True), ("(select 1)", True),
    ("from customers", True), ("values (1)", True), ("show tables", True), ("select(1)", True),
    ("describe customers", True), ("describe select * from t", True),
    ("describe workflow orders-daily", False), ("describe workflows", False), ("describe policies x", False),
    ("describe -t workflow -n x", False), ("describe workflow/x", False), ("describe", False),
    ("selection", False), ("ls", False), ("get workflow", False), ("\\timing", False), ("", False),
])
def test_which_lines_are_sql(text, expected):
    assert sql.is_sql(text) is expected


def units(text, aliases=None):
    return list(sql.statements(text, aliases or {}))


def test_commands_end_at_a_semicolon_or_newline_and_sql_keeps_its_semicolon():
    assert units("cd dataos://lakehouse:retail; ls; select count(*) from customers;") == [
        ("cd dataos://lakehouse:retail", True), ("ls", True), ("select count(*) from customers;", True)]
    assert units("select 1\n  + 2;\npwd") == [("select 1\n  + 2;", True), ("pwd", True)]
    assert units("select 'a;b', \"c;d\"; pwd") == [("select 'a;b', \"c;d\";", True), ("pwd", True)]
    assert units("select 1 -- a comment; not the end\n;") == [("select 1 -- a comment; not the end\n;", True)]


def test_comments_shebangs_and_open_statements():
    assert units("#!/usr/bin/env -S dataos shell\n# a comment\nls\n-- sql comment\npwd") == [("ls", True), ("pwd", True)]
    assert units("select 1") == [("select 1", False)]
    assert units("describe customers") == [("describe customers", False)]
    assert not sql.complete("select 1\nfrom t", {}) and sql.complete("select 1;", {}) and sql.complete("ls -l", {})


def test_aliases_decide_too():
    assert units("q customers;", {"q": "select * from"}) == [("q customers;", True)]
    assert not sql.complete("q customers", {"q": "select * from"})
    assert sql.expand_alias("ll retail", {"ll": "ls -l"}) == "ls -l retail"


def test_variables_expand_except_in_single_quotes(monkeypatch):
    monkeypatch.setenv("FROM_OS", "os")
    shell = Shell(ShellState(env={"NAME": "orders"}, last_exit=5))
    assert shell.expand("head $NAME ${NAME} \"$NAME\" '$NAME' \\$NAME $FROM_OS $? $MISSING.") == \
        "head orders orders \"orders\" '$NAME' \\$NAME os 5 ."


def test_the_caret_points_at_the_column():
    assert sql.caret("select 1,\n  2 frm x;", 2, 9) == "    2 frm x;\n          ^"
    assert sql.caret("select", 7, 99) == "  select\n        ^"


def test_wide_results_turn_into_records():
    headers, rows = ["id", "email"], [[1, "ana@example.com"], [2, None]]
    assert fitted(headers, rows, 80) == "id   email\n1    ana@example.com\n2    -"
    assert fitted(headers, rows, 10) == records(headers, rows) == (
        "-[ RECORD 1 ]+----------------\nid    | 1\nemail | ana@example.com\n"
        "-[ RECORD 2 ]+----------------\nid    | 2\nemail | -")
    assert fitted(headers, rows, None) == fitted(headers, rows, 80)


def test_all_commands_has_the_verbs_and_the_builtins():
    commands = all_commands()
    for name in ("get", "apply", "query", "catalog", "whoami", "shell", "ls", "cd", "mount", "ps", "kill", "top",
                 "head", "cat", "man", "alias", "export", "history", "exit", "help", "\\timing"):
        assert commands.get(name), name
    assert "catalog scan" not in commands


ADDED_VERB = """
import typer
from dataos_shell.cli.app import app

@app.command("hello")
def hello(name: str = typer.Argument("world"), shout: bool = typer.Option(False, "--shout")) -> None:
    \"\"\"Say hello (a command added to the CLI, as a plugin will add one).\"\"\"
    print(("hello " + name).upper() if shout else "hello " + name)

from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from dataos_shell.shell.commands import Shell, all_commands
from dataos_shell.shell.completion import ShellCompleter
from userlib.completion.state import ShellState

state = ShellState()
assert Shell(state).run("hello ana --shout") == 0
completer = ShellCompleter(state, None, all_commands())
print([c.text for c in completer.get_completions(Document("hel"), CompleteEvent())])
print([c.text for c in completer.get_completions(Document("hello --sh"), CompleteEvent())])
"""


def test_a_command_added_to_the_cli_is_a_shell_command_and_completes(tmp_path):
    """How plugins' commands reach the shell: anything on the Typer app before the shell starts."""
    r = subprocess.run([sys.executable, "-c", ADDED_VERB], capture_output=True, text=True, timeout=60,
                       env={**os.environ, "DATAOS_HOME": str(tmp_path), "NO_COLOR": "1"})
    assert r.returncode == 0, r.stderr
    ran, commands, flags = r.stdout.splitlines()
    assert ran == "HELLO ANA" and commands.startswith("['hello'") and flags == "['--shout']"
