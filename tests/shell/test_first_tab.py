"""The first Tab after the shell starts completes from the catalog (not SQL keywords while the
catalog snapshot is still loading), and `clear` clears the screen."""
from __future__ import annotations

import pexpect
import pytest

from shellkit import spawn

pytestmark = pytest.mark.slow


def test_the_first_tab_offers_tables_not_keywords(lakehouse):
    shell = spawn(lakehouse.home, "shell")
    try:
        shell.expect_exact("dataos://>")
        shell.send("select * from lakehouse.retail.cust\t")  # at once: the snapshot has not loaded yet
        shell.expect_exact("lakehouse.retail.customers", timeout=10)
        shell.send("\x03")  # Ctrl-C drops the line
        shell.expect_exact("dataos://>")
        shell.send("select * from lakehouse.retail.orders o where o.amo\t")
        shell.expect_exact("unt", timeout=10)  # o.amo + unt: the column, drawn after what was typed
        shell.send("\x03")
        shell.expect_exact("dataos://>")
        shell.sendline("exit")
        shell.expect(pexpect.EOF)
    finally:
        shell.close(force=True)


def test_clear_clears_the_screen_and_keeps_the_shell(lakehouse):
    shell = spawn(lakehouse.home, "shell")
    try:
        shell.expect_exact("dataos://>")
        shell.sendline("clear")
        shell.expect_exact("\x1b[2J")
        shell.expect_exact("dataos://>")
        shell.sendline("pwd")
        shell.expect_exact("dataos://\r\n")
        shell.sendline("exit")
        shell.expect(pexpect.EOF)
    finally:
        shell.close(force=True)
    assert shell.exitstatus == 0
