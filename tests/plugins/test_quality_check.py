"""The quality plugin against a real in-process kernel: exact failure counts over a generated dataset
with known nulls, duplicates and strays; runs recorded in the catalog (and its history); `update`
needed to record, `select` to check at all; a user under a row filter checks only their rows; the
`quality` commands, palette, screen and `markdown` format as the host registers them."""
from __future__ import annotations

import json
import uuid
from typing import Any

import duckdb
import pytest

from plugins.quality import check as Q
from syscalls import SyscallError

RULES = ["not_null(email)", "unique(id)", "accepted_values(region, 'EU', 'US')", "between(amount, 0, 89)",
         r"matches(email, '^p[0-9]+@example\.com$')", "expression('amount >= 0 and region is not null')",
         "row_count(1, 50)", "unique(id, email)", "not_null(amount)"]
# rows i = 0..99: id = i but 5 for i >= 98 (2 extra copies of 5); email NULL when i % 10 = 3 and 'broken' when
# i % 10 = 7; region EU, US, APAC, NULL by i % 4; amount = i
EXPECTED = {"not_null(email)": 10, "unique(id)": 2, "accepted_values(region, 'EU', 'US')": 25,
            "between(amount, 0, 89)": 10, r"matches(email, '^p[0-9]+@example\.com$')": 10,
            "expression('amount >= 0 and region is not null')": 25, "row_count(1, 50)": 50,
            "unique(id, email)": 0, "not_null(amount)": 0}
SQL = ("SELECT CASE WHEN i >= 98 THEN 5 ELSE i END AS id, CASE i % 10 WHEN 3 THEN NULL WHEN 7 THEN 'broken' "
       "ELSE 'p' || i || '@example.com' END AS email, CASE i % 4 WHEN 0 THEN 'EU' WHEN 1 THEN 'US' WHEN 2 THEN 'APAC' "
       "END AS region, i AS amount FROM range(100) t(i)")


