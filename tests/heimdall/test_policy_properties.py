"""Property tests for Heimdall's PolicyIndex, drawn from a small vocabulary so that matches are frequent."""
from __future__ import annotations

import random
from dataclasses import replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kernel.heimdall.policy import AccessPolicy, Decision, PolicyIndex

from .reference import reference_decide

SUBJECT_TAGS = ["roles:id:user", "roles:id:operator", "roles:id:dev", "users:id:alice", "users:id:bob",
                "users:id:a*", "PII.Email"]
SUBJECT_GLOBS = ["roles:id:*", "users:id:*", "users:**", "*", "**", "roles:id:?ev", "*:id:alice", "roles:*",
                 "PII.*", "users:id:a?ice", "?*"]
PATHS = ["/heimdall/users/alice", "/heimdall/users/bob", "/heimdall/users/a*", "/heimdall/users/", "/poros/types",
         "/poros/workspaces/public/workflow/orders", "/poros/workspaces/alice/service/web",
         "/poros/workspaces/public/depot", "dataos://hr:people/employees", "dataos://hr:people/salaries",
         "dataos://lake:sales/orders.parquet", "/kernel/audit", "/a+b/(x)[1]", "/a+b/(x)[12]", "", "/"]
PATH_GLOBS = ["**", "*", "/poros/**", "/poros/workspaces/*/workflow/*", "/poros/workspaces/${user}/**",
              "/heimdall/users/${user}", "/heimdall/users/*", "/heimdall/**", "dataos://hr:*/**", "dataos://*:*/*",
              "dataos://hr:people/?????????", "/a+b/(x)[?]", "/a+b/(x)[*]", "/kernel/*", "/heimdall/users/${user}*",
              "${user}", "/poros/workspaces/p?blic/**", "dataos://lake:sales/*.parquet", "**/orders*",
              "/heimdall/users/a?${user}", "/**/${user}/**", "*${user}", "/poros/workspaces/${user}"]
OBJECT_TAGS = ["PII.Email", "PII.Phone", "public", "tier:gold", "tier:silver"]
OBJECT_GLOBS = ["PII.*", "tier:*", "*", "**", "?ublic", "PII.E*", "tier:g?ld"]
PREDICATES = ["read", "create", "update", "delete", "select"]
USERS = [None, "alice", "ali", "bob", "a*"]
NAMES = [*"abcdefghijklmnop", "allow-1", "deny-1", "z", "Z", "p10", "p9", "p-9", "p_9"]
GLOB_TOKENS = ["*", "**", "?", "${user}"]


@st.composite
def derived_globs(draw: st.DrawFn, sources: list[str]) -> str:
    """A source string with a few slices replaced by glob tokens."""
    text = draw(st.sampled_from(sources))
    for _ in range(draw(st.integers(1, 2))):
        start = draw(st.integers(0, len(text)))
        end = draw(st.integers(start, min(len(text), start + 8)))
        text = text[:start] + draw(st.sampled_from(GLOB_TOKENS)) + text[end:]
    return text


subject_patterns = st.one_of(st.sampled_from(SUBJECT_TAGS), st.sampled_from(SUBJECT_GLOBS),
                             derived_globs(SUBJECT_TAGS).map(lambda s: s.replace("${user}", "*")))
path_patterns = st.one_of(st.sampled_from(PATHS), st.sampled_from(PATH_GLOBS), derived_globs(PATHS))
object_tag_patterns = st.one_of(st.sampled_from(OBJECT_TAGS), st.sampled_from(OBJECT_GLOBS))


@st.composite
def policies(draw: st.DrawFn, name: st.SearchStrategy[str] = st.sampled_from(NAMES)) -> AccessPolicy:
    return AccessPolicy(
        name=draw(name),
        allow=draw(st.booleans()),
        subjects=tuple(draw(st.lists(st.frozensets(subject_patterns, min_size=0, max_size=3), min_size=1, max_size=3))),
        predicates=frozenset(draw(st.lists(st.sampled_from([*PREDICATES, "*"]), min_size=1, max_size=3))),
        paths=tuple(draw(st.lists(path_patterns, max_size=3))),
        object_tags=tuple(draw(st.lists(object_tag_patterns, max_size=2))),
    )


