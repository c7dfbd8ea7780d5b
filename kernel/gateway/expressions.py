"""Policy expressions: row filters and masks written as SQL, checked once when a policy is parsed
and compiled per user and dataset into the DuckDB tree a governed table splices in.

The language:

- A filter expression is one boolean SQL expression over the dataset's columns, written in the
  policy's dialect (``policy.data.dialect``, default duckdb). It may hold subqueries
  (``IN (SELECT …)``, ``EXISTS (…)``, scalar ones) over other datasets, named in full
  (``depot.collection.dataset``); those are read governed for the policy's purpose, not the
  querying user's (the planner's job). Outside subqueries every column is one of the dataset's,
  by its name alone (no qualifier), matched case-insensitively as DuckDB does; inside a subquery
  a name resolves as SQL resolves it: to the subquery's tables first, then to the filtered row.
- A mask expression is one scalar SQL expression over the row: the masked column by its own name
  and any other column of the dataset; no table. Its value is converted to the masked column's
  type with ``TRY_CAST`` (the column keeps its type; a value that does not convert is NULL, never
  an engine error that could show a raw value). At apply, on each catalog dataset, its type must
  be the column's or one DuckDB converts to it implicitly (`validate`).
- Functions: the query allowlist (`functions.is_allowed`); no statement, parameter, ``INTO``,
  table function, comment or ``;``; the names ``gw_source`` and ``gw_keyed_hash`` are reserved.
- User attributes, replaced by literals per user (a missing one is NULL, so a filter comparing
  with it keeps no row):

  - ``user_tag('prefix')``: the rest of the user's first tag (in sorted order) that starts with
    ``prefix:`` — ``user_tag('region')`` is ``'EU'`` for a user tagged ``region:EU``,
    ``user_tag('roles:id')`` is ``'analyst'`` for ``roles:id:analyst``; NULL without such a tag.
  - ``${user}``: the querying user's id, ``user_tag('users:id')`` (Heimdall gives each user
    exactly one ``users:id:<id>`` tag), as a string. Only where a value may stand: inside a string
    literal or a quoted name ``${user}`` is just text.

A parsed expression is kept as its DuckDB text (`Parsed.sql`, proven to parse back to the tree
that was checked); `compile_filter` and `compile_mask` turn it, or a literal filter (the old
``{column, operator, value}`` form, sugar for ``column <op> value``), into the tree to splice.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import sqlglot
from sqlglot import exp
from sqlglot.tokens import Token, TokenType

from ..heimdall.fields import PolicyError
from . import checks, proof
from .checks import SOURCE_ALIAS
from .functions import function_name
from .model import Dataset, GatewayError, shown

USER_VAR = "${user}"
USER_TAG = "user_tag"
USER_ID_PREFIX = "users:id"

_COMPARISONS = {"equals": exp.EQ, "not_equals": exp.NEQ, "greater_than": exp.GT, "greater_than_equals": exp.GTE,
                "less_than": exp.LT, "less_than_equals": exp.LTE}
_VOLATILE = (exp.Rand, exp.Uuid)  # allowed functions whose answer changes from call to call
_BINARY = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.NullSafeNEQ)
NOT_A_VALUE = object()


@dataclass(frozen=True)
class Parsed:
    """A checked policy expression: its DuckDB text and the datasets its subqueries read (as
    written, ``depot.collection.dataset``)."""
    sql: str
    datasets: tuple[str, ...]


@dataclass(frozen=True)
class Compiled:
    """A filter's condition or a mask's value for one user and dataset, as a DuckDB tree (a fresh
    copy: the caller may reshape it): the dataset's columns outside subqueries are
    ``gw_source."column"``; inside subqueries names stay as written, so the tree must stand where
    ``gw_source`` is the only relation around them (a correlated name binds to it as it did at
    apply). `tables` are the tree's dataset references (``depot.collection.dataset`` `exp.Table`
    nodes, in subqueries), each to be replaced by that dataset's governed derived table."""
    tree: exp.Expression
    tables: tuple[exp.Table, ...]


# --- parsing ---------------------------------------------------------------------------------------

