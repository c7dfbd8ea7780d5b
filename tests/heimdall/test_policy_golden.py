"""Golden decision tables for Heimdall's policy decision point."""
from __future__ import annotations

from typing import Any

import pytest

from kernel.heimdall.policy import AccessPolicy, Decision, PolicyError, PolicyIndex, parse_access_policy

from .reference import reference_decide


def pol(name: str, subjects: list, predicates: list[str], paths: list[str] | None = None,
        tags: list[str] | None = None, allow: bool = True) -> AccessPolicy:
    objects: dict[str, list[str]] = {}
    if paths is not None:
        objects["paths"] = paths
    if tags is not None:
        objects["tags"] = tags
    return parse_access_policy(name, {"subjects": {"tags": subjects}, "predicates": predicates,
                                      "objects": objects, "allow": allow})


def req(tags: set[str], predicate: str, path: str, object_tags: set[str] = frozenset(),
        user: str | None = None) -> dict[str, Any]:
    return {"subject_tags": frozenset(tags), "predicate": predicate, "path": path,
            "object_tags": frozenset(object_tags), "user": user}


OPERATOR = pol("operator-full-access", [["roles:id:operator"]], ["*"], ["**"])
SELF_READ = pol("self-read", [["users:id:*"]], ["read"], ["/heimdall/users/${user}", "/poros/types"])
ALICE = {"users:id:alice", "roles:id:user"}

