"""A third attack pass on the Gateway: governed tables that select only the columns a query names
(`plan._used_names`), and policy subqueries' names bound inside them (`plan._bound_inside`).
Each test fails while the leak or wrong answer it names is open.
"""
from __future__ import annotations

import pytest
import test_barrier_attacks as attacks

from kernel.gateway import Dataset, parse_data_policy

vault = attacks.vault  # the attack tests' fixture: the vault table, its hidden row, the engine's views
EXTRA = Dataset("lab", "vault", "extra", {"override": "BOOLEAN"})
CLOCK = Dataset("lab", "vault", "clock", {"id": "INTEGER", "region": "VARCHAR", "current_date": "VARCHAR"})


@pytest.mark.parametrize("expression", [
    "region = 'EU' OR EXISTS (SELECT 1 FROM lab.vault.allowed q WHERE q.id < 0) "
    "OR EXISTS (SELECT 1 FROM lab.vault.allowed b WHERE q.id = 5)",
    "region = 'EU' OR EXISTS (SELECT 1 FROM lab.vault.allowed b WHERE q.id = 5 "
    "AND EXISTS (SELECT 1 FROM lab.vault.allowed q))",
    "region = 'EU' OR EXISTS (SELECT 1 FROM lab.vault.extra WHERE override AND FALSE) "
    "OR EXISTS (SELECT 1 FROM lab.vault.allowed WHERE override)",
    "region = 'EU' OR EXISTS (SELECT 1 FROM lab.vault.allowed AS q(x) WHERE q.id = 5)",
], ids=["alias of a sibling subquery", "alias of a nested subquery", "column of a sibling subquery's table",
        "alias renaming its columns"])
def test_a_policy_alias_out_of_its_scope_binds_to_the_users_query(vault, expression):
    # _bound_inside checks q.id (override) against every alias (table) the filter's subqueries read, whatever
    # their scope and column list: where none has it, it binds to the user's outer relation q: every row shows
    policy = parse_data_policy("scoped", {
        "type": "filter", "priority": 1, "dataset_id": "lab.vault.vault",
        "selector": {"user": {"tags": ["roles:id:user"]}}, "filters": [{"expression": expression}]})
    vault.con.execute("CREATE OR REPLACE TABLE barrier_extra AS SELECT TRUE AS override")
    vault.expose(EXTRA, '"memory"."main"."barrier_extra"')
    datasets = {"vault": attacks.VAULT, "allowed": attacks.ALLOWED, "extra": EXTRA}
    try:
        answer = str(vault.run("SELECT (SELECT list(x.s) FROM vault x) FROM (SELECT 5 AS id, TRUE AS override) q",
                               resolve=lambda name, *_: datasets.get(name.lower()), policies=[policy],
                               default_depot="lab", default_collection="vault"))
    except Exception as e:  # refusing the policy, or the query, is fine
        answer = str(e)
    assert "SECRET-7731" not in answer, answer


def test_a_column_named_like_a_bare_function_is_kept(vault):
    # sqlglot parses a bare current_date as CURRENT_DATE(), so _used_names sees no column; DuckDB binds a column
    # of that name first: narrowed out of the governed table, the query answers today's date, not the column
    vault.con.execute('CREATE OR REPLACE TABLE barrier_clock (id INTEGER, region VARCHAR, "current_date" VARCHAR)')
    vault.con.execute("INSERT INTO barrier_clock VALUES (1, 'EU', '12'), (3, 'XX', 'SECRET-7731')")
    vault.expose(CLOCK, '"memory"."main"."barrier_clock"')
    policy = parse_data_policy("eu-clock", {
        "type": "filter", "priority": 1, "dataset_id": "lab.vault.clock", "selector": {"user": {"tags": ["roles:id:user"]}},
        "filters": [{"column": "region", "operator": "equals", "value": "EU"}]})
    rows = vault.run("SELECT current_date FROM clock", resolve=lambda name, *_: CLOCK if name.lower() == "clock" else None,
                     policies=[policy], default_depot="lab", default_collection="vault")
    expected = vault.con.execute("SELECT current_date FROM (SELECT * FROM barrier_clock WHERE region = 'EU')").fetchall()
    assert rows == expected == [("12",)]
