"""Scripts through the shell, without a terminal: `dataos shell -c`, `dataos shell FILE`, a script
on standard input, and an executable `#!/usr/bin/env -S dataos shell` file. The first failing
command stops a script with its errno's exit code, unless --keep-going."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from clitools import DATAOS, error_line, no_traceback, ok
from shellkit import shell_env


def test_c_runs_commands_and_sql(lakehouse):
    r = ok(lakehouse("shell", "-c", "cd dataos://lakehouse:retail; ls; select count(*) from customers;"))
    assert r.stdout.splitlines() == ["customers", "daily_revenue", "orders", "products", "count(*)", "50000"]
    assert r.stderr == "(1 row)\n"


def test_the_first_error_stops_the_script_with_its_code(lakehouse):
    script = "cd lakehouse:retail; cd nope; pwd"
    r = lakehouse("shell", "-c", script)
    error_line(r, "ENOENT", 5)
    assert r.stdout == ""
    r = lakehouse("shell", "--keep-going", "-c", script + "; select * from nope; pwd")
    assert r.returncode == 5 and r.stdout.splitlines() == ["dataos://lakehouse:retail"] * 2  # the last failure's
    assert [line.split(":")[1].strip() for line in r.stderr.splitlines()] == ["ENOENT", "ENOENT"]
    no_traceback(r)


def test_exit_codes_follow_the_errno_table(lakehouse):
    assert lakehouse("shell", "-c", "select * fro x;").returncode == 2
    error_line(lakehouse("shell", "-c", "frobnicate"), "ENOSYS", 8)
    error_line(lakehouse("shell", "-c", "get workflow nope"), "ENOENT", 5)
    assert lakehouse("shell", "-c", "pwd; exit 7; pwd").returncode == 7
    assert ok(lakehouse("shell", "-c", "select 1; select 2")).stdout.split() == ["1", "1", "2", "2"]


def test_a_file_with_comments_and_multi_line_sql(lakehouse, tmp_path):
    script = tmp_path / "report.dsh"
    script.write_text("# the retail report\ncd lakehouse:retail\n\n# orders by region\n"
                      "select region, count(*) as n\n  from orders  -- all of them\n  group by 1\n  order by 1;\n"
                      "alias n='select count(*) as n from'\nn products;\n")
    r = ok(lakehouse("shell", str(script)))
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["region", "n"] and lines[-2:] == ["n", "1000"]
    assert sum(int(line.split()[1]) for line in lines[1:-2]) == 20_000
    error_line(lakehouse("shell", str(tmp_path / "missing.dsh")), "ENOENT", 5)


def test_a_script_on_standard_input(lakehouse):
    r = ok(lakehouse("shell", input="cd lakehouse\nls\n"))
    assert r.stdout == "retail\n"


def test_an_executable_script_with_a_shebang(lakehouse, tmp_path):
    script = tmp_path / "count"
    script.write_text("#!/usr/bin/env -S dataos shell\ncd dataos://lakehouse:retail\nselect count(*) from orders;\n")
    script.chmod(0o755)
    env = shell_env(lakehouse.home, PATH=f"{Path(DATAOS[0]).parent}{os.pathsep}{os.environ['PATH']}")
    r = subprocess.run([str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["count(*)", "20000"]


def test_c_and_a_file_together_are_refused(lakehouse, tmp_path):
    error_line(lakehouse("shell", "-c", "pwd", str(tmp_path)), "EINVAL", 2)


def test_bare_dataos_without_a_terminal_prints_help(lakehouse):
    r = ok(lakehouse())
    assert "Usage: dataos" in r.stdout and "shell" in r.stdout
    assert "Usage: dataos" in ok(lakehouse("--help")).stdout
