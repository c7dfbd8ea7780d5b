"""Attacks on the meta commands (DESCRIBE, SHOW TABLES, SUMMARIZE, \\d) and on the friendlier SQL
errors (did you mean, candidate bindings, readable headers), as an ordinary user: none may tell a
hidden dataset from a missing one, read a masked column's raw value or a filtered-out row, or name
an internal of the governed rewrite. Each test asserts the safe behaviour."""
from __future__ import annotations

import json

import duckdb
import pytest
from clitools import as_json, error_line, ok
from govkit import governed_lake

from kernel.gateway.errors import visible_candidates
from kernel.minerva.duckdb_engine import candidate_bindings
from syscalls.errors import SyscallError

SELECTABLE = ["hr.people.employees", "hr.people.departments", "shop.sales.orders"]  # not hr.secret.payroll
INTERNALS = ("gw_source", "gw_keyed_hash", "dataos://", "memory", "temp.main")
META = ["DESCRIBE {}", "desc {}", "DESC TABLE {}", "describe {};", "SHOW COLUMNS FROM {}", "show columns in {}",
        "SUMMARIZE {}", "summarize table {}", "\\d {}", "\\d+ {}"]


def engine_message(world, sql: str, **overrides) -> str:
    """What the service would tell the user when the engine refuses the governed `sql` ("" if it runs)."""
    governed = world.plan(sql, **overrides)
    try:
        world.con.execute(governed.sql).fetchall()
    except duckdb.Error as e:
        refused = SyscallError("EINVAL", f"the engine refused the query: {type(e).__name__}: {str(e).splitlines()[0]}")
        refused.candidates = candidate_bindings(str(e))
        columns = [c for d in world.datasets.values() if d.address in governed.datasets for c in d.columns]
        return visible_candidates(refused, sql, "duckdb", lambda: columns).message
    return ""  # it ran: no message


def refusal(world, sql: str, **overrides) -> tuple[str, str]:
    error = world.refusal(sql, known=lambda: SELECTABLE, **overrides)
    return error.code, error.message


# --- a hidden dataset is indistinguishable from a missing one ------------------------------------

@pytest.mark.parametrize("command", META)
@pytest.mark.parametrize("hidden, missing", [
    ("hr.secret.payroll", "hr.secret.payrolx"),
    ('"hr"."secret"."payroll"', '"hr"."secret"."payrolx"'),
    ("HR.SECRET.PAYROLL", "HR.SECRET.PAYROLX"),  # case variants: the resolver folds case, the check must too
    ('"HR"."Secret"."Payroll"', '"HR"."Secret"."Payrolx"'),
    ("secret.payroll", "secret.payrolx"),  # two parts, depot from the default
])
def test_meta_commands_answer_a_hidden_dataset_as_a_missing_one(world, command, hidden, missing):
    code, message = refusal(world, command.format(hidden))
    assert (code, "did you mean" in message) == ("ENOENT", False)
    unhide = message.replace("payroll", "payrolx").replace("Payroll", "Payrolx").replace("PAYROLL", "PAYROLX")
    assert (code, unhide) == refusal(world, command.format(missing))


@pytest.mark.parametrize("command", ["DESCRIBE payroll", "SUMMARIZE payroll", "\\d payroll", "select * from payroll",
                                     "select * from payrol"])
def test_the_current_collection_does_not_unhide_a_dataset(world, command):
    code, message = refusal(world, command, default_collection="secret")
    assert code == "ENOENT" and "did you mean" not in message


@pytest.mark.parametrize("name", ['temp.main."dataos://hr:secret/payroll"', '"dataos://hr:secret/payroll"',
                                  "memory.main.employees", "gw_source", "hr.secret.payroll.id"])
def test_engine_names_are_no_way_around_the_catalog(world, name):
    for command in ("DESCRIBE {}", "SUMMARIZE {}"):
        code, message = refusal(world, command.format(name))
        assert code in ("ENOENT", "EINVAL") and "payroll" not in message.replace(name, "") and "id" not in message.split()


# --- meta commands take one dataset name and nothing else ----------------------------------------

@pytest.mark.parametrize("sql", [
    "DESCRIBE employees; select * from employees", "DESCRIBE employees; hr.secret.payroll",
    "DESCRIBE employees, payroll", "SUMMARIZE (select * from employees)", "SUMMARIZE select ssn from employees",
    "SUMMARIZE employees WHERE region = 'US'", "SHOW COLUMNS FROM employees WHERE 1=1", "SUMMARIZE employees e",
    "SUMMARIZE read_parquet('/etc/passwd')", "DESCRIBE 'orders.parquet'", "SUMMARIZE employees TABLESAMPLE (1 ROWS)",
    "describe employees at (version => 1)", "SUMMARIZE employees /* x */ UNION SELECT * FROM employees",
    "SUMMARIZE employees -- x\n; select 1", "SUMMARIZE\u00a0employees UNION select 1",
])
def test_a_meta_command_with_anything_but_a_name_is_refused(world, sql):
    assert refusal(world, sql)[0] in ("EINVAL", "EACCES", "ENOENT")


