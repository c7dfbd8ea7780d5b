"""SQL errors that help without telling: a syntax error points at its token with a caret; an unknown
column keeps the engine's candidates, an unknown dataset gets a "did you mean" — both drawn only from
what the caller may see. A dataset the caller may not select is answered exactly as one that does not
exist, so neither the code nor a hint reveals that it is there."""
from __future__ import annotations

import pytest
from clitools import as_json, error_line, no_traceback, ok
from govkit import governed_lake

from kernel.gateway.errors import visible_candidates
from syscalls.errors import SyscallError


@pytest.fixture(scope="module")
def lake(run_module, tmp_path_factory):
    return governed_lake(run_module, tmp_path_factory.mktemp("lake"))


def refused(r, code: str, exit_code: int) -> list[str]:
    assert r.returncode == exit_code, r.stderr
    no_traceback(r)
    lines = r.stderr.splitlines()
    assert lines[0].startswith(f"error: {code}: "), lines
    return lines


def test_a_syntax_error_draws_a_caret_under_its_token(lake):
    sql = "select id, email\nfrom lake.shop.orders\nwhere id = = 3"
    lines = refused(lake.as_("ana", "query", sql), "EINVAL", 2)
    assert lines == ["error: EINVAL: syntax error at line 3, column 12", "  where id = = 3", "             ^"]


def test_the_shell_draws_the_same_caret(lake):
    sql = "select id from lake.shop.orders where id = = 2;"
    lines = refused(lake.as_("ana", "shell", "-c", sql), "EINVAL", 2)
    assert lines[1:] == [f"  {sql}", " " * (2 + sql.index("= =") + 2) + "^"]  # under the second `=`


def test_an_unknown_column_names_the_candidates(lake):
    line = error_line(lake.as_("ana", "query", "select emial from lake.shop.orders"), "EINVAL", 2)
    assert "emial" in line and "candidates: email" in line


def test_an_unknown_dataset_is_enoent_with_the_nearest_name(lake):
    line = error_line(lake.as_("ana", "query", "select * from lake.shop.order"), "ENOENT", 5)
    assert line == "error: ENOENT: unknown relation lake.shop.order (did you mean lake.shop.orders?)"
    line = error_line(lake.as_("ana", "query", "select * from ordrs", "--depot", "lake", "--collection", "shop"),
                      "ENOENT", 5)
    assert line.endswith("(did you mean orders?)")
    line = error_line(lake.as_("ana", "query", 'select * from lake.shop."x/y"'), "ENOENT", 5)
    assert line == "error: ENOENT: unknown relation lake.shop.(quoted name)"  # nothing near: no hint


def test_a_hidden_dataset_is_answered_as_a_missing_one(lake):
    """Attack: ana may not select lake.hr.salaries; bob may select nothing. Probing names near it, or
    it, must not reveal it (code, message, hint), nor suggest anything the prober cannot read."""
    for user in ("ana", "bob"):
        hidden = error_line(lake.as_(user, "query", "select * from lake.hr.salaries"), "ENOENT", 5)
        assert hidden == "error: ENOENT: unknown relation lake.hr.salaries"
        near = error_line(lake.as_(user, "query", "select * from lake.hr.salarie"), "ENOENT", 5)
        assert near == "error: ENOENT: unknown relation lake.hr.salarie"
    assert error_line(lake.as_("bob", "query", "select * from lake.shop.order"), "ENOENT", 5) == \
        "error: ENOENT: unknown relation lake.shop.order"  # bob may not select orders: no hint of it
    assert "(did you mean lake.hr.salaries?)" in error_line(lake.as_("op", "query", "select * from lake.hr.salarie"),
                                                            "ENOENT", 5)
    denial = as_json(lake.as_("op", "audit", "--user", "bob", "--syscall", "query.execute", "--limit", "1",
                              "-o", "json"))[0]  # the operator's audit still shows the denial
    assert (denial["object"], denial["decision"], denial["errno"]) == ("dataos://lake:shop/order", "deny", "ENOENT")


def test_the_candidates_never_name_a_hidden_column(lake):
    """Attack: a column of a dataset the caller may not select is never offered as a candidate."""
    r = lake.as_("ana", "query", "select secret_bonu from lake.shop.orders")
    assert "secret_bonus" not in r.stderr and "salaries" not in r.stderr
    error_line(r, "EINVAL", 2)


def test_candidates_the_user_cannot_see_are_dropped():
    """What the engine offers is filtered: names of the governed rewrite (its source alias, the engine's
    views) and columns not in the datasets read nor written in the query never reach the user."""
    engine = SyscallError("EINVAL", 'the engine refused the query: BinderException: Referenced column "emial" '
                                    "not found in FROM clause!")
    engine.candidates = ("gw_source.ssn", "dataos://lake:hr/salaries.secret_bonus", "hidden", "o.email", "email")
    error = visible_candidates(engine, "select emial from lake.shop.orders o", "duckdb", lambda: ["id", "email"])
    assert error.message.endswith("(candidates: o.email, email)")
    assert "ssn" not in error.message and "hidden" not in error.message and "secret" not in error.message
    engine.candidates = ("gw_source",)
    assert visible_candidates(engine, "select x", "duckdb", list).message == engine.message


def test_one_row_says_one_row_and_aggregates_get_readable_headers(lake):
    r = ok(lake.as_("op", "query", "select count(*), sum(amount), max(id) + 1 from lake.shop.orders"))
    assert r.stdout.splitlines()[0].split() == ["count(*)", "sum(amount)", "max(id)", "+", "1"]
    assert "1 row in" in r.stderr and "1 rows" not in r.stderr
    aliased = ok(lake.as_("op", "query", "select count(*) as n from lake.shop.orders", "-o", "json"))
    assert '"name": "n"' in aliased.stdout


# --- the planner itself (no kernel) -------------------------------------------------------------

SELECTABLE = ["hr.people.employees", "hr.people.departments", "shop.sales.orders"]  # not hr.secret.payroll


@pytest.mark.parametrize("sql, message", [
    ("SELECT * FROM employes", "unknown relation employes (did you mean employees?)"),
    ("SELECT * FROM sales.order", "unknown relation sales.order (did you mean shop.sales.orders?)"),
    ("SELECT * FROM hr.secret.payroll", "unknown relation hr.secret.payroll"),
    ("SELECT * FROM hr.secret.payrol", "unknown relation hr.secret.payrol"),
    ("DESCRIBE hr.secret.payroll", "unknown relation hr.secret.payroll"),
    ("SELECT * FROM payroll", "unknown relation payroll"),
])
def test_did_you_mean_offers_only_selectable_datasets(world, sql, message):
    error = world.refusal(sql, known=lambda: SELECTABLE)
    assert (error.code, error.message) == ("ENOENT", message)


def test_the_position_is_the_first_column_of_the_token(world):
    assert world.refusal("SELECT id FROM employees WHERE id = = 1").position == (1, 37)
    assert world.refusal("SELECT id FROM employees\nWHERE id = = 1").position == (2, 12)
