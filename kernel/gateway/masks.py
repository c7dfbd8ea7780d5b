"""Mask operators and row filters as DuckDB SQL, and the governed derived table that replaces every
reference to a dataset.

A governed table is ``(SELECT <mask(col)> AS col, … FROM temp.main."<address>" AS gw_source WHERE
<filters>)``: columns keep their names, order and (where the operator allows) types. ``"<address>"``
is the dataset's address (``dataos://depot:collection/name``), which the engine knows as a
temporary view of the dataset's source, so the SQL names no file path or connection; qualified,
it cannot be shadowed by a CTE of the user's (whose names may not start with ``dataos://`` anyway).
With row filters, the columns some user expression could fail or tell on (`leakproof`) are also
gated, ``CASE WHEN <filters> THEN <mask(col)> END``: should the engine evaluate that expression
before the policy's WHERE (its optimizer may reorder conjuncts, push and pull filters), rows the
policy hides show only NULLs, so neither results nor error messages can reveal them. The user's
leakproof conjuncts over the dataset may join the policy's WHERE (`with_pushed`).

Operators (NULL stays NULL unless noted):

- ``hash``: keyed HMAC-SHA256 of ``CAST(col AS VARCHAR)``, lowercase hex (VARCHAR), computed by the
  kernel function ``gw_keyed_hash`` (`keyed_hash`) that the engine calls: the key (and the HMAC pads
  derived from it) stay in the kernel's memory, never in SQL text, a parameter, a setting or
  anything else a query could select.
- ``redact``: string columns become the replacement (default ``'#####'``); other types become a
  NULL of the column's type, so comparisons and arithmetic still type-check.
- ``bucket_number``: the lower bound of the value's bucket, cast to the column type (NULL below the
  first bound or for non-numeric columns).
- ``bucket_date``: ``date_trunc(precision, col)`` cast back to the column type (NULL for columns
  that are neither dates nor timestamps).
- ``regex_replace``: ``regexp_replace(CAST(col AS VARCHAR), pattern, replacement, 'g')`` (RE2).
- ``rand_pattern``: a fresh random string per row: each ``#`` of the pattern a random digit, any
  other character kept.
- ``pass_through``: the raw column.
- ``expression``: the policy's SQL over the row (`expressions`), ``TRY_CAST`` to the column's type.

Operators that do not apply to a column's type fail closed (NULL). Row filters are the policies'
expressions (`expressions.compile_filter`; a literal filter is sugar for one); a subquery of one
reads its datasets through the engine's views of them, as the policy's author wrote it, whoever
queries (`GovernedTable.reads`).
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import sqlglot
from sqlglot import exp

from .checks import KEYED_HASH, SOURCE_ALIAS
from .expressions import compile_filter, compile_mask
from .model import Dataset
from .policies import Governance
from .proof import generate, prove, translate

_BLOCK = 64  # SHA-256 block size

_DATE_TYPES = exp.DataType.TEMPORAL_TYPES - {exp.DataType.Type.TIME, exp.DataType.Type.TIMETZ}


def keyed_hash(key: bytes) -> Callable[[Any], Any]:
    """The ``hash`` mask as an Arrow-vectorized engine function: HMAC-SHA256 under `key` (RFC 2104,
    its pads precomputed here, in the kernel) of each value's UTF-8 text, as lowercase hex."""
    import pyarrow as pa
    block = (hashlib.sha256(key).digest() if len(key) > _BLOCK else key).ljust(_BLOCK, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def digest(values: Any) -> Any:
        out = []
        for value in values.to_pylist():
            if value is None:
                out.append(None)
                continue
            h = inner.copy()
            h.update(value.encode())
            o = outer.copy()
            o.update(h.digest())
            out.append(o.hexdigest())
        return pa.array(out, pa.string())

    return digest


VIEW_SCHEMA = ("temp", "main")
"""Where the engine keeps the views: qualified, no CTE or alias can stand in for them."""


def view_name(dataset: Dataset) -> str:
    """The name the engine knows a dataset's raw source by (in `VIEW_SCHEMA`): its address."""
    return dataset.address


@dataclass(frozen=True)
class GovernedTable:
    """A governed table's query as a tree and as the engine SQL proven to parse back to it, and the
    addresses of the other datasets its row filters read. Shared by every plan that uses it:
    read-only."""
    tree: exp.Select
    sql: str
    reads: tuple[str, ...] = ()
    head: str | None = None  # `sql` up to its WHERE, when `sql` is exactly that, " WHERE ", and the condition
    plain: bool = False  # no mask, no filter: the dataset's view may stand in its place


def governed_table(dataset: Dataset, governance: Governance, guarded: frozenset[str] | None = None,
                   user_tags: frozenset[str] = frozenset(), outputs: frozenset[str] | None = None) -> GovernedTable:
    """``SELECT … FROM "<address>" AS gw_source WHERE …`` for `dataset` under `governance`, with the
    columns in `guarded` (all when None) gated by the row filters; policy expressions see the user
    as `user_tags` say. It selects the columns in `outputs` (lower-case names; all when None, at
    least the first): the query's; its filters and masks read the source's, whatever it selects."""
    masks = {column: mask for column, (_, mask) in governance.masks.items()}
    filter_lists = [filters for _, filters in governance.filters]
    personal = any("expression" in f for filters in filter_lists for f in filters) or \
        any(mask["operator"] == "expression" for mask in masks.values())
    spec = json.dumps([view_name(dataset), list(dataset.columns.items()), masks, filter_lists,
                       sorted(dataset.columns if guarded is None else guarded),
                       sorted(user_tags) if personal else [],
                       None if outputs is None else sorted(outputs)], sort_keys=True)
    return _governed_table(spec)


def with_pushed(governed: GovernedTable, conjuncts: list[exp.Expression]) -> GovernedTable:
    """`governed` with `conjuncts` (leakproof, over the source alias) added to its WHERE. The text is
    not proven here: the plan's final proof covers it. The new tree shares `governed`'s nodes but for
    its WHERE (they are read-only), and only the WHERE is generated anew."""
    where = governed.tree.args.get("where")
    condition = exp.and_(*([where.this.copy()] if where else []), *conjuncts, copy=False)
    tree = exp.Select()
    tree.args = {**governed.tree.args, "where": None}
    tree.set("where", exp.Where(this=condition))
    if governed.head is None:
        return replace(governed, tree=tree, sql=generate(tree))
    return replace(governed, tree=tree, sql=f"{governed.head} WHERE {generate(condition)}")


@lru_cache(maxsize=1024)
def _governed_table(spec: str) -> GovernedTable:
    view, columns, masks, filter_lists, guarded, user_tags, selected = json.loads(spec)
    types = dict(columns)
    compiled = [compile_filter(f, types, user_tags) for filters in filter_lists for f in filters]
    reads = tuple(dict.fromkeys(_read_view(table) for c in compiled for table in c.tables))
    condition = generate(exp.and_(*(c.tree for c in compiled), copy=False)) if compiled else ""
    outputs = []
    for i, (name, type_name) in enumerate(columns):
        if selected is not None and name.lower() not in selected and (i or any(c.lower() in selected
                                                                                for c, _ in columns)):
            continue
        if name not in masks:
            value = _source(name) if compiled or masks else _ident(name)  # (nothing else in scope)
        elif masks[name]["operator"] == "expression":
            value = generate(compile_mask(masks[name], name, types, user_tags).tree)
        else:
            value = _mask_sql(_source(name), data_type(type_name), masks[name])
        if condition and name in guarded:
            value = f"CASE WHEN {condition} THEN {value} END"
        outputs.append(value if value in (_source(name), _ident(name)) else f"{value} AS {_ident(name)}")
    source = ".".join(_ident(part) for part in (*VIEW_SCHEMA, view))
    sql = (f"SELECT {', '.join(outputs)} FROM {source} AS {_ident(SOURCE_ALIAS)}"
           + (f" WHERE {condition}" if condition else ""))
    tree = translate(sqlglot.parse_one(sql, read="duckdb"))  # as the engine's SQL reads back
    text = generate(tree)
    prove(text, tree)
    where = tree.args.get("where")
    if where is None:
        return GovernedTable(tree, text, reads, text, plain=not masks)
    bare = exp.Select()
    bare.args = {**tree.args, "where": None}
    head = generate(bare)
    return GovernedTable(tree, text, reads, head if text == f"{head} WHERE {generate(where.this)}" else None)


def _read_view(table: exp.Table) -> str:
    """Point a policy subquery's ``depot.collection.dataset`` at the engine's view of that dataset
    (aliased by its name, as written: the subquery's columns keep resolving); its address."""
    depot, collection, name = (part.name for part in table.parts)
    address = f"dataos://{depot}:{collection}/{name}"
    table.replace(exp.Table(this=exp.to_identifier(address, quoted=True), db=exp.to_identifier(VIEW_SCHEMA[1]),
                            catalog=exp.to_identifier(VIEW_SCHEMA[0]),
                            alias=table.args.get("alias") or exp.TableAlias(this=exp.to_identifier(name, quoted=True))))
    return address


def _mask_sql(column: str, data_type: exp.DataType | None, mask: dict) -> str:
    op = mask["operator"]
    params = mask.get(op, {})
    typed_null = f"CAST(NULL AS {data_type.sql('duckdb')})" if data_type else "NULL"
    if op == "hash":
        return f"{KEYED_HASH}(CAST({column} AS VARCHAR))"
    if op == "redact":
        if data_type and data_type.is_type(*exp.DataType.TEXT_TYPES):
            return f"CASE WHEN {column} IS NULL THEN NULL ELSE {_literal(params['replacement'])} END"
        return typed_null
    if op == "bucket_number":
        if not (data_type and data_type.is_type(*exp.DataType.NUMERIC_TYPES)):
            return typed_null
        type_sql = data_type.sql("duckdb")
        arms = " ".join(f"WHEN {column} >= {_literal(b)} THEN CAST({_literal(b)} AS {type_sql})"
                        for b in reversed(params["buckets"]))
        return f"CASE {arms} END"
    if op == "bucket_date":
        if not (data_type and data_type.is_type(*_DATE_TYPES)):
            return typed_null
        return f"CAST(date_trunc({_literal(params['precision'])}, {column}) AS {data_type.sql('duckdb')})"
    if op == "regex_replace":
        return (f"regexp_replace(CAST({column} AS VARCHAR), {_literal(params['pattern'])}, "
                f"{_literal(params['replacement'])}, 'g')")
    if op == "rand_pattern":
        digit = "CAST(floor(random() * 10) AS INTEGER)"
        parts = []
        for i, run in enumerate(params["pattern"].split("#")):
            parts += ([digit] if i else []) + ([_literal(run)] if run else [])
        return f"CASE WHEN {column} IS NULL THEN NULL ELSE concat({', '.join(parts)}) END"
    return column  # pass_through


def _ident(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql("duckdb")


def _source(column: str) -> str:
    return f"{_ident(SOURCE_ALIAS)}.{_ident(column)}"


def _literal(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str):
        return exp.Literal.string(value).sql("duckdb")
    return exp.Literal.number(value).sql("duckdb")


@lru_cache(maxsize=1024)
def data_type(type_name: str) -> exp.DataType | None:
    """The DuckDB type `type_name` names (None when sqlglot cannot read it)."""
    try:
        return exp.DataType.build(type_name, dialect="duckdb")
    except (sqlglot.errors.ParseError, ValueError):
        return None
