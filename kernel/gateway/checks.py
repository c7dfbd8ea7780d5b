"""What the Gateway accepts in SQL, for queries and policy expressions alike: a dialect by its bare
name, queries and no other statement, every function on the allowlist, no name of the engine's
own, and every relation a CTE in scope or a dataset (`Walk`); syntax errors with their positions.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError

from . import proof
from .functions import function_name, is_allowed
from .model import Dataset, GatewayError, shown

KEYED_HASH = "gw_keyed_hash"
"""The engine function behind the ``hash`` mask (see `masks.keyed_hash`); not callable by user SQL."""
SOURCE_ALIAS = "gw_source"
"""The raw source's alias inside a governed table; user queries may not use this identifier, so a
column the source lacks fails to bind instead of binding to a relation of the user's."""
VIEW_PREFIX = "dataos://"
"""Engine views are named by dataset address; user SQL may not use such a name (a CTE of that
name would otherwise be what a governed table reads)."""
RESERVED = (KEYED_HASH, SOURCE_ALIAS)

STATEMENTS = (exp.DML, exp.DDL, exp.Command, exp.Drop, exp.Alter, exp.Set, exp.Pragma, exp.Use, exp.Describe,
              exp.Show, exp.Transaction, exp.Commit, exp.Rollback, exp.Attach, exp.Detach, exp.Install,
              exp.Summarize, exp.Export, exp.Analyze, exp.Cache, exp.Uncache, exp.Refresh, exp.Kill, exp.LoadData,
              exp.Grant, exp.Revoke, exp.Comment, exp.Declare, exp.TruncateTable)
FORBIDDEN = (*STATEMENTS, exp.Into, exp.Placeholder, exp.Parameter, exp.SessionParameter,
             exp.ByteString)  # E'…' strings: their escapes are read differently by different tokenizers
_TABLE_ARGS = frozenset({"this", "db", "catalog", "alias", "pivots", "sample", "joins", "laterals"})
_LATERAL_SOURCES = (exp.Subquery, exp.Values, exp.Unnest, exp.GenerateSeries)
_DIALECT = re.compile(r"[a-z][a-z0-9_]*")


def check_dialect(dialect: str) -> None:
    """EINVAL (field ``dialect``) unless sqlglot knows `dialect` by that bare name."""
    try:
        if not _DIALECT.fullmatch(dialect):  # a bare name: no ", setting=value" suffix
            raise ValueError(dialect)
        Dialect.get_or_raise(dialect)
    except ValueError:
        raise GatewayError("EINVAL", f"unknown SQL dialect {shown(dialect)}", field="dialect") from None


def parse_error_position(error: ParseError) -> tuple[int, int] | None:
    """(line, column) of the first column of the token the parser stopped at (sqlglot gives its last)."""
    first = error.errors[0] if error.errors else {}
    line, col, token = first.get("line"), first.get("col"), first.get("highlight") or ""
    if not isinstance(line, int) or not isinstance(col, int):
        return None
    return line, (max(1, col - len(token) + 1) if token and "\n" not in token else col)


def _source_name(node: exp.Expression) -> str:
    return function_name(node) if isinstance(node, exp.Func) else type(node).__name__.lower()


def token_error_position(sql: str, dialect: str) -> tuple[int, int] | None:
    """Where the tokenizer stopped, when its (pure-Python) core exposes it."""
    tokenizer = Dialect.get_or_raise(dialect).tokenizer()
    try:
        tokenizer.tokenize(sql)
    except TokenError:
        core = getattr(tokenizer, "_core", None)
        line, col = getattr(core, "_line", None), getattr(core, "_col", None)
        return (line, col) if isinstance(line, int) and isinstance(col, int) else None
    return None


def statement_name(node: exp.Expression) -> str:
    """What a refused node is, in words: "DROP statement", "a query parameter", …"""
    if isinstance(node, exp.Command):  # sqlglot's fallback for statements it does not model
        return f"{shown(str(node.this).upper())} statement"
    if isinstance(node, exp.Into):
        return "SELECT … INTO"
    if isinstance(node, (exp.Placeholder, exp.Parameter)):
        return "a query parameter"
    if isinstance(node, exp.SessionParameter):
        return "a session variable"
    if isinstance(node, (*STATEMENTS, exp.Pivot)):
        return f"{type(node).__name__.upper()} statement"
    return "this statement"