def check_dialect(dialect: str, field: str) -> str:
    """`dialect` if sqlglot knows it (a bare name), else `PolicyError` at `field`."""
    try:
        checks.check_dialect(dialect)
    except GatewayError as e:
        raise PolicyError(field, e.message) from None
    return dialect


def parse(text: str, dialect: str, kind: Literal["filter", "mask"], field: str) -> Parsed:
    """`text` in `dialect` as a checked policy expression of `kind`, or `PolicyError` at `field`."""
    sql_dialect = sqlglot.Dialect.get_or_raise(dialect)
    try:
        tokens = sql_dialect.tokenize(text)
    except sqlglot.errors.TokenError:
        position = checks.token_error_position(text, dialect)
        raise PolicyError(field, "syntax error (unterminated string, identifier or comment?)"
                          + (" at line {}, column {}".format(*position) if position else "")) from None
    tokens = _with_user(tokens, field)
    try:
        tree = sql_dialect.parser().parse_into(exp.Expr, tokens, text)[0]
    except sqlglot.errors.ParseError as e:
        position = checks.parse_error_position(e)
        raise PolicyError(field, "syntax error" + (" at line {}, column {}".format(*position) if position else "")) \
            from None
    except RecursionError:
        raise PolicyError(field, "the expression is nested too deeply") from None
    except Exception:  # sqlglot tripping over input it cannot model
        raise PolicyError(field, "the expression uses syntax that cannot be parsed") from None
    if tree is None or isinstance(tree, (exp.Alias, exp.Star, exp.Query)) and not isinstance(tree, exp.Subquery):
        raise PolicyError(field, f"must be one SQL expression (a {'condition' if kind == 'filter' else 'value'}), "
                                 "without an alias")
    forbidden = tree.find(*checks.FORBIDDEN)
    if forbidden is not None:
        raise PolicyError(field, f"{checks.statement_name(forbidden)} is not allowed")
    try:
        tree = proof.translate(tree)
        datasets = _check(tree, kind)
        sql = proof.generate(tree)
        proof.prove(sql, tree)
    except GatewayError as e:
        raise PolicyError(field, e.message) from None
    except RecursionError:
        raise PolicyError(field, "the expression is nested too deeply") from None
    return Parsed(sql, datasets)


def _with_user(tokens: list[Token], field: str) -> list[Token]:
    """`tokens` with each ``${user}`` as the tokens of ``user_tag('users:id')``; `PolicyError` for a
    comment, a ``;`` or another ``${…}``."""
    out: list[Token] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.comments:
            raise PolicyError(field, "comments are not allowed in a policy expression")
        if token.token_type == TokenType.SEMICOLON:
            raise PolicyError(field, "must be one expression: ';' is not allowed")
        after = tokens[i + 1] if i + 1 < len(tokens) else None
        if token.text == "$" and after is not None and after.token_type == TokenType.L_BRACE \
                and after.start == token.end + 1:
            written = tokens[i:i + 4]
            if "".join(t.text for t in written) != USER_VAR or written[-1].end - token.start != len(USER_VAR) - 1:
                raise PolicyError(field, f"the only variable is {USER_VAR} (tags: {USER_TAG}('prefix'))")
            place = (token.line, token.col, token.start, written[-1].end)
            out += [Token(TokenType.VAR, USER_TAG, *place), Token(TokenType.L_PAREN, "(", *place),
                    Token(TokenType.STRING, USER_ID_PREFIX, *place), Token(TokenType.R_PAREN, ")", *place)]
            i += 4
            continue
        out.append(token)
        i += 1
    return out