#  id, policies, request, (allowed, deciding policy)
ROWS: list[tuple[str, list[AccessPolicy], dict[str, Any], tuple[bool, str | None]]] = [
    ("empty index denies", [], req(ALICE, "read", "/poros/x"), (False, None)),
    ("operator may delete audit", [OPERATOR, SELF_READ], req({"roles:id:operator"}, "delete", "/kernel/audit"),
     (True, "operator-full-access")),
    ("operator may select a dataset", [OPERATOR], req({"roles:id:operator"}, "select", "dataos://hr:people/employees"),
     (True, "operator-full-access")),
    ("non-operator default deny", [OPERATOR], req(ALICE, "read", "/kernel/audit"), (False, None)),
    ("user reads own identity", [OPERATOR, SELF_READ], req(ALICE, "read", "/heimdall/users/alice", user="alice"),
     (True, "self-read")),
    ("user cannot read another identity", [SELF_READ], req(ALICE, "read", "/heimdall/users/bob", user="alice"),
     (False, None)),
    ("${user} never matches without a user", [SELF_READ], req(ALICE, "read", "/heimdall/users/alice"), (False, None)),
    ("${user} path is whole-string", [SELF_READ],
     req(ALICE, "read", "/heimdall/users/alice/keys", user="alice"), (False, None)),
    ("${user} is not a prefix match", [SELF_READ], req(ALICE, "read", "/heimdall/users/alice", user="ali"),
     (False, None)),
    ("literal path beside ${user}", [SELF_READ], req(ALICE, "read", "/poros/types"), (True, "self-read")),
    ("literal path is whole-string", [SELF_READ], req(ALICE, "read", "/poros/types/x"), (False, None)),
    ("predicate must be listed", [SELF_READ], req(ALICE, "update", "/heimdall/users/alice", user="alice"),
     (False, None)),
    ("${user} is literal, not a glob", [SELF_READ], req({"users:id:a*"}, "read", "/heimdall/users/ab", user="a*"),
     (False, None)),
    ("${user} with glob characters matches itself", [SELF_READ],
     req({"users:id:a*"}, "read", "/heimdall/users/a*", user="a*"), (True, "self-read")),
    ("${user} inside a glob", [pol("own-ws", [["roles:id:user"]], ["*"], ["/poros/workspaces/${user}/**"])],
     req(ALICE, "delete", "/poros/workspaces/alice/workflow/orders", user="alice"), (True, "own-ws")),
    ("${user} inside a glob, other user", [pol("own-ws", [["roles:id:user"]], ["*"], ["/poros/workspaces/${user}/**"])],
     req(ALICE, "delete", "/poros/workspaces/bob/workflow/orders", user="alice"), (False, None)),
    ("deny overrides allow", [pol("a-allow", [["roles:id:user"]], ["read"], ["/poros/**"]),
                              pol("z-deny", [["users:id:alice"]], ["read"], ["/poros/secret"], allow=False)],
     req(ALICE, "read", "/poros/secret"), (False, "z-deny")),
    ("deny that does not match is ignored", [pol("a-allow", [["roles:id:user"]], ["read"], ["/poros/**"]),
                                             pol("z-deny", [["users:id:alice"]], ["read"], ["/poros/secret"],
                                                 allow=False)],
     req(ALICE, "read", "/poros/public"), (True, "a-allow")),
    ("deny-all overrides operator", [OPERATOR, pol("ban-mallory", [["users:id:mallory"]], ["*"], ["**"], allow=False)],
     req({"roles:id:operator", "users:id:mallory"}, "read", "/kernel/audit"), (False, "ban-mallory")),
    ("smallest allow name wins", [pol("zeta", [["roles:id:user"]], ["read"], ["**"]),
                                  pol("alpha", [["roles:id:user"]], ["read"], ["/poros/**"]),
                                  pol("mid", [["users:id:alice"]], ["*"], ["/poros/*"])],
     req(ALICE, "read", "/poros/types"), (True, "alpha")),
    ("smallest deny name wins", [pol("deny-b", [["roles:id:user"]], ["read"], ["**"], allow=False),
                                 pol("deny-a", [["users:id:*"]], ["read"], ["/poros/**"], allow=False),
                                 pol("allow-0", [["roles:id:user"]], ["read"], ["**"])],
     req(ALICE, "read", "/poros/types"), (False, "deny-a")),
    ("AND clause needs every tag", [pol("dev-bob", [["roles:id:dev", "users:id:bob"], ["roles:id:admin"]], ["read"],
                                        ["/kernel/audit"])],
     req({"roles:id:dev"}, "read", "/kernel/audit"), (False, None)),
    ("AND clause satisfied", [pol("dev-bob", [["roles:id:dev", "users:id:bob"], ["roles:id:admin"]], ["read"],
                                  ["/kernel/audit"])],
     req({"roles:id:dev", "users:id:bob"}, "read", "/kernel/audit"), (True, "dev-bob")),
    ("OR: second clause satisfied", [pol("dev-bob", [["roles:id:dev", "users:id:bob"], ["roles:id:admin"]], ["read"],
                                         ["/kernel/audit"])],
     req({"roles:id:admin"}, "read", "/kernel/audit"), (True, "dev-bob")),
    ("glob AND literal in one clause", [pol("g", [["roles:id:*", "users:id:bob"]], ["read"], ["**"])],
     req({"users:id:bob"}, "read", "/x"), (False, None)),
    ("subject '?' glob", [pol("devs", [["roles:id:?ev"]], ["read"], ["**"])], req({"roles:id:dev"}, "read", "/x"),
     (True, "devs")),
    ("subject '**' needs some tag", [pol("anyone", [["**"]], ["read"], ["**"])], req(set(), "read", "/x"),
     (False, None)),
    ("flat subject list is OR", [pol("flat", ["roles:id:dev", "roles:id:qa"], ["read"], ["**"])],
     req({"roles:id:qa"}, "read", "/x"), (True, "flat")),
    ("mixed flat and nested subjects", [pol("mixed", ["roles:id:qa", ["roles:id:dev", "users:id:bob"]], ["read"],
                                            ["**"])],
     req({"roles:id:dev", "users:id:bob"}, "read", "/x"), (True, "mixed")),
    ("'*' stays within a segment", [pol("wf", [["roles:id:user"]], ["read"], ["/poros/workspaces/*/workflow"])],
     req(ALICE, "read", "/poros/workspaces/public/workflow"), (True, "wf")),
    ("'*' does not cross '/'", [pol("wf", [["roles:id:user"]], ["read"], ["/poros/workspaces/*/workflow"])],
     req(ALICE, "read", "/poros/workspaces/a/b/workflow"), (False, None)),
    ("'**' crosses '/'", [pol("all-poros", [["roles:id:user"]], ["read"], ["/poros/**"])],
     req(ALICE, "read", "/poros/workspaces/public/workflow/orders"), (True, "all-poros")),
    ("'**' matches empty", [pol("all-poros", [["roles:id:user"]], ["read"], ["/poros/**"])],
     req(ALICE, "read", "/poros/"), (True, "all-poros")),
    ("'**' needs the literal head", [pol("all-poros", [["roles:id:user"]], ["read"], ["/poros/**"])],
     req(ALICE, "read", "/poros"), (False, None)),
    ("'*' crosses ':'", [pol("collections", [["roles:id:user"]], ["select"], ["dataos://*"])],
     req(ALICE, "select", "dataos://hr:people"), (True, "collections")),
    ("'*' in a dataos address stops at '/'", [pol("collections", [["roles:id:user"]], ["select"], ["dataos://*"])],
     req(ALICE, "select", "dataos://hr:people/employees"), (False, None)),
    ("'?' is one character", [pol("q", [["roles:id:user"]], ["read"], ["/kernel/audi?"])],
     req(ALICE, "read", "/kernel/audit"), (True, "q")),
    ("'?' is exactly one character", [pol("q", [["roles:id:user"]], ["read"], ["/kernel/audi?"])],
     req(ALICE, "read", "/kernel/audits"), (False, None)),
    ("'?' is not '/'", [pol("q", [["roles:id:user"]], ["read"], ["/kernel/audi?"])],
     req(ALICE, "read", "/kernel/audi/"), (False, None)),
    ("regex metacharacters are literal", [pol("meta", [["roles:id:user"]], ["read"], ["/data/a+b(1)|x.csv$"])],
     req(ALICE, "read", "/data/a+b(1)|x.csv$"), (True, "meta")),
    ("'+' and '.' are not regex", [pol("meta", [["roles:id:user"]], ["read"], ["/data/a+b(1)|x.csv$"])],
     req(ALICE, "read", "/data/aab(1)|xxcsv$"), (False, None)),
    ("'[' is literal", [pol("bracket", [["roles:id:user"]], ["read"], ["/data/[ab]*"])],
     req(ALICE, "read", "/data/[ab]1"), (True, "bracket")),
    ("'[' is not a character class", [pol("bracket", [["roles:id:user"]], ["read"], ["/data/[ab]*"])],
     req(ALICE, "read", "/data/a1"), (False, None)),
    ("object tag glob denies PII", [pol("lake-read", [["roles:id:analyst"]], ["select"], ["dataos://**"]),
                                    pol("no-pii", [["roles:id:analyst"]], ["select"], tags=["PII.*"], allow=False)],
     req({"roles:id:analyst"}, "select", "dataos://hr:people/employees", {"tier:gold", "PII.Email"}),
     (False, "no-pii")),
    ("object tag policy needs the tag", [pol("lake-read", [["roles:id:analyst"]], ["select"], ["dataos://**"]),
                                         pol("no-pii", [["roles:id:analyst"]], ["select"], tags=["PII.*"],
                                             allow=False)],
     req({"roles:id:analyst"}, "select", "dataos://hr:people/employees", {"tier:gold"}), (True, "lake-read")),
    ("literal object tag allows", [pol("public", [["roles:id:user"]], ["read"], tags=["public"])],
     req(ALICE, "read", "/anything/at/all", {"public"}), (True, "public")),
    ("paths OR tags: tag side", [pol("both", [["roles:id:user"]], ["read"], ["/kernel/audit"], ["public"])],
     req(ALICE, "read", "/poros/x", {"public"}), (True, "both")),
    ("paths OR tags: neither", [pol("both", [["roles:id:user"]], ["read"], ["/kernel/audit"], ["public"])],
     req(ALICE, "read", "/poros/x", {"private"}), (False, None)),
    ("globs sharing a prefix, stems of several lengths",
     [pol("s-r", [["roles:id:user"]], ["read"], ["/ws/svc/r*"]), pol("s-res12", [["roles:id:user"]], ["read"],
                                                                     ["/ws/svc/res12*"]),
      pol("s-res9", [["roles:id:user"]], ["read"], ["/ws/svc/res9*"], allow=False)],
     req(ALICE, "read", "/ws/svc/res123"), (True, "s-r")),
    ("a deny whose stem matches", [pol("s-r", [["roles:id:user"]], ["read"], ["/ws/svc/r*"]),
                                   pol("s-res9", [["roles:id:user"]], ["read"], ["/ws/svc/res9*"], allow=False)],
     req(ALICE, "read", "/ws/svc/res9"), (False, "s-res9")),
    ("request predicate '*' is literal", [pol("readers", [["roles:id:user"]], ["read"], ["**"])],
     req(ALICE, "*", "/x"), (False, None)),
]


