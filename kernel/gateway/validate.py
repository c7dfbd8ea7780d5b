"""A data policy checked against the catalog at apply: each filter's column must be a column of the
datasets the policy names, and each value must fit that column's type; each filter or mask
expression may name only columns of those datasets, compare them only with literals that fit, read
only datasets of the catalog, and must mean what it is for in DuckDB (a filter a condition, a mask
a value of the masked column's type or one that converts to it implicitly). Otherwise the apply is
refused (EINVAL naming the policy, the field and the column) — never a later failure of every query
on the dataset, blamed on the user who ran it."""
from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from typing import Any

from sqlglot import exp

from syscalls.errors import SyscallError

from . import proof
from .expressions import (Compiled, compile_filter, comparisons, expression_tree, filter_tree, is_user_attribute,
                          literal_value, mask_value, outside_queries)
from .masks import SOURCE_ALIAS, data_type
from .model import Dataset
from .policies import DataPolicy, dataset_matches

Catalog = Iterable[tuple[Dataset, Mapping[str, str]]]

_NUMERIC = frozenset({"TINYINT", "SMALLINT", "INT", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINT",
                      "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "DECIMAL"})
_NEAR = 0.6  # how alike a name must be to be offered as "did you mean" (difflib's ratio)


def check_filters(policy: DataPolicy, catalog: Catalog) -> None:
    """EINVAL unless every filter of `policy` fits each dataset of `catalog` (a dataset and its column
    types) it applies to, and the datasets its expressions read are in `catalog`. A dataset pattern
    (`*`) need not have the columns in every dataset it matches (a filter on a missing column hides
    every row); an exact one must."""
    catalog = list(catalog)
    by_name = {_sql_name(dataset).lower(): columns for dataset, columns in catalog}
    for i, spec in enumerate(policy.filters):
        if "expression" in spec:
            _check_reads(policy, f"policy.data.filters[{i}].expression", filter_tree(spec), by_name)
    for dataset, columns, exact in _applying(policy, catalog):
        for i, spec in enumerate(policy.filters):
            field = f"policy.data.filters[{i}]"
            if "expression" not in spec:
                _check_literal(policy, field, spec, dataset, columns, exact)
                continue
            field += ".expression"
            if _check_expression(policy, field, filter_tree(spec), dataset, columns, exact):
                kind = _engine_type(policy, field, dataset, compile_filter(spec, columns, ()), columns, by_name)
                if kind != "BOOLEAN":
                    raise _refused(policy, field, f"on {_sql_name(dataset)} the expression is {kind}, not a "
                                                  "condition (BOOLEAN)")


def check_mask(policy: DataPolicy, catalog: Catalog) -> None:
    """EINVAL unless the mask expression of `policy` (if it has one) names only columns of each
    dataset of `catalog` it applies to that has a column it masks (by name: the catalog gives no
    tags here), compares them with literals that fit, and its value converts to each masked
    column's type implicitly (or is of it). A pattern need not have the columns (the mask is NULL)."""
    if policy.mask is None or policy.mask["operator"] != "expression":
        return
    field = "policy.data.mask.expression.sql"
    tree = expression_tree(policy.mask["expression"]["sql"])
    for dataset, columns, exact in _applying(policy, catalog):
        masked = [name for name in columns if name.lower() in policy.columns]
        if not masked or not _check_expression(policy, field, tree, dataset, columns, exact):
            continue
        kind = _engine_type(policy, field, dataset, mask_value(policy.mask, columns, ()), columns, {})
        for name in masked:
            if not _converts(kind, columns[name]):
                raise _refused(policy, field, f"the mask is {kind}, which does not convert to column {name} "
                                              f"({columns[name]}) of {_sql_name(dataset)} implicitly: CAST it")


def _applying(policy: DataPolicy, catalog: Catalog) -> Iterator[tuple[Dataset, Mapping[str, str], bool]]:
    """The datasets of `catalog` that `policy` applies to, their columns, and whether it names them
    exactly (no pattern)."""
    exact = policy.exact_dataset is not None
    for dataset, columns in catalog:
        if dataset_matches(policy, dataset):
            yield dataset, columns, exact


def _check_reads(policy: DataPolicy, field: str, tree: exp.Expression, by_name: Mapping[str, object]) -> None:
    """EINVAL for a dataset `tree` reads that is not in the catalog (`by_name`: lower-case SQL names)."""
    for table in tree.find_all(exp.Table):
        name = ".".join(part.name for part in table.parts)
        if len(table.parts) == 3 and name.lower() not in by_name:
            raise _refused(policy, field, f"{name} is not in the catalog{_nearest(name, list(by_name))}")


def _check_literal(policy: DataPolicy, field: str, spec: dict, dataset: Dataset, columns: Mapping[str, str],
                   exact: bool) -> None:
    found = _column(columns, spec["column"])
    if found is None:
        if exact:
            raise _refused(policy, f"{field}.column", f"{_sql_name(dataset)} has no column {spec['column']!r}")
        return
    column, type_name = found
    for value in spec["value"] if isinstance(spec["value"], list) else [spec["value"]]:
        if not fits(value, type_name):
            raise _refused(policy, f"{field}.value", f"{value!r} does not fit column {column} ({type_name}) of "
                                                     f"{_sql_name(dataset)}")


def _check_expression(policy: DataPolicy, field: str, tree: exp.Expression, dataset: Dataset,
                      columns: Mapping[str, str], exact: bool) -> bool:
    """EINVAL for a column outside subqueries that `dataset` lacks (when `exact`) or a literal or
    user attribute that does not fit the column it is compared with; False when a column is missing
    (nothing more to check on this dataset)."""
    for node in outside_queries(tree, exp.Column):
        if _column(columns, node.name) is None:
            if exact:
                raise _refused(policy, field, f"{_sql_name(dataset)} has no column {node.name}"
                                              f"{_nearest(node.name, list(columns))}")
            return False
    for name, other in comparisons(tree):
        column, type_name = _column(columns, name)  # type: ignore[misc]
        if is_user_attribute(other):
            parsed = data_type(type_name)
            if parsed is None or not parsed.is_type(*exp.DataType.TEXT_TYPES):
                raise _refused(policy, field, f"column {column} ({type_name}) of {_sql_name(dataset)} is compared "
                                              "with a user attribute, which is text: compare CAST(column AS VARCHAR)")
            continue
        value = literal_value(other)
        if not fits(value, type_name):
            raise _refused(policy, field, f"{value!r} does not fit column {column} ({type_name}) of "
                                          f"{_sql_name(dataset)}")
    return True


def _engine_type(policy: DataPolicy, field: str, dataset: Dataset, compiled: Compiled | None,
                 columns: Mapping[str, str], by_name: Mapping[str, Mapping[str, str]]) -> str:
    """The DuckDB type of `compiled` (user attributes NULL) over empty tables of the dataset's and
    the read datasets' columns; EINVAL when DuckDB cannot bind it."""
    import duckdb
    assert compiled is not None  # (its columns were checked)
    statements = [_create(SOURCE_ALIAS, columns)]
    for i, table in enumerate(compiled.tables):
        stand_in = f"gw_read_{i}"
        statements.append(_create(stand_in, by_name[".".join(p.name for p in table.parts).lower()]))
        alias = table.args.get("alias") or exp.TableAlias(this=table.this.copy())
        table.replace(exp.Table(this=exp.to_identifier(stand_in, quoted=True), alias=alias))
    select = exp.select(exp.alias_(compiled.tree, "value", quoted=True)).from_(
        exp.Table(this=exp.to_identifier(SOURCE_ALIAS, quoted=True)))
    with duckdb.connect(config={"enable_external_access": False}) as con:
        try:
            for statement in statements:
                con.execute(statement)
            return con.execute("DESCRIBE " + proof.generate(select)).fetchall()[0][1]
        except duckdb.Error as e:
            raise _refused(policy, field, f"on {_sql_name(dataset)}: {str(e).splitlines()[0]}") from None


def _create(name: str, columns: Mapping[str, str]) -> str:
    """``CREATE TABLE name (…)`` with `columns` (a type sqlglot cannot read as VARCHAR)."""
    definitions = [exp.ColumnDef(this=exp.to_identifier(column, quoted=True),
                                 kind=data_type(type_name) or exp.DataType.build("VARCHAR"))
                   for column, type_name in columns.items()]
    table = exp.Schema(this=exp.Table(this=exp.to_identifier(name, quoted=True)), expressions=definitions)
    return proof.generate(exp.Create(this=table, kind="TABLE"))


def _converts(kind: str, type_name: str) -> bool:
    """Whether DuckDB converts values of type `kind` to `type_name` implicitly (or they are the same)."""
    import duckdb
    source, target = data_type(kind), data_type(type_name)
    if source is None or target is None:
        return False
    if source.sql("duckdb") == target.sql("duckdb"):
        return True
    sql = proof.generate(exp.select(exp.func("can_cast_implicitly", exp.cast(exp.null(), source),
                                             exp.cast(exp.null(), target))))
    return duckdb.execute(sql).fetchone()[0]


def _column(columns: Mapping[str, str], name: str) -> tuple[str, str] | None:
    """The dataset column `name` resolves to as DuckDB resolves it (exactly, else ignoring case)."""
    if name in columns:
        return name, columns[name]
    return next(((column, type_name) for column, type_name in columns.items() if column.lower() == name.lower()),
                None)


def _nearest(name: str, candidates: list[str]) -> str:
    """" (did you mean CANDIDATE?)" for the candidate nearest to `name` (ignoring case), or ""."""
    spelled = {c.lower(): c for c in candidates}
    near = difflib.get_close_matches(name.lower(), list(spelled), n=1, cutoff=_NEAR)
    return f" (did you mean {spelled[near[0]]}?)" if near else ""


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