def _check(tree: exp.Expression, kind: str) -> tuple[str, ...]:
    """GatewayError unless the DuckDB `tree` is a policy expression of `kind`; the datasets it reads."""
    walked = tree.copy()
    for call in list(_user_tags(walked)):
        _user_tag_prefix(call)
        call.replace(exp.null())  # checked: the walk need not know the function
    for column in outside_queries(walked, exp.Column):
        if column.table:
            raise GatewayError("EINVAL", f"column {'.'.join(shown(p.name) for p in column.parts)}: outside a "
                                         "subquery, refer to the dataset's columns by name alone")
    walk = checks.Walk(_dataset_name)
    walk.visit(walked, frozenset())
    volatile = walked.find(*_VOLATILE) if kind == "filter" else None
    if volatile is not None:  # (a row filter is asked in the WHERE and again in each column's gate)
        raise GatewayError("EINVAL", f"a row filter must answer the same for a row each time: "
                                     f"{function_name(volatile)} is not allowed in one")
    if walk.tables and kind == "mask":
        raise GatewayError("EINVAL", "a mask may not read tables")
    return tuple(dict.fromkeys(_name(dataset) for _, dataset in walk.tables))


def _dataset_name(names: list[str]) -> Dataset:
    """A table of a policy subquery: ``depot.collection.dataset`` (whether it exists is up to apply)."""
    if len(names) != 3 or not all(names):
        raise GatewayError("EINVAL", f"table {'.'.join(shown(n) for n in names)}: name datasets in full, "
                                     "depot.collection.dataset")
    return Dataset(*names, {})


def _name(dataset: Dataset) -> str:
    return f"{dataset.depot}.{dataset.collection}.{dataset.name}"


def _user_tags(tree: exp.Expression) -> Iterator[exp.Anonymous]:
    return (node for node in tree.find_all(exp.Anonymous) if is_user_attribute(node))


def _user_tag_prefix(call: exp.Anonymous) -> str:
    args = call.expressions
    if len(args) != 1 or not (isinstance(args[0], exp.Literal) and args[0].is_string) \
            or not args[0].this.strip() or args[0].this.endswith(":"):
        raise GatewayError("EINVAL", f"{USER_TAG} takes one string literal, a tag prefix without its last ':' "
                                     f"(e.g. {USER_TAG}('region') for region:EU)")
    return args[0].this


def outside_queries(tree: exp.Expression, kind: type[exp.Expression]) -> Iterator[Any]:
    """The nodes of `kind` in `tree` that are not inside a subquery."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, kind):
            yield node
        stack.extend(child for child in node.iter_expressions() if not isinstance(child, exp.Query))


def comparisons(tree: exp.Expression) -> Iterator[tuple[str, exp.Expression]]:
    """(column name, operand) for each literal (`literal_value`) or user attribute
    (`is_user_attribute`) that `tree` compares a column with, outside subqueries: ``col = 'x'``,
    ``5 < col``, ``col IN (…)``, ``col BETWEEN … AND …``."""
    for node in outside_queries(tree, exp.Expression):
        if isinstance(node, _BINARY):
            pairs = [(node.this, node.expression), (node.expression, node.this)]
        elif isinstance(node, exp.In):
            pairs = [(node.this, value) for value in node.expressions]
        elif isinstance(node, exp.Between):
            pairs = [(node.this, node.args.get("low")), (node.this, node.args.get("high"))]
        else:
            continue
        for column, other in pairs:
            if isinstance(column, exp.Column) and (is_user_attribute(other) or literal_value(other) is not NOT_A_VALUE):
                yield column.name, other


def is_user_attribute(node: Any) -> bool:
    """Is `node` a user attribute (``user_tag(…)``, which ``${user}`` stands for)?"""
    return isinstance(node, exp.Anonymous) and node.name.lower() == USER_TAG


def literal_value(node: Any) -> Any:
    """The Python value of a literal node (strings, numbers, booleans), else `NOT_A_VALUE`."""
    if isinstance(node, exp.Boolean):
        return node.this
    negative = isinstance(node, exp.Neg)
    if negative:
        node = node.this
    if not isinstance(node, exp.Literal) or (negative and node.is_string):
        return NOT_A_VALUE
    if node.is_string:
        return node.this
    number = float(node.this) if any(c in node.this for c in ".eE") else int(node.this)
    return -number if negative else number


# --- compiling -------------------------------------------------------------------------------------

def expression_tree(sql: str) -> exp.Expression:
    """A parsed expression's DuckDB text (`Parsed.sql`) as a fresh tree, columns unqualified."""
    return _expression_tree(sql).copy()


