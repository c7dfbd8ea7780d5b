"""A data policy's row filters checked against the catalog at apply: each filter's column must be a
column of the datasets the policy names, and each value must fit that column's type, or the apply
is refused (EINVAL naming the policy, the field and the column) — never a later failure of every
query on the dataset, blamed on the user who ran it."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from syscalls.errors import SyscallError

from .masks import data_type
from .model import Dataset
from .policies import DataPolicy, dataset_matches

_NUMERIC = frozenset({"TINYINT", "SMALLINT", "INT", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINT",
                      "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL"})


def check_filters(policy: DataPolicy, catalog: Iterable[tuple[Dataset, Mapping[str, str]]]) -> None:
    """EINVAL unless every filter of `policy` fits each dataset of `catalog` (a dataset and its column
    types) it applies to. A dataset pattern (`*`) need not have the column in every dataset it
    matches (a filter on a missing column hides every row); an exact one must."""
    exact = policy.dataset is not None and not any(c in policy.dataset for c in "*?")
    for dataset, columns in catalog:
        if not dataset_matches(policy, dataset):
            continue
        by_lower = {name.lower(): (name, type_name) for name, type_name in columns.items()}
        for i, spec in enumerate(policy.filters):
            field = f"policy.data.filters[{i}]"
            found = by_lower.get(spec["column"].lower())
            if found is None:
                if exact:
                    raise _refused(policy, f"{field}.column", f"{_sql_name(dataset)} has no column {spec['column']!r}")
                continue
            column, type_name = found
            values = spec["value"] if isinstance(spec["value"], list) else [spec["value"]]
            for value in values:
                if not fits(value, type_name):
                    raise _refused(policy, f"{field}.value", f"{value!r} does not fit column {column} "
                                                             f"({type_name}) of {_sql_name(dataset)}")


def fits(value: Any, type_name: str) -> bool:
    """Whether the engine can compare a column of `type_name` with the literal `value` (without a
    conversion error on some row): numbers for numeric columns, booleans for boolean ones, text that
    casts to the type otherwise."""
    parsed = data_type(type_name)
    base = parsed.this.name if parsed is not None else type_name.upper()
    if isinstance(value, bool):
        return base == "BOOLEAN"
    if isinstance(value, (int, float)):
        return base in _NUMERIC
    return _casts(value, parsed.sql("duckdb") if parsed is not None else "")


@lru_cache(maxsize=1024)
def _casts(text: str, type_sql: str) -> bool:
    if not type_sql:
        return False
    import duckdb
    return duckdb.execute(f"SELECT TRY_CAST($1 AS {type_sql}) IS NOT NULL", [text]).fetchone()[0]


def _sql_name(dataset: Dataset) -> str:
    return f"{dataset.depot}.{dataset.collection}.{dataset.name}"


def _refused(policy: DataPolicy, field: str, problem: str) -> SyscallError:
    return SyscallError("EINVAL", f"policy {policy.name}: {field}: {problem}", field=field)