class Walk:
    """One pass over a parsed query: checks every node, collects its dataset references (`find`
    maps a reference's names to the dataset, or raises)."""

    def __init__(self, find: Callable[[Sequence[str]], Dataset]) -> None:
        self.find = find
        self.tables: list[tuple[exp.Table, Dataset]] = []
        self.written: list[tuple[tuple[str, ...], Dataset]] = []  # each reference's names, and its dataset

    def visit(self, node: exp.Expression, ctes: frozenset[str]) -> None:
        proof.check_text(node)
        if isinstance(node, exp.Func):
            if not is_allowed(node):
                raise GatewayError("EACCES", f"function {function_name(node)} is not allowed")
        elif isinstance(node, FORBIDDEN):
            raise GatewayError("EACCES", f"{statement_name(node)} is not allowed")
        elif isinstance(node, exp.Table):
            self._table(node, ctes)
        elif isinstance(node, exp.Lateral) and not isinstance(node.this, _LATERAL_SOURCES):
            # DuckDB table functions (and table macros named like aggregates, e.g. histogram) read
            # relations by name: only subqueries and value generators may be lateral sources
            raise GatewayError("EACCES", f"table function {_source_name(node.this)} is not allowed")
        elif isinstance(node, exp.Pivot) and node.this is not None and not node.args.get("unpivot") and \
                not all(isinstance(on, exp.In) for on in node.expressions):
            # DuckDB runs a PIVOT without IN lists as two statements (the first creates a type)
            raise GatewayError("EINVAL", "a PIVOT needs the values to pivot on: PIVOT … ON column IN (…)")
        elif isinstance(node, exp.Identifier) and node.name.lower() in RESERVED:
            raise GatewayError("EACCES", f"the name {node.name.lower()} is reserved")
        elif isinstance(node, exp.Identifier) and node.name.lower().startswith(VIEW_PREFIX):
            raise GatewayError("EACCES", f"names starting with {VIEW_PREFIX} are reserved (the engine's views of "
                                         "datasets): in SQL a dataset is depot.collection.dataset")
        with_ = node.args.get("with_")
        if isinstance(with_, exp.With):  # (on some nodes `with_` is a flag: IS JSON … WITH UNIQUE KEYS)
            ctes = self._with(with_, ctes)
        for child in node.iter_expressions():
            if child is not with_:
                self.visit(child, ctes)

    def _with(self, with_: exp.With, ctes: frozenset[str]) -> frozenset[str]:
        visible = set(ctes)
        for child in with_.iter_expressions():
            if not isinstance(child, exp.CTE):
                self.visit(child, frozenset(visible))
                continue
            name = fold(child.alias_or_name)
            body = child.this
            for part in child.iter_expressions():
                if part is not body:
                    self.visit(part, frozenset(visible))
            if with_.args.get("recursive") and isinstance(body, exp.Union) and body.args.get("with_") is None:
                for part in body.iter_expressions():
                    self.visit(part, frozenset(visible | {name}) if part is body.expression else frozenset(visible))
            else:
                self.visit(body, frozenset(visible))
            visible.add(name)
        return frozenset(visible)

    def _table(self, node: exp.Table, ctes: frozenset[str]) -> None:
        if isinstance(node.this, exp.Func):
            raise GatewayError("EACCES", f"table function {function_name(node.this)} is not allowed")
        parts = node.parts
        names = [part.name for part in parts]
        if len(names) == 1 and isinstance(parts[0], exp.Identifier) and fold(names[0]) in ctes:
            return
        if not all(isinstance(part, exp.Identifier) for part in parts):
            names = [""]  # not a name at all: unknown, like any name that is not a dataset
        elif any(value for key, value in node.args.items() if key not in _TABLE_ARGS):
            raise GatewayError("EINVAL", f"unsupported table modifier on {'.'.join(shown(n) for n in names)}")
        dataset = self.find(names)
        self.tables.append((node, dataset))
        self.written.append((tuple(names), dataset))


def fold(name: str) -> str:
    """Case-fold a name as DuckDB does (ASCII only): folding more could mistake a table for a CTE."""
    return name.encode().lower().decode()