@pytest.mark.parametrize("sql", ["SHOW TABLES", "\\dt", "DESCRIBE employees", "SUMMARIZE employees",
                                 "select 1"])
def test_a_meta_command_refuses_an_unknown_dialect_as_a_query_does(world, sql):
    for dialect in ("nosuch", "duckdb, normalization_strategy = case_insensitive"):
        error = world.refusal(sql, dialect=dialect)
        assert (error.code, error.field) == ("EINVAL", "dialect"), error.message


def test_a_very_long_name_is_refused_without_echoing_it(world):
    name = "x" * 100_000
    code, message = refusal(world, f"DESCRIBE {name}")
    assert code in ("ENOENT", "EINVAL") and len(message) < 100_100  # one line, no crash


# --- SUMMARIZE sees masked values and filtered rows only ------------------------------------------

def test_summarize_never_shows_a_raw_value_or_a_filtered_row(world):
    rows = world.run("SUMMARIZE employees")
    assert world.leaks(rows) == []
    summary = {r[0]: r for r in rows}
    eu = sum(1 for e in world.EMPLOYEES if e[7] == "EU")
    assert {r[10] for r in rows} == {eu}  # count: the filtered rows only
    assert summary["region"][2:4] == ("EU", "EU")
    salary = summary["salary"]  # redacted: no min/max/avg/std/quantile of the raw salary
    assert salary[2:4] + salary[5:10] == (None,) * 7 and salary[4] == 0
    raw_ages = {str(e[6]) for e in world.EMPLOYEES}
    assert not {summary["age"][2], summary["age"][3]} & (raw_ages - {"18", "30", "50"})  # buckets only
    assert set(summary["ssn"][2]) <= set("X-")
    us_ids = {str(e[0]) for e in world.EMPLOYEES if e[7] != "EU"}
    assert summary["id"][3] not in us_ids or summary["id"][3] == str(max(e[0] for e in world.EMPLOYEES if e[7] == "EU"))


@pytest.mark.parametrize("name", ["departments", "shop.sales.orders"])
def test_summarize_of_other_datasets_leaks_nothing(world, name):
    assert world.leaks(world.run(f"SUMMARIZE {name}")) == []


def test_describe_of_a_dataset_shows_types_and_masks_never_values(world):
    rows = world.run("DESCRIBE employees")
    assert world.leaks(rows) == [] and [r[0] for r in rows] == list(world.datasets["hr", "people", "employees"].columns)
    assert {r[0]: r[2] for r in rows}["salary"] == "redact"


# --- error text: candidate bindings, values, internals --------------------------------------------

@pytest.mark.parametrize("sql", [
    "select emial from employees", "select e.ssnn from employees e", "select employees.salry from employees",
    "select gw_sourc.ssn from employees", "select source.ssn from employees", "select main.employees.ssn",
    "select secret_bonus from employees", "select payroll.id from employees",
    "select ssn2 from employees, departments", "select x from (select ssn from employees) t",
    "select (select emial) from employees", "select e.emial from employees e join departments d on e.dept_id = d.id",
    "select count(*) from employees group by emial", "select * from employees order by emial",
    "select * from employees where exists (select 1 from departments where manager_emial = email)",
])
def test_engine_errors_name_no_internal_hidden_or_raw_thing(world, sql):
    message = engine_message(world, sql)
    assert message and world.leaks(message) == []
    assert not any(internal in message for internal in INTERNALS), message
    assert "employees." not in message or "employees" in sql


@pytest.mark.parametrize("sql", [
    "select cast(name as int) from employees", "select cast(email as int) from employees",
    "select cast(codename as int) from employees where region = 'US'", "select codename::int from employees",
    "select cast(ssn as date) from employees", "select cast(phone as int) from employees",
    "select cast(manager_email as int) from departments", "select cast(card as int) from shop.sales.orders",
    "select cast(dob::varchar || 'x' as date) from employees", ("select cast(codename as int) from employees "
                                                               "where id in (select id from employees where region <> 'EU')"),
])
def test_conversion_errors_show_masked_values_only(world, sql):
    message = engine_message(world, sql)
    assert world.leaks(message) == [], message
    assert not any(e[9] in message for e in world.EMPLOYEES if e[7] != "EU"), message


# --- readable headers ----------------------------------------------------------------------------

