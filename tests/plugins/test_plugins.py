"""Plugins installed with pip (real entry-point metadata, in a directory on PYTHONPATH): their
commands work in the CLI and the shell, a broken plugin and a name clash are reported without
breaking anything else, they are listed without being imported, and they reach data only as their
user. `dataos plugins new` writes a package that installs and works."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from clitools import apply_file_depot, error_line, ok, pip_install, plugin_package

PLUGINS = {
    # a plugin whose import leaves a mark (to see when it is imported) and which reads data as its user
    "reader": '''
        import os, pathlib
        pathlib.Path(os.environ["PLUGIN_MARKS"], "reader-imported").touch()

        def register(host):
            import typer

            @host.command("peek", help="First rows of a table, as the current user.")
            def peek(table: str = typer.Argument(...)) -> None:
                result = host.client().query.execute(sql=f"select * from {table}", limit=3)
                typer.echo(f"{len(result['rows'])} rows")

            grp = host.group("reader-tools", help="More reader commands.")

            @grp.command("cols")
            def cols(table: str) -> None:
                result = host.client().query.execute(sql=f"select * from {table}", limit=0)
                typer.echo(",".join(c["name"] for c in result["columns"]))

            @host.output_format("pipes", help="a|b|c")
            def pipes(columns, rows):
                return "\\n".join("|".join(map(str, r)) for r in [columns, *rows])
    ''',
    "solo": '''
        def register(host):
            @host.command("solo")
            def solo() -> None:
                print("solo")
    ''',
    "broken": '''
        raise RuntimeError("this plugin is broken on purpose")
    ''',
    # two plugins claim `dup`; one claims the built-in `get`
    "dupa": '''
        def register(host):
            @host.command("dup")
            def dup() -> None:
                print("a")

            @host.command("get")
            def get() -> None:
                print("hijacked")
    ''',
    "dupb": '''
        def register(host):
            @host.command("dup")
            def dup() -> None:
                print("b")
    ''',
}


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("plugins")
    target = root / "site"
    pip_install(target, *(plugin_package(root / "src", name, code) for name, code in PLUGINS.items()))
    return target


@pytest.fixture(scope="module")
def env(site, tmp_path_factory) -> dict[str, str]:
    marks = tmp_path_factory.mktemp("marks")
    return {"PYTHONPATH": str(site), "PLUGIN_MARKS": str(marks)}


@pytest.fixture(scope="module")
def lake(run_module, env, tmp_path_factory):
    import duckdb
    root = tmp_path_factory.mktemp("lake")
    (root / "hr").mkdir()
    duckdb.sql(f"COPY (SELECT i AS id, 'p' || i AS name FROM range(10) t(i)) TO '{root}/hr/people.parquet' "
               "(FORMAT parquet)")
    apply_file_depot(run_module, "lake", root, env=env)
    return root


def test_listed_without_importing_and_a_plugin_named_like_its_command_imported_alone(run_module, env, tmp_path):
    env = {**env, "PLUGIN_MARKS": str(tmp_path)}  # where the reader plugin's import leaves its mark
    r = ok(run_module("plugins", "list", "-o", "json", env=env))
    listed = {p["name"]: p for p in json.loads(r.stdout)}
    assert {"reader", "broken", "dupa", "dupb", "solo"} <= set(listed)
    assert listed["reader"]["package"] == "dataos-reader" and listed["reader"]["version"] == "1.0"
    assert not (tmp_path / "reader-imported").exists()
    ok(run_module("get", "depot", env=env))  # a built-in command imports no plugin either
    assert ok(run_module("solo", env=env)).stdout.strip() == "solo"
    assert not (tmp_path / "reader-imported").exists()
    assert ok(run_module("peek", "--help", env=env))  # not named like its plugin: every plugin loads
    assert (tmp_path / "reader-imported").exists()


def test_a_plugin_command_runs_in_the_cli_and_the_shell(run_module, env, lake):
    assert ok(run_module("peek", "lake.hr.people", env=env)).stdout.strip() == "3 rows"
    assert ok(run_module("reader-tools", "cols", "lake.hr.people", env=env)).stdout.strip() == "id,name"
    assert error_line(run_module("reader-tools", "col", env=env), "ENOSYS", 8).endswith(
        "col: no such command (did you mean cols?); `dataos reader-tools --help` lists them")
    r = ok(run_module("shell", "-c", "peek lake.hr.people; reader-tools cols lake.hr.people", env=env))
    assert r.stdout.split() == ["3", "rows", "id,name"]


def test_a_plugin_output_format(run_module, env, lake):
    r = ok(run_module("query", "select id, name from lake.hr.people order by id limit 2", "-o", "pipes", env=env))
    assert r.stdout.splitlines() == ["id|name", "0|p0", "1|p1"]


def test_a_broken_plugin_and_clashes_are_one_line_each_shown_once_and_the_rest_works(run_dataos, run_module, env):
    r = ok(run_dataos("--help", env=env))
    warnings = [line for line in r.stderr.splitlines() if line.startswith("warning:")]
    assert any("plugin broken: RuntimeError: this plugin is broken on purpose" in w for w in warnings)
    assert any("'dup' is claimed by plugins dupa (dataos-dupa 1.0) and dupb (dataos-dupb 1.0)" in w for w in warnings)
    assert any("'get' of plugin dupa" in w and "built-in" in w for w in warnings)
    assert len(warnings) == 3 and "Traceback" not in r.stderr
    assert "peek" in r.stdout
    assert "warning" not in ok(run_dataos("--help", env=env)).stderr  # once
    assert "hijacked" not in ok(run_module("get", "depot", env=env)).stdout
    assert ok(run_module("peek", "--help", env=env)).returncode == 0
    r = run_module("dup", env=env)
    assert r.returncode != 0 and "Traceback" not in r.stderr


def test_doctor_shows_the_traceback_and_fails(run_module, env):
    r = run_module("plugins", "doctor", env=env)
    assert r.returncode == 1
    assert "ok     reader (dataos-reader 1.0) peek, reader-tools, format: pipes" in r.stdout
    assert "FAILED broken" in r.stdout and "Traceback" in r.stdout and "broken on purpose" in r.stdout
    assert "claimed by plugins dupa" in r.stdout


def test_info_names_what_a_plugin_adds(run_module, env):
    value = json.loads(ok(run_module("plugins", "info", "reader", "-o", "json", env=env)).stdout)
    assert value["commands"]["peek"].startswith("First rows") and value["formats"] == {"pipes": "a|b|c"}
    error_line(run_module("plugins", "info", "nope", env=env), "ENOENT", 5)


def test_no_plugins_turns_them_off(run_module, env):
    error_line(run_module("--no-plugins", "peek", "lake.hr.people", env=env), "ENOSYS", 8)
    error_line(run_module("peek", "lake.hr.people", env={**env, "DATAOS_NO_PLUGINS": "1"}), "ENOSYS", 8)


def test_a_plugin_reaches_only_what_its_user_may(run_module, env, lake):
    ok(run_module("user", "create", "plain", env=env))
    token = ok(run_module("user", "apikey", "create", "plain", env=env)).stdout.strip()
    as_plain = {**env, "DATAOS_TOKEN": token}
    for r in (run_module("peek", "lake.hr.people", env=as_plain),
              run_module("shell", "-c", "peek lake.hr.people", env=as_plain)):
        errors = [line for line in r.stderr.splitlines() if not line.startswith("warning:")]
        assert r.returncode == 5 and errors == ["error: ENOENT: unknown relation lake.hr.people"]


def test_new_writes_a_package_that_installs_and_works(run_module, tmp_path, env):
    r = ok(run_module("plugins", "new", "hello", "--dir", tmp_path, env=env))
    assert "pip install" in r.stdout
    pkg = tmp_path / "dataos-hello"
    assert (pkg / "pyproject.toml").exists() and (pkg / "src" / "dataos_hello" / "__init__.py").exists()
    error_line(run_module("plugins", "new", "hello", "--dir", tmp_path, env=env), "EEXIST", 6)
    error_line(run_module("plugins", "new", "Bad_Name", "--dir", tmp_path, env=env), "EINVAL", 2)
    site = tmp_path / "site"
    pip_install(site, pkg)
    with_hello = {"PYTHONPATH": str(site)}
    me = json.loads(ok(run_module("whoami", "-o", "json", env=with_hello)).stdout)["id"]
    assert ok(run_module("hello", env=with_hello)).stdout.strip() == f"Hello, {me}!"
    assert ok(run_module("shell", "-c", "hello -g Hi --shout", env=with_hello)).stdout.strip() == f"HI, {me.upper()}!"
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(pkg / "tests")],
                       env={**__import__("os").environ, "PYTHONPATH": str(site)}, capture_output=True, text=True,
                       timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
