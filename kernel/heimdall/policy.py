"""Heimdall's policy decision point (PDP): access policies, their parser and an indexed evaluator.

A request (subject tags, predicate, path, object tags, user) is allowed when some access policy
with ``allow: true`` matches it and no policy with ``allow: false`` does (deny overrides allow,
default deny). Ties are broken by the smallest policy name, so decisions never depend on the
order policies were loaded in.

`PolicyIndex` never scans all policies. Each policy is stored under keys, four levels deep:

    subject-clause key ─▶ object key (path or object tag) ─▶ predicate ─▶ path stem ─▶ {entries}

A key is ``=TEXT`` for a glob-free pattern (exact match) or ``~PREFIX`` for a glob, where PREFIX is
the pattern's literal head cut after its last separator (``/``, ``:`` or ``.``); the rest of a path
glob's literal head is its stem. A request derives the same keys from its own strings (each string,
and each of its prefixes ending at a separator), so `decide` costs a set intersection per level
and a check of the few entries it reaches, whatever the number of policies.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .fields import PolicyError, check_keys, kind, nonempty_list, string, strings

USER_VAR = "${user}"
"""In a path pattern, stands for the caller's user id (substituted literally)."""

_GLOB_TOKEN = re.compile(r"\*\*|\*|\?")
_TOKEN_REGEX = {"**": ".*", "*": "[^/]*", "?": "[^/]"}


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """One access policy: who (OR of ANDs of tag globs) may do what (predicates) to which objects."""

    name: str
    allow: bool
    subjects: tuple[frozenset[str], ...]
    predicates: frozenset[str]
    paths: tuple[str, ...]
    object_tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of `PolicyIndex.decide`; `policy` is None when no policy matched."""

    allow: bool
    policy: str | None
    reason: str


# --- parsing ---------------------------------------------------------------------------------------

def parse_access_policy(name: str, access: dict) -> AccessPolicy:
    """Build an `AccessPolicy` from a manifest's ``policy.access`` section, or raise `PolicyError`."""
    root = "policy.access"
    check_keys(access, root, {"subjects", "predicates", "objects", "allow"}, {"subjects", "predicates", "objects"})
    subjects = access["subjects"]
    check_keys(subjects, f"{root}.subjects", {"tags"}, {"tags"})
    tags_field = f"{root}.subjects.tags"
    clauses = []
    for i, clause in enumerate(nonempty_list(subjects["tags"], tags_field)):
        if isinstance(clause, str):
            clauses.append(frozenset([string(clause, f"{tags_field}[{i}]")]))
        else:
            clauses.append(frozenset(strings(clause, f"{tags_field}[{i}]")))
    predicates = frozenset(strings(access["predicates"], f"{root}.predicates"))
    objects = access["objects"]
    check_keys(objects, f"{root}.objects", {"paths", "tags"}, set())
    if not objects:
        raise PolicyError(f"{root}.objects", "needs 'paths' or 'tags'")
    paths = tuple(strings(objects["paths"], f"{root}.objects.paths")) if "paths" in objects else ()
    object_tags = tuple(strings(objects["tags"], f"{root}.objects.tags")) if "tags" in objects else ()
    allow = access.get("allow", True)
    if not isinstance(allow, bool):
        raise PolicyError(f"{root}.allow", f"must be true or false, not {kind(allow)}")
    return AccessPolicy(name, allow, tuple(clauses), predicates, paths, object_tags)


# --- globs -----------------------------------------------------------------------------------------

def _is_glob(pattern: str) -> bool:
    return "*" in pattern or "?" in pattern


def _glob_regex(glob: str) -> str:
    """Regex source for a glob: ``**`` any text, ``*`` any text without '/', ``?`` one non-'/' char."""
    out, pos = [], 0
    for token in _GLOB_TOKEN.finditer(glob):
        out += (re.escape(glob[pos:token.start()]), _TOKEN_REGEX[token.group()])
        pos = token.end()
    out.append(re.escape(glob[pos:]))
    return "".join(out)


@lru_cache(maxsize=65536)
def _compile(glob: str) -> re.Pattern[str]:
    return re.compile(_glob_regex(glob), re.DOTALL)


@lru_cache(maxsize=4096)
def _compile_user(pieces: tuple[str, ...], user: str) -> re.Pattern[str]:
    return re.compile(re.escape(user).join(_glob_regex(piece) for piece in pieces), re.DOTALL)


def _bucket_key(pattern: str, variable: str | None = None) -> tuple[str, str]:
    """(key, stem): ``=pattern`` for a literal; for a glob, ``~`` + its literal head cut after the
    last separator, and the stem: the rest of the literal head (e.g. 'res' for '/a/res*')."""
    cuts = [i for i in (pattern.find("*"), pattern.find("?"), pattern.find(variable) if variable else -1) if i >= 0]
    if not cuts:
        return "=" + pattern, ""
    head = pattern[:min(cuts)]
    cut = _last_separator(head) + 1
    return "~" + head[:cut], head[cut:]