def uniq(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def lake(embedded, tmp_path_factory):
    """A scanned depot with crm.people; users: editor (select, update), reader (select), stranger
    (nothing), eu (select, update, and a row filter to region EU)."""
    k = embedded
    root = tmp_path_factory.mktemp("quality")
    (root / "crm").mkdir()
    duckdb.sql(f"COPY ({SQL}) TO '{root}/crm/people.parquet'")
    depot = uniq("qc")
    tag = {role: f"roles:id:{depot}-{role}" for role in ("editor", "reader", "stranger", "eu")}
    paths = [f"dataos://{depot}:crm/*"]
    k.op.resource.apply(manifests=[
        {"name": depot, "version": "v1", "type": "depot", "depot": {"type": "file", "file": {"path": str(root)}}},
        {"name": f"{depot}-select", "version": "v1", "type": "policy", "policy": {"access": {
            "subjects": {"tags": [[tag["editor"]], [tag["reader"]], [tag["eu"]]]}, "predicates": ["select"],
            "objects": {"paths": paths}}}},
        {"name": f"{depot}-update", "version": "v1", "type": "policy", "policy": {"access": {
            "subjects": {"tags": [[tag["editor"]], [tag["eu"]]]}, "predicates": ["update"], "objects": {"paths": paths}}}},
        {"name": f"{depot}-eu", "version": "v1", "type": "policy", "policy": {"data": {
            "type": "filter", "priority": 50, "dataset_id": f"{depot}.crm.people",
            "selector": {"user": {"match": "any", "tags": [tag["eu"]]}},
            "filters": [{"column": "region", "operator": "equals", "value": "EU"}]}}}])
    users = {}
    for role, role_tag in tag.items():
        name = uniq(role)
        k.op.user.create(name=name, tags=[role_tag])
        users[role] = k.make_client(k.op.user.apikey.create(user=name)["token"])
    for _ in k.op.catalog.scan(depot=depot):
        pass
    return root, depot, f"{depot}.crm.people", f"dataos://{depot}:crm/people", users


def quality_runs(k, udl: str) -> list[dict[str, Any]]:
    return [h for h in k.op.catalog.history(ref=udl) if h["aspect"] == "quality"]


def test_exact_failure_counts_in_one_pass(embedded, lake):
    _, _, table, udl, users = lake
    found = Q.run(users["editor"], table, RULES)
    assert found["dataset"] == udl and found["policies"] == []
    got = {r["rule"]: r["failed_rows"] for r in found["results"]}
    assert got == EXPECTED
    assert all(r["total_rows"] == 100 and r["passed"] == (EXPECTED[r["rule"]] == 0) for r in found["results"])
    assert next(r for r in found["results"] if r["rule"] == "unique(id, email)")["columns"] == ["id", "email"]


def test_a_check_is_recorded_and_shown_in_the_catalog_and_its_history(embedded, lake):
    _, _, table, udl, users = lake
    before = len(quality_runs(embedded, udl))
    found = Q.check(users["editor"], table, ["not_null(amount)", "unique(id)"])
    assert found["recorded"] and (found["passed"], found["failed"]) == (1, 1)
    run = embedded.op.catalog.get(ref=udl)["aspects"]["quality"]
    assert run["by"] == users["editor"].auth.whoami()["id"] and run["filtered"] == []
    assert [(r["rule"], r["passed"], r["failed_rows"], r["total_rows"]) for r in run["results"]] == [
        ("not_null(amount)", True, 0, 100), ("unique(id)", False, 2, 100)]
    runs = quality_runs(embedded, udl)
    assert len(runs) == before + 1 and runs[-1]["changes"] == ["quality check: 1 passed, 1 failed (unique(id))"]
    assert Q.last(users["reader"], udl)["results"][1]["failed_rows"] == 2  # whoever sees the dataset sees it
    Q.check(users["editor"], table, ["not_null(amount)"], save=False)
    assert len(quality_runs(embedded, udl)) == before + 1  # --no-record


def test_recording_takes_update_and_nothing_is_recorded_without_it(embedded, lake):
    _, _, table, udl, users = lake
    before = quality_runs(embedded, udl)
    assert Q.check(users["reader"], table, ["unique(id)"], save=False)["failed"] == 1  # checking is reading
    with pytest.raises(SyscallError) as caught:
        Q.check(users["reader"], table, ["unique(id)"])
    assert caught.value.code == "EACCES" and "update" in caught.value.message
    assert quality_runs(embedded, udl) == before


def test_a_user_who_cannot_read_the_data_cannot_check_it(embedded, lake):
    _, _, table, udl, users = lake
    before = quality_runs(embedded, udl)
    with pytest.raises(SyscallError) as caught:
        Q.check(users["stranger"], table, ["not_null(email)"])
    assert caught.value.code == "ENOENT"  # data they may not select is unknown to them, as if it did not exist
    assert quality_runs(embedded, udl) == before


def test_a_row_filtered_user_checks_only_the_rows_they_can_see(embedded, lake):
    root, depot, table, udl, users = lake
    found = Q.check(users["eu"], table, RULES)
    assert found["policies"] == [f"{depot}-eu"]
    eu = f"(SELECT * FROM '{root}/crm/people.parquet' WHERE region = 'EU')"
    total, nulls, broken, over = duckdb.sql(
        f"SELECT count(*), count(*) FILTER (WHERE email IS NULL), count(*) FILTER (WHERE email = 'broken'), "
        f"count(*) FILTER (WHERE amount > 89) FROM {eu}").fetchone()
    got = {r["rule"]: (r["failed_rows"], r["total_rows"]) for r in found["results"]}
    assert total == 25 and got["not_null(email)"] == (nulls, 25) and got["between(amount, 0, 89)"] == (over, 25)
    assert got[r"matches(email, '^p[0-9]+@example\.com$')"] == (broken, 25)
    assert got["accepted_values(region, 'EU', 'US')"] == (0, 25) and got["row_count(1, 50)"] == (0, 25)
    run = embedded.op.catalog.get(ref=udl)["aspects"]["quality"]
    assert run["filtered"] == [f"{depot}-eu"] and run["by"] == users["eu"].auth.whoami()["id"]
    shown = Q.last(users["eu"], udl)  # under the filter, the recorded counts are hidden even from its runner
    assert all(r["failed_rows"] is None for r in shown["results"])


def test_a_rule_over_a_masked_column_says_so(embedded, lake):
    _, _, table, udl, users = lake
    embedded.op.catalog.tag(ref=udl + "#email", tag="PII.Email")
    try:
        found = Q.run(users["editor"], table, ["not_null(email)", "unique(id)"])
    finally:
        embedded.op.catalog.tag(ref=udl + "#email", tag="PII.Email", remove=True)
    assert "checked on masked values: email (hash)" in found["results"][0]["detail"]
    assert "masked" not in found["results"][1]["detail"] and "pii-email" in found["policies"]


def test_bad_rules_and_names_fail_before_anything_is_recorded(embedded, lake):
    _, _, table, udl, users = lake
    before = quality_runs(embedded, udl)
    for rules, contains in [(["not_null(id)", "not_null(nope)"], "rule 2: not_null(nope): no column 'nope'"),
                            (["unique(id)", "between(id, 'a', 'b')", "not_null(id)"], "rule 2"),
                            (["matches(email, '(')"], "rule 1")]:
        with pytest.raises(SyscallError) as caught:
            Q.check(users["editor"], table, rules)
        assert caught.value.code == "EINVAL" and contains in caught.value.message, caught.value.message
    with pytest.raises(SyscallError) as caught:
        Q.check(users["editor"], table.replace("people", "nobody"), ["not_null(id)"])
    assert caught.value.code in ("ENOENT", "EACCES")
    assert quality_runs(embedded, udl) == before


# --- what the plugin registers with the host ------------------------------------------------------

class FakeHost:
    """The host API of version 1 (plugins/host.py), with the client of a test user."""
    api_version = 1

    def __init__(self, client: Any) -> None:
        self._client = client
        self.groups: dict[str, Any] = {}
        self.palettes: list[tuple[str, Any]] = []
        self.screens: dict[str, tuple[str, Any]] = {}
        self.formats: dict[str, Any] = {}

    def group(self, name: str, *, help: str | None = None) -> Any:
        import typer
        self.groups[name] = typer.Typer(name=name, help=help, no_args_is_help=True, add_completion=False,
                                        pretty_exceptions_enable=False)
        return self.groups[name]

    def command(self, name: str | None = None, *, help: str | None = None) -> Any:
        raise AssertionError("the quality plugin registers a group")

    def palette(self, title: str, *, help: str = "") -> Any:
        return lambda fn: self.palettes.append((title, fn)) or fn

    def screen(self, name: str, *, title: str) -> Any:
        return lambda fn: self.screens.setdefault(name, (title, fn)) and fn

    def output_format(self, name: str, *, help: str = "") -> Any:
        return lambda fn: self.formats.setdefault(name, fn) and fn

    def client(self) -> Any:
        return self._client


def registered(client: Any) -> FakeHost:
    import plugins.quality
    host = FakeHost(client)
    plugins.quality.register(host)
    return host


def cli(host: FakeHost, *args: str):
    from typer.testing import CliRunner
    return CliRunner().invoke(host.groups["quality"], list(args), env={"NO_COLOR": "1", "DATAOS_NO_PAGER": "1"})


def test_the_cli_check_and_show(embedded, lake):
    _, _, table, udl, users = lake
    host = registered(users["editor"])
    r = cli(host, "check", table, "--rule", "not_null(amount)", "--rule", "unique(id)")
    assert r.exit_code == 1, r.output  # a rule failed
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["RULE", "STATUS", "FAILED", "ROWS"]
    assert lines[1].split() == ["not_null(amount)", "pass", "0", "100"] and lines[2].split() == ["unique(id)", "FAIL", "2", "100"]
    assert "1 passed, 1 failed" in r.stderr and "recorded in the catalog" in r.stderr
    r = cli(host, "check", udl, "-r", "not_null(amount)", "--no-record", "-o", "json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["recorded"] is False and out["results"][0]["failed_rows"] == 0 and out["dataset"] == udl
    r = cli(host, "show", table)
    assert r.exit_code == 0 and "unique(id)" in r.stdout and "FAIL" in r.stdout and "checked" in r.stdout
    assert json.loads(cli(host, "show", table, "-o", "json").stdout)["results"][1]["rule"] == "unique(id)"
    r = cli(host, "check", table, "--rule", "nonsense")
    assert r.exit_code != 0 and isinstance(r.exception, SyscallError) and r.exception.code == "EINVAL"


def test_palette_screen_and_markdown_are_registered(embedded, lake):
    import asyncio

    from plugins.quality.screen import QualityScreen
    _, _, table, udl, users = lake
    Q.check(users["editor"], table, ["unique(id)"])
    host = registered(embedded.op)
    assert [t for t, _ in host.palettes] == ["Quality: check this dataset"]
    assert host.screens["quality"][0] == "Data quality" and isinstance(host.screens["quality"][1](), QualityScreen)

    class Page:
        urn = udl

    class Screen:
        def query_one(self, selector: str) -> Page:
            assert selector == "#page"
            return Page()

    class Link:
        async def call(self, name: str, **request: Any) -> Any:
            return users["editor"].call(name, request)

    class App:  # what the palette hands a plugin: the Textual app, here with Atlas's page open
        screen, link, notes, pushed = Screen(), Link(), [], []

        def notify(self, text: str, **kw: Any) -> None:
            self.notes.append(text)

        def push_screen(self, screen: Any) -> None:
            self.pushed.append(screen)

    app = App()
    asyncio.run(host.palettes[0][1](app))
    assert app.notes == [f"{udl}: last check 0 passed, 1 failed"]
    assert isinstance(app.pushed[0], QualityScreen) and app.pushed[0].initial == udl
    md = host.formats["markdown"](["a", "b|c"], [[1, None], ["x\ny", "p|q"]])
    assert md.splitlines() == ["| a | b\\|c |", "| --- | --- |", "| 1 |  |", "| x<br>y | p\\|q |"]


def test_the_screen_shows_the_last_run_and_runs_a_check(embedded, lake):
    import asyncio

    from textual.app import App
    from textual.widgets import DataTable, Input, Static, TextArea

    from plugins.quality.screen import QualityScreen
    _, _, table, udl, users = lake
    client = users["editor"]

    class Link:
        def __init__(self) -> None:
            self.client = client

    class Host(App):
        readonly = False

        def __init__(self) -> None:
            super().__init__()
            self.link = Link()

        def on_mount(self) -> None:
            self.push_screen(QualityScreen())

    async def scenario() -> None:
        app = Host()
        async with app.run_test() as pilot:
            screen = app.screen
            screen.query_one("#quality-dataset", Input).value = table
            screen.query_one("#quality-rules", TextArea).text = "unique(id)\nnot_null(amount)\n"
            await pilot.press("ctrl+r")
            for _ in range(200):
                await pilot.pause(0.05)
                if "passed" in str(screen.query_one("#quality-status", Static).render()):
                    break
            grid = screen.query_one(DataTable)
            assert grid.row_count == 2
            assert "1 passed, 1 failed" in str(screen.query_one("#quality-status", Static).render())
            app.push_screen(QualityScreen(udl))  # opened on a dataset: its last recorded run
            await pilot.pause(0.05)
            shown = app.screen
            for _ in range(200):
                await pilot.pause(0.05)
                if "checked at" in str(shown.query_one("#quality-status", Static).render()):
                    break
            assert shown.query_one(DataTable).row_count == 2 and shown is not screen

    asyncio.run(scenario())
    assert Q.last(client, udl)["results"][0]["rule"] == "unique(id)"