@pytest.mark.parametrize(("policies", "request_", "expected"), [row[1:] for row in ROWS], ids=[row[0] for row in ROWS])
def test_decision_table(policies: list[AccessPolicy], request_: dict[str, Any],
                        expected: tuple[bool, str | None]) -> None:
    index = PolicyIndex(policies)
    decision = index.decide(**request_)
    assert (decision.allow, decision.policy) == expected
    assert reference_decide(policies, **request_) == expected
    assert decision == PolicyIndex(reversed(policies)).decide(**request_)


def test_reasons() -> None:
    index = PolicyIndex([OPERATOR, pol("ban", [["users:id:mallory"]], ["*"], ["**"], allow=False)])
    assert index.decide(frozenset({"roles:id:operator"}), "read", "/x") == \
        Decision(True, "operator-full-access", "allowed by policy 'operator-full-access'")
    assert index.decide(frozenset({"users:id:mallory"}), "read", "/x") == \
        Decision(False, "ban", "denied by policy 'ban'")
    assert index.decide(frozenset(), "read", "/poros/x") == Decision(False, None, "no policy allows read on /poros/x")


def test_put_replaces_get_and_remove() -> None:
    index = PolicyIndex([OPERATOR, SELF_READ])
    assert len(index) == 2 and index.get("self-read") == SELF_READ and index.get("nope") is None
    narrowed = pol("operator-full-access", [["roles:id:operator"]], ["read"], ["/kernel/**"])
    index.put(narrowed)
    assert len(index) == 2 and index.get("operator-full-access") == narrowed
    operator = frozenset({"roles:id:operator"})
    assert index.decide(operator, "read", "/kernel/audit").allow
    assert not index.decide(operator, "delete", "/kernel/audit").allow
    index.remove("operator-full-access")
    index.remove("operator-full-access")
    assert len(index) == 1 and not index.decide(operator, "read", "/kernel/audit").allow


