"""The shell on a real terminal (a pty, through pexpect): a session with cd, ls, a query, Ctrl-C
cancelling a slow query in the kernel, and exit; bare `dataos` opening the shell; a live `top`."""
from __future__ import annotations

import json
import re
import time

import pexpect
import pytest

from clitools import ok
from shellkit import spawn

pytestmark = pytest.mark.slow

SLOW = "select count(*) from t a, t b where a.x < b.x;"  # 5·10⁹ pairs: half a minute and more


def test_a_session_cancels_a_slow_query_and_keeps_the_shell(lakehouse):
    shell = spawn(lakehouse.home, "shell")
    try:
        shell.expect_exact("local public dataos://>")
        shell.sendline("cd lake:big")
        shell.expect_exact("dataos://lake:big>")
        shell.sendline("ls")
        shell.expect_exact("t\r\n")
        shell.sendline("select count(*) as n from t;")
        shell.expect(r"100000\r\n")
        shell.expect_exact("(1 row)")
        shell.sendline(SLOW)
        deadline = time.monotonic() + 20
        while not any(q["sql"] == SLOW for q in json.loads(ok(lakehouse("syscall", "query.list")).stdout)["result"]):
            assert time.monotonic() < deadline, "the slow query never showed in query.list"
            time.sleep(0.1)
        time.sleep(0.5)
        cancelled = time.monotonic()
        shell.sendcontrol("c")
        shell.expect(r"error: ECANCELED: query \w+ cancelled", timeout=5)
        shell.expect_exact("dataos://lake:big>", timeout=5)
        assert time.monotonic() - cancelled < 5
        shell.sendline("pwd")
        shell.expect_exact("dataos://lake:big\r\n")
        shell.sendline("exit")
        shell.expect(pexpect.EOF)
    finally:
        shell.close(force=True)
    assert shell.exitstatus == 0
    history = json.loads(ok(lakehouse("query", "history", "-o", "json")).stdout)
    assert [q["errno"] for q in history if q["sql"] == SLOW][:1] == ["ECANCELED"]
    assert not json.loads(ok(lakehouse("syscall", "query.list")).stdout)["result"]


def test_bare_dataos_on_a_terminal_opens_the_shell_with_a_coloured_prompt(lakehouse):
    shell = spawn(lakehouse.home, NO_COLOR="")
    try:
        shell.expect_exact("dataos://")
        assert re.search(r"\x1b\[[0-9;]*32m\s*local", shell.before + shell.after), repr(shell.before)
        shell.sendline("whoami")
        shell.expect("roles:id:operator")
        shell.expect_exact("dataos://")  # the next prompt (before it, the terminal would take ^D as end of file)
        shell.sendcontrol("d")
        shell.expect(pexpect.EOF)
    finally:
        shell.close(force=True)
    assert shell.exitstatus == 0


def test_top_redraws_until_a_key_is_pressed(lakehouse):
    shell = spawn(lakehouse.home, "shell")
    try:
        shell.expect_exact("dataos://>")
        shell.sendline("top")
        shell.expect_exact("any key stops")
        shell.expect_exact("any key stops", timeout=5)  # the second frame, 2 s later
        shell.send("q")
        shell.expect_exact("dataos://>", timeout=5)
        shell.sendline("pwd")
        shell.expect_exact("dataos://\r\n")  # the terminal is back to normal
        shell.sendline("exit 4")
        shell.expect(pexpect.EOF)
    finally:
        shell.close(force=True)
    assert shell.exitstatus == 4


def test_a_wide_result_turns_into_records_on_a_narrow_terminal(lakehouse):
    shell = spawn(lakehouse.home, "shell", columns=60)
    try:
        shell.expect_exact("dataos://>")
        shell.sendline("head -n 2 lakehouse.retail.customers")
        shell.expect_exact("-[ RECORD 1 ]")
        shell.expect(r"customer_id +\| 1\r\n")
        shell.expect_exact("-[ RECORD 2 ]")
        shell.expect_exact("(2 rows)")
        shell.sendline("exit")
        shell.expect(pexpect.EOF)
    finally:
        shell.close(force=True)
