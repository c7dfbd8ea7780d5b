"""Lineage: which input columns each column of a `sql` stack job's outputs comes from, and which
datasets a query reads (sqlglot, DuckDB dialect).

A job's relations (inputs, then steps in order) become one query per output: every relation the
output reaches is a CTE (a whole-dataset input is `SELECT * FROM depot.collection.dataset`, a query
input its own query, a step its SQL) and the output is `SELECT * FROM <its name>`. sqlglot qualifies
that query against the reached datasets' catalog columns and walks each output column down to
dataset columns. Anything it cannot resolve (unknown columns, SQL it cannot parse, a reference to no
dataset) leaves that output with dataset-level lineage: the datasets its relations' FROM clauses
reach, with `"columns": {}`.

An output column computed from no input column (`count(*)`, a literal) is listed under no upstream
dataset; the dataset is still upstream of the output.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Callable, Iterable, Iterator

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.lineage import Node, lineage

DIALECT = "duckdb"
Columns = dict[str, list[list[str]]]  # output column -> [[input urn, input column], ...]


def sql_stack_lineage(spec: dict, columns_of: Callable[[str], list[str] | None], via: str) -> dict[str, dict]:
    """Column-level lineage of one sql-stack job: {output dataset urn: {"upstream": [
         {"urn": input dataset urn, "via": via, "columns": {output column: [[input urn, input column], ...]}}, ...]}}
    `columns_of(urn)` gives a dataset's column names (from the catalog; None when unknown — then `SELECT *`
    cannot be expanded and lineage falls back to dataset level: "columns": {}). `via` is the workflow's urn
    (e.g. "resource://public/workflow/daily-revenue"). Never raises on SQL it cannot analyse: it degrades
    to dataset-level lineage (the input datasets each step's FROM clauses reach)."""
    job = _Job.of(spec, columns_of)
    found: dict[str, dict[str, Columns]] = {}
    for output in spec["outputs"]:
        upstream = found.setdefault(output["dataset"], {})
        for urn, columns in job.upstream(output["name"]).items():
            _merge(upstream.setdefault(urn, {}), columns)
    return {target: {"upstream": [{"urn": urn, "via": via, "columns": columns}
                                  for urn, columns in sorted(upstream.items())]}
            for target, upstream in found.items()}


def datasets_read(sql: str) -> list[str]:
    """The UDLs a DuckDB SQL statement reads: its tables written depot.collection.dataset, as written,
    in order of first mention; empty on unparsable SQL."""
    try:
        statements = sqlglot.parse(sql, read=DIALECT)
    except SqlglotError:
        return []
    return _unique(urn for tree in statements if tree is not None for urn in _datasets(tree))


@dataclass(frozen=True)
class _Relation:
    """An input or step: its query (None when unparsable), the relations and datasets it reads directly."""
    query: exp.Query | None
    reads: frozenset[str]
    datasets: tuple[str, ...]


@dataclass(frozen=True)
class _Job:
    relations: dict[str, _Relation]  # by lower-case name, in definition order
    columns_of: Callable[[str], list[str] | None]

    @classmethod
    def of(cls, spec: dict, columns_of: Callable[[str], list[str] | None]) -> "_Job":
        relations: dict[str, _Relation] = {}
        for source in spec["inputs"]:
            relations[source["name"].lower()] = _input(source)
        for step in spec.get("steps", []):
            relations[step["name"].lower()] = _step(step["sql"], frozenset(relations))
        return cls(relations, cache(columns_of))

    def upstream(self, name: str) -> dict[str, Columns]:
        """{input dataset urn: its part of the column lineage} of the relation `name`."""
        reached = self._reach(name.lower())
        urns = _unique(urn for relation in reached.values() for urn in relation.datasets)
        upstream: dict[str, Columns] = {urn: {} for urn in urns}
        try:
            for column, sources in self._columns(name.lower(), reached, urns).items():
                for urn, source in sources:
                    upstream[urn].setdefault(column, []).append([urn, source])
        except _Unresolved:
            return {urn: {} for urn in urns}
        return upstream

    def _reach(self, name: str) -> dict[str, _Relation]:
        """The relations `name` reads, directly or not, and itself, in definition order."""
        pending, seen = [name], {name}
        while pending:
            for read in self.relations[pending.pop()].reads - seen:
                seen.add(read)
                pending.append(read)
        return {key: relation for key, relation in self.relations.items() if key in seen}

    def _columns(self, name: str, reached: dict[str, _Relation], urns: list[str]) -> dict[str, list[tuple[str, str]]]:
        """{output column: [(input urn, input column), ...]}; raises _Unresolved when sqlglot cannot tell."""
        catalog = {urn: self.columns_of(urn) for urn in urns}
        if any(relation.query is None for relation in reached.values()) or not all(catalog.values()):
            raise _Unresolved
        query = exp.select("*").from_(exp.table_(name))
        for key, relation in reached.items():
            query = query.with_(exp.to_identifier(key), as_=relation.query.copy(), copy=False)
        try:
            nodes = lineage(None, query, _schema(catalog), dialect=DIALECT, trim_selects=False, copy=False)
        except Exception as e:  # sqlglot raises more than SqlglotError on SQL it cannot follow
            raise _Unresolved from e
        by_parts = {_parts(urn, str.lower): urn for urn in urns}
        spelled = {urn: {column.lower(): column for column in columns} for urn, columns in catalog.items()}
        written = _written(reached.values())
        named = {column: written.get(column) or _catalog_spelling(column, spelled) for column in nodes}
        return {named[column]: [(urn, spelled[urn].get(source, source))
                                for urn, source in sorted(set(_leaves(node, by_parts)))]
                for column, node in nodes.items() if named[column]}


class _Unresolved(Exception):
    """Column-level lineage cannot be told for this output."""


def _input(source: dict) -> _Relation:
    if "dataset" in source:
        table = exp.table_(*reversed(_parts(source["dataset"])), quoted=True)
        return _Relation(exp.select("*").from_(table), frozenset(), (source["dataset"],))
    query = _query(source["query"])
    return _Relation(query, frozenset(), tuple(_unique(_datasets(query))) if query else ())


def _step(sql: str, visible: frozenset[str]) -> _Relation:
    """A step reads the earlier relations its FROM clauses name (any name it mentions, when unparsable)."""
    query = _query(sql)
    if query is None:
        return _Relation(None, visible & {word.lower() for word in re.findall(r"\w+", sql)}, ())
    own = {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}
    names = {table.name.lower() for table in query.find_all(exp.Table)
             if not table.db and isinstance(table.this, exp.Identifier)}
    return _Relation(query, frozenset(visible & (names - own)), ())


def _query(sql: str) -> exp.Query | None:
    """The one query `sql` holds, or None."""
    try:
        statements = [tree for tree in sqlglot.parse(sql, read=DIALECT) if tree is not None]
    except SqlglotError:
        return None
    return statements[0] if len(statements) == 1 and isinstance(statements[0], exp.Query) else None


def _leaves(node: Node, by_parts: dict[tuple[str, str, str], str]) -> Iterator[tuple[str, str]]:
    """(input urn, column) for every dataset column under a lineage node (column names lower-case)."""
    for step in node.walk():
        table = step.expression
        if isinstance(table, (exp.Query, exp.Placeholder)):  # a column sqlglot could not find, or a star
            raise _Unresolved
        if step.downstream or not isinstance(table, exp.Table):
            continue  # not a leaf, or computed from no column: count(*), a literal
        urn = by_parts.get(tuple(part.name.lower() for part in table.parts))
        column = exp.to_column(step.name, dialect=DIALECT).name
        if urn is None or column == "*":
            raise _Unresolved
        yield urn, column


def _written(relations: Iterable[_Relation]) -> dict[str, str]:
    """Lower-case column name -> as the SQL writes it (DuckDB names a result column so)."""
    return {node.name.lower(): node.name for relation in relations for node in relation.query.find_all(exp.Identifier)
            if isinstance(node.parent, (exp.Alias, exp.Column)) and node.arg_key in ("alias", "this")}


def _catalog_spelling(column: str, spelled: dict[str, dict[str, str]]) -> str | None:
    """A column the SQL does not name (`SELECT *`) is spelled as the catalog has it; None when the catalog
    does not have it either: sqlglot named it (`_col_0` for `sum(x)`), not DuckDB, so it is left out."""
    return next((names[column] for names in spelled.values() if column in names), None)


def _schema(catalog: dict[str, list[str]]) -> dict:
    """sqlglot's schema: {depot: {collection: {dataset: {column: type}}}} (types do not matter here)."""
    schema: dict = {}
    for urn, columns in catalog.items():
        depot, collection, dataset = _parts(urn)
        schema.setdefault(depot, {}).setdefault(collection, {})[dataset] = dict.fromkeys(columns, "TEXT")
    return schema


def _datasets(tree: exp.Expression) -> Iterator[str]:
    for table in tree.find_all(exp.Table):
        parts = table.parts
        if len(parts) == 3 and all(isinstance(part, exp.Identifier) for part in parts):
            depot, collection, dataset = (part.name for part in parts)
            yield f"dataos://{depot}:{collection}/{dataset}"


def _parts(urn: str, fold: Callable[[str], str] = str) -> tuple[str, str, str]:
    depot, _, rest = urn.removeprefix("dataos://").partition(":")
    collection, _, dataset = rest.partition("/")
    return fold(depot), fold(collection), fold(dataset)


def _merge(into: Columns, columns: Columns) -> None:
    for column, sources in columns.items():
        into[column] = [list(pair) for pair in sorted({*map(tuple, into.get(column, [])), *map(tuple, sources)})]


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