def test_parse_defaults_and_forms() -> None:
    nested = parse_access_policy("p", {"subjects": {"tags": [["a"], ["b", "c"]]}, "predicates": ["read", "read"],
                                       "objects": {"paths": ["/x"], "tags": ["t"]}})
    assert nested == AccessPolicy("p", True, (frozenset({"a"}), frozenset({"b", "c"})), frozenset({"read"}),
                                  ("/x",), ("t",))
    flat = parse_access_policy("p", {"subjects": {"tags": ["a", "b"]}, "predicates": ["*"],
                                     "objects": {"tags": ["t"]}, "allow": False})
    assert flat == AccessPolicy("p", False, (frozenset({"a"}), frozenset({"b"})), frozenset({"*"}), (), ("t",))


GOOD: dict[str, Any] = {"subjects": {"tags": [["roles:id:user"]]}, "predicates": ["read"], "objects": {"paths": ["/x"]}}

#  id, access section, field named by the error
PARSE_ERRORS: list[tuple[str, Any, str]] = [
    ("not a mapping", ["subjects"], "policy.access"),
    ("missing subjects", {k: v for k, v in GOOD.items() if k != "subjects"}, "policy.access.subjects"),
    ("missing predicates", {k: v for k, v in GOOD.items() if k != "predicates"}, "policy.access.predicates"),
    ("missing objects", {k: v for k, v in GOOD.items() if k != "objects"}, "policy.access.objects"),
    ("unknown key", {**GOOD, "effect": "allow"}, "policy.access.effect"),
    ("subjects not a mapping", {**GOOD, "subjects": [["a"]]}, "policy.access.subjects"),
    ("subjects unknown key", {**GOOD, "subjects": {"tags": ["a"], "users": ["b"]}}, "policy.access.subjects.users"),
    ("subjects without tags", {**GOOD, "subjects": {}}, "policy.access.subjects.tags"),
    ("subject tags empty", {**GOOD, "subjects": {"tags": []}}, "policy.access.subjects.tags"),
    ("subject tags a string", {**GOOD, "subjects": {"tags": "roles:id:user"}}, "policy.access.subjects.tags"),
    ("subject tag not a string", {**GOOD, "subjects": {"tags": [["a"], ["b", 1]]}},
     "policy.access.subjects.tags[1][1]"),
    ("subject tag empty", {**GOOD, "subjects": {"tags": [["a", ""]]}}, "policy.access.subjects.tags[0][1]"),
    ("subject clause empty", {**GOOD, "subjects": {"tags": [["a"], []]}}, "policy.access.subjects.tags[1]"),
    ("subject clause null", {**GOOD, "subjects": {"tags": [None]}}, "policy.access.subjects.tags[0]"),
    ("flat subject tag blank", {**GOOD, "subjects": {"tags": ["a", "  "]}}, "policy.access.subjects.tags[1]"),
    ("predicates empty", {**GOOD, "predicates": []}, "policy.access.predicates"),
    ("predicates a string", {**GOOD, "predicates": "read"}, "policy.access.predicates"),
    ("predicate not a string", {**GOOD, "predicates": ["read", True]}, "policy.access.predicates[1]"),
    ("objects empty", {**GOOD, "objects": {}}, "policy.access.objects"),
    ("objects not a mapping", {**GOOD, "objects": ["/x"]}, "policy.access.objects"),
    ("objects unknown key", {**GOOD, "objects": {"path": ["/x"]}}, "policy.access.objects.path"),
    ("object paths empty", {**GOOD, "objects": {"paths": []}}, "policy.access.objects.paths"),
    ("object path not a string", {**GOOD, "objects": {"paths": ["/x", 3]}}, "policy.access.objects.paths[1]"),
    ("object tags a string", {**GOOD, "objects": {"paths": ["/x"], "tags": "PII"}}, "policy.access.objects.tags"),
    ("allow not a bool", {**GOOD, "allow": "yes"}, "policy.access.allow"),
    ("allow null", {**GOOD, "allow": None}, "policy.access.allow"),
]


@pytest.mark.parametrize(("access", "field"), [row[1:] for row in PARSE_ERRORS], ids=[row[0] for row in PARSE_ERRORS])
def test_parse_errors(access: Any, field: str) -> None:
    with pytest.raises(PolicyError) as info:
        parse_access_policy("p", access)
    assert info.value.field == field
    assert info.value.message and "\n" not in info.value.message
    assert isinstance(info.value, ValueError) and str(info.value) == f"{field}: {info.value.message}"


def test_good_section_parses() -> None:
    assert parse_access_policy("p", GOOD).allow is True