@pytest.mark.parametrize("sql", [
    "select count(*), ssn from employees group by ssn order by ssn",
    "select max(ssn), min(name), max(email) from employees",
    'select ssn || \'\' from employees order by "ssn || \'\'"',
    "select upper(name), lower(name) from employees order by 1",
    "select (ssn), (name) from employees",
    'select count(*), "count(*)" from (select count(*) from employees)',
    "select count(*) as ssn, max(ssn) from employees",
    "select max(codename) from employees",
    "select max(ssn) from employees union all select max(name) from employees",
])
def test_readable_headers_never_reach_a_raw_column(world, sql):
    governed = world.plan(sql)
    result = world.con.execute(governed.sql)
    headers = [d[0] for d in result.description]
    assert world.leaks(result.fetchall()) == [] and world.leaks(headers) == []
    assert not any(internal in h for h in headers for internal in INTERNALS)


@pytest.mark.parametrize("alias", ["gw_source", "GW_SOURCE", "gw_keyed_hash", '"dataos://hr:secret/payroll"'])
def test_an_alias_named_like_an_internal_is_refused(world, alias):
    assert world.refusal(f"select count(*) as {alias} from employees").code == "EACCES"
    assert world.refusal(f"select ssn from employees order by {alias}").code in ("EACCES", "ENOENT")


# --- end to end, through the kernel: the audit and the catalog's hints ------------------------------

@pytest.fixture(scope="module")
def lake(run_module, tmp_path_factory):
    return governed_lake(run_module, tmp_path_factory.mktemp("lake"))


def last_query_audit(lake, user):
    return as_json(lake.as_("op", "audit", "--user", user, "--syscall", "query.execute", "--limit", "1",
                            "-o", "json"))[0]


@pytest.mark.parametrize("hidden, missing, where", [
    ("lake.hr.salaries", "lake.hr.salariex", ()),
    ('"lake"."hr"."salaries"', '"lake"."hr"."salariex"', ()),
    ("lake.HR.salaries", "lake.HR.salariex", ()),
    ("LAKE.HR.SALARIES", "LAKE.HR.SALARIEX", ()),
    ('lake.shop."../hr/salaries"', 'lake.shop."../hr/salariex"', ()),
    ('lake."shop/../hr".salaries', 'lake."shop/../hr".salariex', ()),
    ("salaries", "salariex", ("--depot", "lake", "--collection", "hr")),
    ("hr.salaries", "hr.salariex", ("--depot", "lake")),
])
def test_a_hidden_dataset_is_unknown_through_every_door(lake, hidden, missing, where):
    for sql in ("DESCRIBE {}", "SUMMARIZE {}", "\\d {}", "select * from {}", "select secret_bonus from {}"):
        seen = error_line(lake.as_("ana", "query", sql.format(hidden), *where), "ENOENT", 5)
        unseen = error_line(lake.as_("ana", "query", sql.format(missing), *where), "ENOENT", 5)
        assert seen.replace("salaries", "salariex").replace("SALARIES", "SALARIEX") == unseen
        assert "did you mean" not in seen


def test_show_tables_never_lists_a_hidden_dataset(lake):
    for sql, expected in (("SHOW TABLES", []), ("\\dt", []), ("\\d+", []), ("SHOW ALL TABLES", [["lake.shop.orders"]])):
        r = as_json(lake.as_("ana", "query", sql, "--depot", "lake", "--collection", "hr", "-o", "json"))
        assert r["rows"] == expected, sql
        assert as_json(lake.as_("bob", "query", sql, "-o", "json"))["rows"] == [], sql


def test_did_you_mean_never_offers_a_hidden_dataset(lake):
    for sql, where in (("select * from salarie", ("--depot", "lake", "--collection", "hr")),
                       ("select * from lake.hr.salary", ()), ("DESCRIBE hr.salarie", ("--depot", "lake")),
                       ("select * from lake.shop.salaries", ()), ("SUMMARIZE lake.hr.salaries_", ())):
        line = error_line(lake.as_("ana", "query", sql, *where), "ENOENT", 5)
        assert "did you mean" not in line, (sql, line)


def test_the_audit_records_a_meta_commands_denial(lake):
    error_line(lake.as_("ana", "query", "DESCRIBE lake.hr.salaries"), "ENOENT", 5)
    entry = last_query_audit(lake, "ana")
    assert (entry["object"], entry["decision"], entry["errno"]) == ("dataos://lake:hr/salaries", "deny", "ENOENT")
    error_line(lake.as_("ana", "query", "SUMMARIZE salaries", "--depot", "lake", "--collection", "hr"), "ENOENT", 5)
    entry = last_query_audit(lake, "ana")
    assert (entry["object"], entry["decision"], entry["errno"]) == ("dataos://lake:hr/salaries", "deny", "ENOENT")


@pytest.mark.parametrize("sql", ["select * from lake.shop.nosuch", "DESCRIBE lake.shop.nosuch",
                                 "SUMMARIZE lake.shop.nosuch"])
