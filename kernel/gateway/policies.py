"""Data policies (``policy.data``): the parser, and the masks and row filters a user gets on a dataset.

A mask policy masks the columns its selector names (by name or by tag); each column gets exactly
one mask: the lowest priority number wins, a tie goes to the smallest policy name. Columns tagged
``PII.*`` carry a built-in mask at priority 99 unless the user holds `PII_READER`. A filter policy
keeps the rows that satisfy all its filters; every filter policy that applies is AND-ed.

Filters and masks may be SQL expressions (``filters: [{expression: "…"}]``, ``mask: {operator:
expression, expression: {sql: "…"}}``) in the policy's ``dialect`` (default duckdb); see
`expressions` for the language. A literal filter ``{column, operator, value}`` means ``column <op>
value``.

Tag patterns are globs (``*`` any text, ``?`` one character); dataset patterns are dotted
``depot.collection.dataset`` globs where ``*`` stays within one part and ``**`` crosses parts.
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from ..heimdall.fields import PolicyError, check_keys, kind, nonempty_list, string, strings

from .expressions import check_dialect, parse
from .model import Dataset

__all__ = ["DataPolicy", "Governance", "PolicyError", "govern", "parse_data_policy"]

MASK_OPERATORS = ("hash", "redact", "bucket_number", "bucket_date", "rand_pattern", "regex_replace",
                  "pass_through", "expression")
FILTER_OPERATORS = ("equals", "not_equals", "greater_than", "greater_than_equals", "less_than",
                    "less_than_equals", "in", "not_in")
DATE_PRECISIONS = ("day", "week", "month", "quarter", "year")
REDACTED = "#####"
PII_READER = "roles:id:pii-reader"
PII_PRIORITY = 99

_HASH = {"operator": "hash", "hash": {"algo": "sha256"}}
_REDACT = {"operator": "redact", "redact": {"replacement": REDACTED}}
_PII_MASKS: dict[str, tuple[str, dict]] = {
    "PII.Email": ("pii-email", _HASH),
    "PII.PhoneNumber": ("pii-phonenumber", _REDACT),
    "PII.Name": ("pii-name", _REDACT),
    "PII.DateOfBirth": ("pii-dateofbirth", {"operator": "bucket_date", "bucket_date": {"precision": "year"}}),
    "PII.SocialSecurityNumber": ("pii-socialsecuritynumber", _REDACT),
}
_PII_OTHER = ("pii-default", _REDACT)


@dataclass(frozen=True)
class DataPolicy:
    """A parsed ``policy.data`` section. `user_tags` is an OR of ANDs of tag globs; `columns` are
    lowercase names; `mask` is normalized to ``{"operator": op, op: {params}}`` (no params for
    ``pass_through``; an expression's ``sql`` is its checked DuckDB text); `filters` are literal
    filters ``{column, operator, value}`` and expressions ``{"expression": DuckDB text}``; `reads`
    are the datasets the expressions' subqueries name (``depot.collection.dataset`` as written)."""

    name: str
    type: Literal["mask", "filter"]
    priority: int
    dataset: str | None
    user_tags: tuple[frozenset[str], ...]
    columns: frozenset[str] = frozenset()
    column_tags: frozenset[str] = frozenset()
    mask: dict | None = None
    filters: tuple[dict, ...] = ()
    reads: tuple[str, ...] = ()

    @property
    def exact_dataset(self) -> str | None:
        """The one dataset the policy names (``depot.collection.dataset``), or None for a pattern."""
        return self.dataset if self.dataset is not None and not any(c in self.dataset for c in "*?") else None

    def selects_tag(self, tag: str) -> bool:
        """Does this policy mask columns carrying `tag`?"""
        return any(_tag_matches(pattern, (tag,)) for pattern in self.column_tags)


@dataclass(frozen=True)
class Governance:
    """What one user gets on one dataset: a mask per masked column (keyed by the dataset's column
    name), and the filter lists of the filter policies that apply."""

    masks: dict[str, tuple[str, dict]]
    filters: tuple[tuple[str, tuple[dict, ...]], ...]

    @property
    def policies(self) -> frozenset[str]:
        return frozenset(name for name, _ in self.masks.values()) | {name for name, _ in self.filters}


# --- matching --------------------------------------------------------------------------------------

@lru_cache(maxsize=4096)
def _glob(pattern: str, separator: str, ignore_case: bool) -> re.Pattern[str]:
    one = f"[^{re.escape(separator)}]"
    out = []
    for token in re.split(r"(\*\*|\*|\?)", pattern):
        out.append({"**": ".*", "*": one + "*", "?": one}.get(token) or re.escape(token))
    return re.compile("".join(out), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _tag_matches(pattern: str, tags: Iterable[str]) -> bool:
    regex = _glob(pattern, "/", False)
    return any(regex.fullmatch(tag) for tag in tags)


def _user_matches(policy: DataPolicy, user_tags: frozenset[str]) -> bool:
    return any(all(_tag_matches(p, user_tags) for p in clause) for clause in policy.user_tags)


def dataset_matches(policy: DataPolicy, dataset: Dataset) -> bool:
    if policy.dataset is None:
        return True
    key = f"{dataset.depot}.{dataset.collection}.{dataset.name}"
    return bool(_glob(policy.dataset, ".", True).fullmatch(key))


def govern(dataset: Dataset, policies: Sequence[DataPolicy], user_tags: frozenset[str]) -> Governance:
    """The masks and filters `user_tags` get on `dataset` under `policies` (plus built-in PII masks)."""
    applicable = [p for p in policies if dataset_matches(p, dataset) and _user_matches(p, user_tags)]
    mask_policies = [p for p in applicable if p.type == "mask"]
    tags_by_column = {column.lower(): tags for column, tags in dataset.column_tags.items()}
    masks: dict[str, tuple[str, dict]] = {}
    for column in dataset.columns:
        tags = tags_by_column.get(column.lower(), frozenset())
        candidates = [(p.priority, p.name, p.mask) for p in mask_policies
                      if column.lower() in p.columns or any(_tag_matches(t, tags) for t in p.column_tags)]
        if PII_READER not in user_tags:
            candidates += [(PII_PRIORITY, *_PII_MASKS.get(tag, _PII_OTHER)) for tag in tags if tag.startswith("PII.")]
        if candidates:
            _, name, mask = min(candidates, key=lambda c: (c[0], c[1]))
            masks[column] = (name, mask)
    filters = tuple(sorted(((p.name, p.filters) for p in applicable if p.type == "filter"), key=lambda f: f[0]))
    return Governance(masks, filters)


# --- parsing ---------------------------------------------------------------------------------------

def parse_data_policy(name: str, data: Mapping[str, Any]) -> DataPolicy:
    """Build a `DataPolicy` from a manifest's ``policy.data`` section, or raise `PolicyError`."""
    root = "policy.data"
    check_keys(data, root, {"type", "priority", "depot", "collection", "dataset", "dataset_id", "selector",
                             "mask", "filters", "dialect"}, {"type", "priority", "selector"})
    kind = data["type"]
    if kind not in ("mask", "filter"):
        raise PolicyError(f"{root}.type", "must be 'mask' or 'filter'")
    priority = data["priority"]
    if not isinstance(priority, int) or isinstance(priority, bool) or priority < 0:
        raise PolicyError(f"{root}.priority", "must be a non-negative integer")
    selector = data["selector"]
    check_keys(selector, f"{root}.selector", {"user", "column"}, {"user"})
    user_tags = _user_selector(selector["user"], f"{root}.selector.user")
    dialect = check_dialect(string(data["dialect"], f"{root}.dialect"), f"{root}.dialect") if "dialect" in data \
        else "duckdb"
    other, needed = ("filters", "mask") if kind == "mask" else ("mask", "filters")
    if other in data:
        raise PolicyError(f"{root}.{other}", f"is not allowed in a {kind} policy")
    if needed not in data:
        raise PolicyError(f"{root}.{needed}", "is required")
    columns: frozenset[str] = frozenset()
    column_tags: frozenset[str] = frozenset()
    mask, filters, reads = None, (), ()
    if kind == "filter":
        if "column" in selector:
            raise PolicyError(f"{root}.selector.column", "is not allowed in a filter policy")
        items = nonempty_list(data["filters"], f"{root}.filters")
        parsed = [_filter(f, f"{root}.filters[{i}]", dialect) for i, f in enumerate(items)]
        filters = tuple(spec for spec, _ in parsed)
        reads = tuple(dict.fromkeys(name for _, names in parsed for name in names))
    else:
        if "column" not in selector:
            raise PolicyError(f"{root}.selector.column", "is required")
        columns, column_tags = _column_selector(selector["column"], f"{root}.selector.column")
        mask = _mask(data["mask"], f"{root}.mask", dialect)
    return DataPolicy(name, kind, priority, _dataset_key(data, root), user_tags, columns, column_tags, mask, filters,
                      reads)


def _user_selector(value: Any, field: str) -> tuple[frozenset[str], ...]:
    check_keys(value, field, {"match", "tags"}, {"tags"})
    match = value.get("match", "any")
    if match not in ("any", "all"):
        raise PolicyError(f"{field}.match", "must be 'any' or 'all'")
    tags = strings(value["tags"], f"{field}.tags")
    return tuple(frozenset([t]) for t in tags) if match == "any" else (frozenset(tags),)


def _column_selector(value: Any, field: str) -> tuple[frozenset[str], frozenset[str]]:
    check_keys(value, field, {"names", "tags"}, set())
    if not value:
        raise PolicyError(field, "needs 'names' or 'tags'")
    names = strings(value["names"], f"{field}.names") if "names" in value else []
    tags = strings(value["tags"], f"{field}.tags") if "tags" in value else []
    return frozenset(n.lower() for n in names), frozenset(tags)


def governed_datasets(data: Any) -> DataPolicy:
    """What a ``policy.data`` section that no longer parses stood for, as far as it can be told: a
    policy over the datasets it names (every dataset, when even that cannot be read)."""
    try:
        key = _dataset_key(data, "policy.data") if isinstance(data, Mapping) else None
    except PolicyError:
        key = None
    return DataPolicy("", "filter", 0, key, ())


def _dataset_key(data: Mapping[str, Any], root: str) -> str | None:
    """``dataset_id`` (``depot.collection.dataset`` or a ``dataos://`` address), or the separate
    ``depot``/``collection``/``dataset`` fields (a missing one matches any), or None for any dataset."""
    parts = [key for key in ("depot", "collection", "dataset") if key in data]
    if "dataset_id" in data:
        if parts:
            raise PolicyError(f"{root}.{parts[0]}", "cannot be combined with dataset_id")
        value = string(data["dataset_id"], f"{root}.dataset_id")
        address = re.fullmatch(r"dataos://([^:/]+):([^/]+)/(.+)", value)
        key = ".".join(address.groups()) if address else value
        if not all(key.split(".")) or (len(key.split(".")) != 3 and "**" not in key):
            raise PolicyError(f"{root}.dataset_id",
                              "must be depot.collection.dataset (globs allowed) or dataos://depot:collection/dataset")
        return key
    if not parts:
        return None
    values = {key: string(data[key], f"{root}.{key}") for key in parts}
    for key, value in values.items():
        if "." in value:
            raise PolicyError(f"{root}.{key}", "must not contain '.'")
    return ".".join(values.get(key, "*") for key in ("depot", "collection", "dataset"))


def _mask(value: Any, field: str, dialect: str) -> dict:
    check_keys(value, field, {"operator", *MASK_OPERATORS}, {"operator"})
    op = value["operator"]
    if op not in MASK_OPERATORS:
        raise PolicyError(f"{field}.operator", f"must be one of: {', '.join(MASK_OPERATORS)}")
    for key in value:
        if key not in ("operator", op):
            raise PolicyError(f"{field}.{key}", f"does not belong to operator {op}")
    params = value.get(op) or {}
    sub = f"{field}.{op}"
    if op == "hash":
        check_keys(params, sub, {"algo"}, set())
        if params.get("algo", "sha256") != "sha256":
            raise PolicyError(f"{sub}.algo", "must be sha256 (hashes are keyed: HMAC-SHA256)")
        params = {"algo": "sha256"}
    elif op == "redact":
        check_keys(params, sub, {"replacement"}, set())
        replacement = params.get("replacement", REDACTED)
        if not isinstance(replacement, str):
            raise PolicyError(f"{sub}.replacement", "must be a string")
        params = {"replacement": replacement}
    elif op == "bucket_number":
        check_keys(params, sub, {"buckets"}, {"buckets"})
        buckets = nonempty_list(params["buckets"], f"{sub}.buckets")
        for i, bound in enumerate(buckets):
            if not _is_number(bound):
                raise PolicyError(f"{sub}.buckets[{i}]", "must be a finite number")
        if any(a >= b for a, b in zip(buckets, buckets[1:])):
            raise PolicyError(f"{sub}.buckets", "must be strictly increasing")
        params = {"buckets": list(buckets)}
    elif op == "bucket_date":
        check_keys(params, sub, {"precision"}, {"precision"})
        if params["precision"] not in DATE_PRECISIONS:
            raise PolicyError(f"{sub}.precision", f"must be one of: {', '.join(DATE_PRECISIONS)}")
        params = {"precision": params["precision"]}
    elif op == "regex_replace":
        check_keys(params, sub, {"pattern", "replacement"}, {"pattern", "replacement"})
        if not isinstance(params["replacement"], str):
            raise PolicyError(f"{sub}.replacement", "must be a string")
        params = {"pattern": string(params["pattern"], f"{sub}.pattern"), "replacement": params["replacement"]}
    elif op == "rand_pattern":
        check_keys(params, sub, {"pattern"}, {"pattern"})
        params = {"pattern": string(params["pattern"], f"{sub}.pattern")}
    elif op == "expression":
        check_keys(params, sub, {"sql"}, {"sql"})
        params = {"sql": parse(string(params["sql"], f"{sub}.sql"), dialect, "mask", f"{sub}.sql").sql}
    elif params:
        raise PolicyError(sub, "takes no parameters")
    return {"operator": op, op: params} if params else {"operator": op}


def _filter(value: Any, field: str, dialect: str) -> tuple[dict, tuple[str, ...]]:
    """A filter and the datasets it reads."""
    if isinstance(value, Mapping) and "expression" in value:
        check_keys(value, field, {"expression"}, {"expression"})
        parsed = parse(string(value["expression"], f"{field}.expression"), dialect, "filter", f"{field}.expression")
        return {"expression": parsed.sql}, parsed.datasets
    check_keys(value, field, {"column", "operator", "value", "expression"}, {"column", "operator", "value"})
    column = string(value["column"], f"{field}.column")
    op = value["operator"]
    if op not in FILTER_OPERATORS:
        raise PolicyError(f"{field}.operator", f"must be one of: {', '.join(FILTER_OPERATORS)}")
    operand = value["value"]
    if op in ("in", "not_in"):
        items = nonempty_list(operand, f"{field}.value")
        for i, item in enumerate(items):
            _scalar(item, f"{field}.value[{i}]")
        operand = list(items)
    else:
        _scalar(operand, f"{field}.value")
    return {"column": column, "operator": op, "value": operand}, ()


# --- field checks ----------------------------------------------------------------------------------

def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _scalar(value: Any, field: str) -> None:
    if not (isinstance(value, (str, bool)) or _is_number(value)):
        raise PolicyError(field, f"must be a string, number or boolean, not {kind(value)}")


