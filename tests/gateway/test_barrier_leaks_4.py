"""A fourth attack pass on the security barrier (`kernel.gateway.leakproof`): comparisons the type model
accepts pairwise that the engine evaluates in one common type. Each test fails while the leak it names is open.

Same vault, policies, worst case and checks as `test_barrier_leaks`.
"""
from __future__ import annotations

import pytest
import test_barrier_attacks as attacks
from test_barrier_leaks import assert_no_leak

vault = attacks.vault  # the attack tests' fixture: the vault table, its hidden row, the engine's views
POLICY = pytest.mark.parametrize("policy", sorted(attacks.POLICIES))


@POLICY
@pytest.mark.parametrize("sql", [
    "SELECT id FROM vault WHERE n IN (m, 0.00000000000000000000001)",
    "SELECT id FROM vault WHERE 1 IN (n, m, 0.00000000000000000000001)",
    "SELECT id FROM vault WHERE '12' IN (s, n)",
    "SELECT id FROM vault WHERE NULL IN (s, n)",
], ids=["decimal scale", "decimal scale of a constant", "text and integer", "null and mixed items"])
def test_an_in_list_is_cast_to_one_type_of_all_its_items(vault, sql, policy):
    # _leakproof(In) checks _comparable(this, item) per item, but the engine casts every item to one type:
    # DECIMAL(18,2) m with a 23-digit scale is DECIMAL(38,23) ("Casting value "9999999999999999.99" ... failed"),
    # VARCHAR s with INTEGER n is INTEGER ("Could not convert string 'SECRET-7731' to INT32"); NULL passes any item
    assert_no_leak(vault, sql, policy)