def _last_separator(text: str) -> int:
    return max(text.rfind("/"), text.rfind(":"), text.rfind("."))


@lru_cache(maxsize=16384)
def _prefix_keys(namespace: str, prefix: str) -> frozenset[str]:
    """The ``~`` keys of `prefix` (empty, or ending at a separator) and of each shorter such prefix."""
    if not prefix:
        return frozenset([namespace + "~"])
    return _prefix_keys(namespace, prefix[:_last_separator(prefix[:-1]) + 1]) | {f"{namespace}~{prefix}"}


@lru_cache(maxsize=16384)
def _value_keys(namespace: str, value: str) -> frozenset[str]:
    """Every key a pattern matching `value` can be stored under (see `_bucket_key`)."""
    return _prefix_keys(namespace, value[:_last_separator(value) + 1]) | {f"{namespace}={value}"}


@lru_cache(maxsize=4096)
def _subject_keys(tags: frozenset[str]) -> frozenset[str]:
    return frozenset(["~"]).union(*[_value_keys("", tag) for tag in tags])


@lru_cache(maxsize=4096)
def _object_tag_keys(tags: frozenset[str]) -> frozenset[str]:
    return frozenset().union(*[_value_keys("t", tag) for tag in tags])


# An object check runs when an entry was reached through a glob key: (path, object_tags, user) -> bool.
_ObjectCheck = Callable[[str, frozenset[str], str | None], bool]


class _UserPath:
    """A path pattern containing ``${user}``; never matches when the user is unknown."""

    __slots__ = ("pieces", "literal")

    def __init__(self, pattern: str) -> None:
        self.pieces = tuple(pattern.split(USER_VAR))
        self.literal = not any(_is_glob(piece) for piece in self.pieces)

    def __call__(self, path: str, object_tags: frozenset[str], user: str | None) -> bool:
        if user is None:
            return False
        if self.literal:
            return path == user.join(self.pieces)
        return _compile_user(self.pieces, user).fullmatch(path) is not None


@lru_cache(maxsize=65536)
def _path_check(pattern: str) -> _ObjectCheck | None:
    if USER_VAR in pattern:
        return _UserPath(pattern)
    if not _is_glob(pattern):
        return None
    fullmatch = _compile(pattern).fullmatch
    return lambda path, object_tags, user: fullmatch(path) is not None


@lru_cache(maxsize=65536)
def _object_tag_check(pattern: str) -> _ObjectCheck | None:
    if not _is_glob(pattern):
        return None
    fullmatch = _compile(pattern).fullmatch
    return lambda path, object_tags, user: any(map(fullmatch, object_tags))


# --- the index -------------------------------------------------------------------------------------

# (policy name, allow, literal tags the caller must hold, tag globs each matching some caller tag,
#  object check or None, the decision to return)
_Entry = tuple[str, bool, frozenset[str], tuple[Callable[[str], Any], ...], _ObjectCheck | None, Decision]
_Location = tuple[str, str, str, str, _Entry]  # subject key, object key, predicate, stem, entry


class _Bucket:
    """The entries under one (subject key, object key, predicate), by stem (see `_bucket_key`):
    a request path only reaches the globs whose stem starts the rest of the path after the key's
    prefix, so thousands of globs sharing a prefix ('/ws/a/res1*', '/ws/a/res2*', …) stay cheap."""

    __slots__ = ("offset", "stems", "lengths")

    def __init__(self, offset: int) -> None:
        self.offset = offset  # where, in a request path, a stem starts
        self.stems: dict[str, set[_Entry]] = {}
        self.lengths: Counter[int] = Counter()  # stem length -> number of stems of that length

    def add(self, stem: str, entry: _Entry) -> bool:
        entries = self.stems.get(stem)
        if entries is None:
            entries = self.stems[stem] = set()
            self.lengths[len(stem)] += 1
        elif entry in entries:
            return False
        entries.add(entry)
        return True

    def remove(self, stem: str, entry: _Entry) -> None:
        entries = self.stems[stem]
        entries.remove(entry)
        if not entries:
            del self.stems[stem]
            self.lengths[len(stem)] -= 1
            if not self.lengths[len(stem)]:
                del self.lengths[len(stem)]