def test_the_audit_blames_the_relation_asked_for_not_a_did_you_mean_candidate(lake, sql):
    """ana may select lake:shop/*; `lake.shop.nosuch` is simply missing. The audit must not record a
    denial of lake:hr/salaries, which ana never asked for (it was only screened out of "did you mean")."""
    error_line(lake.as_("ana", "query", sql), "ENOENT", 5)
    entry = last_query_audit(lake, "ana")
    assert entry["object"] != "dataos://lake:hr/salaries", entry


def test_a_successful_show_tables_is_not_audited_as_a_denial(lake):
    ok(lake.as_("bob", "query", "SHOW TABLES"))
    entry = last_query_audit(lake, "bob")
    assert (entry["decision"], entry["errno"]) == ("allow", None), entry


def test_the_audit_records_bobs_denied_describe(lake):
    error_line(lake.as_("bob", "query", "\\d lake.shop.orders"), "ENOENT", 5)
    entry = last_query_audit(lake, "bob")
    assert (entry["object"], entry["decision"], entry["errno"]) == ("dataos://lake:shop/orders", "deny", "ENOENT")


@pytest.mark.parametrize("dialect, hidden, missing", [
    ("tsql", "[lake].[hr].[salaries]", "[lake].[hr].[salariex]"),
    ("bigquery", "`lake.hr.salaries`", "`lake.hr.salariex`"),
    ("bigquery", "`lake`.`hr`.`salaries`", "`lake`.`hr`.`salariex`"),
    ("mysql", "`lake`.`hr`.`salaries`", "`lake`.`hr`.`salariex`"),
    ("postgres", '"lake"."hr"."salaries"', '"lake"."hr"."salariex"'),
])
def test_other_dialects_quote_no_way_to_a_hidden_dataset(lake, dialect, hidden, missing):
    for sql in ("DESCRIBE {}", "SUMMARIZE {}", "select * from {}"):
        seen = lake.as_("ana", "query", sql.format(hidden), "--dialect", dialect)
        unseen = lake.as_("ana", "query", sql.format(missing), "--dialect", dialect)
        assert seen.returncode == unseen.returncode != 0
        assert seen.stderr.replace("salaries", "salariex") == unseen.stderr
        assert "secret_bonus" not in seen.stdout + seen.stderr


@pytest.mark.parametrize("command", ["\\d {}", "DESCRIBE {};", "summarize {}", "select secret_bonus from {}"])
def test_the_shell_hides_the_dataset_too(lake, command):
    seen = lake.as_("ana", "shell", "-c", command.format("lake.hr.salaries"))
    unseen = lake.as_("ana", "shell", "-c", command.format("lake.hr.salariex"))
    assert seen.returncode == unseen.returncode == 5
    assert seen.stderr.replace("salaries", "salariex") == unseen.stderr
    assert "secret_bonus" not in seen.stdout + seen.stderr.replace(command.format(""), "")
    tables = ok(lake.as_("ana", "shell", "-c", "\\dt; show all tables;")).stdout
    assert "salaries" not in tables


def test_describe_is_held_to_the_clusters_depots_like_a_query(lake, tmp_path):
    """A cluster serving only other depots refuses a query on lake; DESCRIBE/SHOW TABLES of lake there
    should be refused alike (the meta answer reads no dataset, so the check never runs)."""
    manifest = tmp_path / "cluster.json"
    manifest.write_text(json.dumps({"name": "elsewhere-only", "version": "v1", "type": "cluster",
                                    "workspace": "public", "cluster": {"type": "duckdb", "depots": [
                                        {"address": "dataos://elsewhere"}]}}))
    ok(lake.as_("op", "apply", "-f", str(manifest)))
    query = error_line(lake.as_("op", "query", "select * from lake.shop.orders", "--cluster", "elsewhere-only"),
                       "EINVAL", 2)
    assert "not attached to cluster" in query
    describe = lake.as_("op", "query", "DESCRIBE lake.shop.orders", "--cluster", "elsewhere-only")
    assert describe.returncode == 2 and "not attached to cluster" in describe.stderr


def test_end_to_end_errors_and_headers_leak_no_email(lake):
    for sql in ("select cast(email as int) from lake.shop.orders",
                "select cast(email as int) from lake.shop.orders where region = 'US'",
                "select emial from lake.shop.orders", "select max(email), count(*) from lake.shop.orders",
                "select count(*), email from lake.shop.orders group by email order by email",
                "SUMMARIZE lake.shop.orders"):
        r = lake.as_("ana", "query", sql, "-o", "json")
        assert "@example.com" not in r.stdout + r.stderr, sql
    us = as_json(lake.as_("ana", "query", "select count(*) from lake.shop.orders where region = 'US'", "-o", "json"))
    assert us["rows"] == [[0]]