policy_sets = st.lists(policies(), max_size=12, unique_by=lambda p: p.name)

Request = dict[str, Any]

requests = st.fixed_dictionaries({
    "subject_tags": st.frozensets(st.sampled_from(SUBJECT_TAGS), max_size=4),
    "predicate": st.sampled_from([*PREDICATES, "*"]),
    "path": st.sampled_from(PATHS),
    "object_tags": st.frozensets(st.sampled_from(OBJECT_TAGS), max_size=2),
    "user": st.sampled_from(USERS),
})


def random_requests(rng: random.Random, count: int) -> list[Request]:
    return [{"subject_tags": frozenset(rng.sample(SUBJECT_TAGS, rng.randint(0, 4))),
             "predicate": rng.choice([*PREDICATES, "*"]),
             "path": rng.choice(PATHS),
             "object_tags": frozenset(rng.sample(OBJECT_TAGS, rng.randint(0, 2))),
             "user": rng.choice(USERS)} for _ in range(count)]


def decisions(index: PolicyIndex, batch: list[Request]) -> list[Decision]:
    return [index.decide(**r) for r in batch]


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REQUESTS_PER_EXAMPLE = 100


def test_index_agrees_with_linear_reference() -> None:
    outcomes = {"allow": 0, "deny": 0, "default": 0}

    @settings(max_examples=110, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(policies(), min_size=4, max_size=14, unique_by=lambda p: p.name),
           st.lists(requests, max_size=10), st.randoms(use_true_random=False))
    def check(policy_set: list[AccessPolicy], drawn: list[Request], rng: random.Random) -> None:
        index = PolicyIndex(policy_set)
        for r in drawn + random_requests(rng, REQUESTS_PER_EXAMPLE):
            decision = index.decide(**r)
            assert (decision.allow, decision.policy) == reference_decide(policy_set, **r), r
            outcomes["allow" if decision.allow else "deny" if decision.policy else "default"] += 1

    check()
    assert sum(outcomes.values()) >= 10_000
    assert min(outcomes.values()) >= 1_000, outcomes  # the vocabulary keeps every outcome frequent


@FAST
@given(policy_sets, policies(st.just("added-deny")).map(lambda p: replace(p, allow=False)),
       st.lists(requests, min_size=1, max_size=20))
def test_adding_a_deny_never_grants(policy_set: list[AccessPolicy], deny: AccessPolicy, batch: list[Request]) -> None:
    index = PolicyIndex(policy_set)
    before = decisions(index, batch)
    index.put(deny)
    for old, new in zip(before, decisions(index, batch)):
        assert not new.allow or new == old


@FAST
@given(policy_sets.flatmap(lambda ps: st.tuples(st.just(ps), st.permutations(ps))), st.lists(requests, max_size=20))
def test_decisions_do_not_depend_on_order(sets: tuple[list[AccessPolicy], list[AccessPolicy]],
                                          batch: list[Request]) -> None:
    ordered, shuffled = sets
    assert decisions(PolicyIndex(ordered), batch) == decisions(PolicyIndex(shuffled), batch)


@FAST
@given(policy_sets, policies(st.just("transient")), st.lists(requests, max_size=20))
def test_put_then_remove_restores_decisions(policy_set: list[AccessPolicy], extra: AccessPolicy,
                                            batch: list[Request]) -> None:
    index = PolicyIndex(policy_set)
    before = decisions(index, batch)
    index.put(extra)
    index.remove(extra.name)
    assert decisions(index, batch) == before
    assert len(index) == len(policy_set)
    for policy in policy_set:
        index.remove(policy.name)
    assert len(index) == 0 and not index._index and not index._subject_load


@FAST
@given(policy_sets.filter(bool), policies(), st.lists(requests, max_size=20))
def test_put_replaces_by_name(policy_set: list[AccessPolicy], replacement: AccessPolicy,
                              batch: list[Request]) -> None:
    index = PolicyIndex(policy_set)
    index.put(replacement)
    expected = {p.name: p for p in policy_set} | {replacement.name: replacement}
    assert decisions(index, batch) == decisions(PolicyIndex(expected.values()), batch)
