"""A deliberately naive reference evaluator for access policies: a linear scan over every policy
with its own recursive glob matcher. Written independently of kernel.heimdall.policy (no regexes,
no index) so that tests can check the production PDP against it."""
from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from kernel.heimdall.policy import AccessPolicy

Token = str  # "**", "*", "?" or a single literal character prefixed with "=" (e.g. "=a")


@lru_cache(maxsize=65536)
def tokenize(pattern: str, user: str | None = None, expand_user: bool = False) -> tuple[Token, ...] | None:
    """Split a glob into tokens; with `expand_user`, "${user}" becomes the user's literal
    characters, and the pattern cannot match at all (None) when there is no user."""
    tokens: list[Token] = []
    i = 0
    while i < len(pattern):
        if expand_user and pattern.startswith("${user}", i):
            if user is None:
                return None
            tokens.extend("=" + ch for ch in user)
            i += len("${user}")
        elif pattern.startswith("**", i):
            tokens.append("**")
            i += 2
        elif pattern[i] in "*?":
            tokens.append(pattern[i])
            i += 1
        else:
            tokens.append("=" + pattern[i])
            i += 1
    return tuple(tokens)


def match_tokens(tokens: tuple[Token, ...], text: str) -> bool:
    """True when the whole of `text` matches `tokens` (recursive, memoised per call)."""
    memo: dict[tuple[int, int], bool] = {}

    def match(t: int, s: int) -> bool:
        if (t, s) not in memo:
            memo[t, s] = step(t, s)
        return memo[t, s]

    def step(t: int, s: int) -> bool:
        if t == len(tokens):
            return s == len(text)
        head = tokens[t]
        if head == "**":
            return any(match(t + 1, k) for k in range(s, len(text) + 1))
        if head == "*":
            for k in range(s, len(text) + 1):
                if match(t + 1, k):
                    return True
                if k < len(text) and text[k] == "/":
                    return False
            return False
        if head == "?":
            return s < len(text) and text[s] != "/" and match(t + 1, s + 1)
        return s < len(text) and text[s] == head[1] and match(t + 1, s + 1)

    return match(0, 0)


def glob_match(pattern: str, text: str) -> bool:
    tokens = tokenize(pattern)
    assert tokens is not None
    return match_tokens(tokens, text)


def path_match(pattern: str, path: str, user: str | None) -> bool:
    tokens = tokenize(pattern, user, expand_user=True)
    return tokens is not None and match_tokens(tokens, path)


def policy_matches(policy: AccessPolicy, subject_tags: frozenset[str], predicate: str, path: str,
                   object_tags: frozenset[str], user: str | None) -> bool:
    if predicate not in policy.predicates and "*" not in policy.predicates:
        return False
    if not any(all(any(glob_match(p, tag) for tag in subject_tags) for p in clause) for clause in policy.subjects):
        return False
    return (any(path_match(p, path, user) for p in policy.paths)
            or any(glob_match(p, tag) for p in policy.object_tags for tag in object_tags))


def reference_decide(policies: Iterable[AccessPolicy], subject_tags: frozenset[str], predicate: str,
                     path: str, object_tags: frozenset[str] = frozenset(),
                     user: str | None = None) -> tuple[bool, str | None]:
    """(allowed, deciding policy name): deny overrides allow, smallest name wins, default deny."""
    denies: list[str] = []
    allows: list[str] = []
    for policy in policies:
        if policy_matches(policy, subject_tags, predicate, path, object_tags, user):
            (allows if policy.allow else denies).append(policy.name)
    if denies:
        return False, min(denies)
    if allows:
        return True, min(allows)
    return False, None