class PolicyIndex:
    """Access policies indexed for fast `decide` calls (see the module docstring).

    Concurrent `decide` calls are safe; `put` and `remove` need exclusive access."""

    def __init__(self, policies: Iterable[AccessPolicy] = ()) -> None:
        self._policies: dict[str, AccessPolicy] = {}
        self._locations: dict[str, list[_Location]] = {}
        self._index: dict[str, dict[str, dict[str, _Bucket]]] = {}  # see the module docstring
        self._subject_load: Counter[str] = Counter()  # subject key -> entries stored under it
        for policy in policies:
            self.put(policy)

    def __len__(self) -> int:
        return len(self._policies)

    def get(self, name: str) -> AccessPolicy | None:
        return self._policies.get(name)

    def put(self, policy: AccessPolicy) -> None:
        """Add `policy`, replacing any policy of the same name."""
        self.remove(policy.name)
        self._policies[policy.name] = policy
        objects: list[tuple[str, str, _ObjectCheck | None]] = []  # (object key, stem, check)
        for pattern in policy.paths:
            key, stem = _bucket_key(pattern, USER_VAR)
            objects.append(("p" + key, stem, _path_check(pattern)))
        for pattern in policy.object_tags:
            objects.append(("t" + _bucket_key(pattern)[0], "", _object_tag_check(pattern)))
        reason = f"{'allowed' if policy.allow else 'denied'} by policy '{policy.name}'"
        decision = Decision(policy.allow, policy.name, reason)
        locations: list[_Location] = []
        for clause in policy.subjects:
            subject_key, literals, globs = self._clause_key(clause)
            for object_key, stem, check in objects:
                entry = (policy.name, policy.allow, literals, globs, check, decision)
                for predicate in policy.predicates:
                    by_predicate = self._index.setdefault(subject_key, {}).setdefault(object_key, {})
                    bucket = by_predicate.get(predicate)
                    if bucket is None:
                        offset = len(object_key) - 2 if object_key.startswith("p~") else 0
                        bucket = by_predicate[predicate] = _Bucket(offset)
                    if bucket.add(stem, entry):
                        locations.append((subject_key, object_key, predicate, stem, entry))
                        self._subject_load[subject_key] += 1
        self._locations[policy.name] = locations

    def remove(self, name: str) -> None:
        """Remove the policy called `name` and all its index entries; no error if absent."""
        if self._policies.pop(name, None) is None:
            return
        for subject_key, object_key, predicate, stem, entry in self._locations.pop(name):
            by_object = self._index[subject_key]
            by_predicate = by_object[object_key]
            bucket = by_predicate[predicate]
            bucket.remove(stem, entry)
            if not bucket.stems:
                del by_predicate[predicate]
                if not by_predicate:
                    del by_object[object_key]
                    if not by_object:
                        del self._index[subject_key]
            self._subject_load[subject_key] -= 1
            if not self._subject_load[subject_key]:
                del self._subject_load[subject_key]

    def _clause_key(self, clause: frozenset[str]) -> tuple[str, frozenset[str], tuple[Callable[[str], Any], ...]]:
        """Pick the key to store a subject clause under (a literal tag if any, the least loaded one)
        and return it with what is left to check: the other literal tags and the tag globs."""
        if not clause:
            return "~", frozenset(), ()
        chosen = min(clause, key=lambda tag: (_is_glob(tag), self._subject_load[_bucket_key(tag)[0]], -len(tag), tag))
        literals = frozenset(tag for tag in clause if not _is_glob(tag)) - {chosen}
        globs = tuple(_compile(tag).fullmatch for tag in sorted(clause) if _is_glob(tag))
        return _bucket_key(chosen)[0], literals, globs

    def _candidates(self, subject_tags: frozenset[str], predicate: str, path: str,
                    object_tags: frozenset[str]) -> Iterator[set[_Entry]]:
        """The entry sets a request reaches through its subject, object and predicate keys."""
        index = self._index
        object_keys = None
        for subject_key in index.keys() & _subject_keys(subject_tags):
            by_object = index[subject_key]
            if object_keys is None:
                object_keys = _value_keys("p", path)
                if object_tags:
                    object_keys |= _object_tag_keys(object_tags)
            for object_key in by_object.keys() & object_keys:
                by_predicate = by_object[object_key]
                for bucket in (by_predicate.get(predicate), by_predicate.get("*")):
                    if bucket is not None:
                        rest = path[bucket.offset:]
                        for length in bucket.lengths:
                            entries = bucket.stems.get(rest[:length])
                            if entries is not None:
                                yield entries

    def decide(self, subject_tags: frozenset[str], predicate: str, path: str,
               object_tags: frozenset[str] = frozenset(), user: str | None = None) -> Decision:
        """Decide a request: deny overrides allow, smallest policy name wins, default deny."""
        if not isinstance(subject_tags, frozenset):
            subject_tags = frozenset(subject_tags)
        if not isinstance(object_tags, frozenset):
            object_tags = frozenset(object_tags)
        granted: Decision | None = None
        denied: Decision | None = None
        for entries in self._candidates(subject_tags, predicate, path, object_tags):
            for name, allow, literals, globs, check, decision in entries:
                if allow:
                    if denied is not None or (granted is not None and name >= granted.policy):
                        continue
                elif denied is not None and name >= denied.policy:
                    continue
                if literals and not literals <= subject_tags:
                    continue
                if globs and not all(any(map(match, subject_tags)) for match in globs):
                    continue
                if check is not None and not check(path, object_tags, user):
                    continue
                if allow:
                    granted = decision
                else:
                    denied = decision
        return denied or granted or Decision(False, None, f"no policy allows {predicate} on {path}")