@lru_cache(maxsize=1024)
def _expression_tree(sql: str) -> exp.Expression:
    return proof.parse_one_query(sql)


def filter_tree(spec: Mapping[str, Any]) -> exp.Expression:
    """A parsed filter (``{"expression": sql}`` or the literal ``{column, operator, value}``) as a
    fresh DuckDB tree, columns unqualified."""
    if "expression" in spec:
        return expression_tree(spec["expression"])
    return _literal_tree(json.dumps(spec, sort_keys=True)).copy()


@lru_cache(maxsize=1024)
def _literal_tree(spec_json: str) -> exp.Expression:
    spec = json.loads(spec_json)
    column = exp.column(exp.to_identifier(spec["column"], quoted=True))
    op, value = spec["operator"], spec["value"]
    if op in ("in", "not_in"):
        tree: exp.Expression = exp.In(this=column, expressions=[_literal(v) for v in value])
        tree = exp.Not(this=tree) if op == "not_in" else tree
    else:
        tree = _COMPARISONS[op](this=column, expression=_literal(value))
    return proof.translate(tree)  # as the engine reads it back (a negative number is a negation)


def _literal(value: str | int | float | bool) -> exp.Expression:
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    return exp.Literal.string(value) if isinstance(value, str) else exp.Literal.number(value)


def compile_filter(spec: Mapping[str, Any], columns: Iterable[str], user_tags: Iterable[str]) -> Compiled:
    """The condition of a parsed filter for a user (`user_tags`, including their ``users:id:``
    tag) on a dataset with `columns`. A column outside subqueries that the dataset lacks makes it
    FALSE (the filter hides every row: a dataset pattern may match datasets without it)."""
    return _compile(filter_tree(spec), columns, user_tags) or Compiled(exp.false(), ())


def compile_mask(mask: Mapping[str, Any], column: str, columns: Mapping[str, str],
                 user_tags: Iterable[str]) -> Compiled:
    """The value of `column` under a parsed expression mask (``{"operator": "expression",
    "expression": {"sql": …}}``) for a user on a dataset with `columns` (name -> DuckDB type):
    ``TRY_CAST(<expression> AS <column's type>)``, or a NULL when the expression names a column
    the dataset lacks or the column's type cannot be read (fail closed)."""
    from .masks import data_type
    compiled = mask_value(mask, columns, user_tags)
    to = data_type(columns[column])
    if compiled is None or to is None:
        return Compiled(exp.cast(exp.null(), to) if to is not None else exp.null(), ())
    return Compiled(exp.TryCast(this=compiled.tree, to=to.copy()), ())


def mask_value(mask: Mapping[str, Any], columns: Iterable[str], user_tags: Iterable[str]) -> Compiled | None:
    """A mask expression's value before conversion to the column type (None: a column is missing)."""
    return _compile(expression_tree(mask["expression"]["sql"]), columns, user_tags)


def _compile(tree: exp.Expression, columns: Iterable[str], user_tags: Iterable[str]) -> Compiled | None:
    tags = sorted(user_tags)
    tree = tree.transform(lambda node: _user_value(node, tags) if is_user_attribute(node) else node, copy=False)
    names = list(columns)
    exact, folded = set(names), {name.lower(): name for name in reversed(names)}
    for column in list(outside_queries(tree, exp.Column)):
        name = column.name if column.name in exact else folded.get(column.name.lower())
        if name is None:
            return None
        column.set("this", exp.to_identifier(name, quoted=True))
        column.set("table", exp.to_identifier(SOURCE_ALIAS, quoted=True))
    return Compiled(tree, tuple(table for table in tree.find_all(exp.Table) if len(table.parts) == 3))


def _user_value(call: exp.Anonymous, tags: list[str]) -> exp.Expression:
    """``user_tag('prefix')`` for a user with sorted `tags`: a string literal (escaped when
    generated) or NULL."""
    prefix = _user_tag_prefix(call) + ":"
    value = next((tag[len(prefix):] for tag in tags if tag.startswith(prefix)), None)
    return exp.null() if value is None else exp.Literal.string(value)
