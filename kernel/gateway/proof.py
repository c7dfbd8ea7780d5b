"""The proof that what the engine runs is what the Gateway authorized.

sqlglot writes some parts of a tree back as text it never checked — a collation, a dialect's date
part, a type name — so a tree that passed every check could still generate SQL that means
something else: a second statement, a function off the allowlist. The Gateway therefore never
trusts generation:

- it authorizes the tree that the DuckDB text of the user's query *parses back to* (`translate`),
  so whatever the translation echoed is checked as the structure it has become;
- it refuses free text that is written out unquoted unless it is a plain word (`check_text`), so
  no argument depends on two tokenizers agreeing about it;
- and before anything runs, the final SQL must parse back to exactly the authorized tree
  (`prove`), compared node by node and case-sensitively (`same`). The engine then runs it as one
  statement (see `minerva.duckdb_engine`).
"""
from __future__ import annotations

import re

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ErrorLevel

from .model import GatewayError

ENGINE_NAME = "duckdb"
ENGINE = Dialect.get_or_raise(ENGINE_NAME)  # an instance: no lookup by name on every call
_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_QUOTED = ((exp.Identifier, "this"), (exp.Literal, "this"))  # written inside quotes, escaped
_JSON_PATH = (exp.JSONPath, exp.JSONPathPart)  # written inside one string literal
_LEAVES = frozenset({exp.Identifier, exp.Literal, exp.Var})  # nodes whose arguments are never trees


def generate(tree: exp.Expression, copy: bool = True) -> str:
    """The engine's SQL for `tree`: identifiers quoted, comments dropped; EINVAL for what the
    engine's dialect cannot say. Without `copy`, generating may reshape `tree` (then only the text
    is to be trusted)."""
    try:
        return tree.sql(dialect=ENGINE, identify=True, comments=False, unsupported_level=ErrorLevel.RAISE,
                        copy=copy)
    except RecursionError:
        raise
    except sqlglot.errors.UnsupportedError:
        raise GatewayError("EINVAL", "the query uses syntax the engine does not support") from None
    except Exception:  # a generator tripping over an odd tree
        raise GatewayError("EINVAL", "the query uses syntax that cannot be translated for the engine") from None


def parse_one_query(sql: str) -> exp.Expression:
    """`sql` read as the engine's dialect: exactly one statement, or EINVAL."""
    try:
        statements = [s for s in sqlglot.parse(sql, read=ENGINE) if s is not None]
    except RecursionError:
        raise
    except Exception:  # sqlglot refusing (or tripping over) its own output
        raise GatewayError("EINVAL", "the query uses syntax that cannot be translated for the engine") from None
    if len(statements) != 1:
        raise GatewayError("EINVAL", "the query does not translate to exactly one engine statement")
    return statements[0]


def translate(tree: exp.Expression) -> exp.Expression:
    """The tree the engine's SQL for `tree` parses back to: what the query really says. (`tree` is
    used up.)"""
    return parse_one_query(generate(tree, copy=False))


def quoted(tree: exp.Expression) -> exp.Expression:
    """`tree` (read as the engine's dialect) with every identifier quoted, as `generate` writes it:
    what it reads back as, if generating and parsing it is a fixed point (`prove` tells)."""
    for identifier in tree.find_all(exp.Identifier):
        identifier.set("quoted", True)
    return tree


def check_text(node: exp.Expression) -> None:
    """EINVAL for text in `node` that would be written out unquoted and is not a plain word or number."""
    for key, value in node.args.items():
        if not isinstance(value, str):
            continue
        if isinstance(node, exp.Literal) and not node.is_string:
            ok = bool(_NUMBER.fullmatch(value))
        elif any(isinstance(node, kind) and key == arg for kind, arg in _QUOTED) or isinstance(node, _JSON_PATH):
            ok = "\0" not in value
        else:
            ok = bool(_PLAIN.fullmatch(value))
        if not ok:
            raise GatewayError("EINVAL", f"unsupported text in a {type(node).__name__.lower()} of the query "
                                         "(only plain words may stand unquoted)")


def prove(sql: str, tree: exp.Expression, spliced: dict[int, exp.Expression] | None = None) -> None:
    """EINVAL unless `sql` parses back to exactly `tree`, where a node of `tree` whose id is in
    `spliced` stands for that subtree (text generated and proven once, shared by many plans)."""
    if not same(parse_one_query(sql), tree, spliced or {}):
        raise GatewayError("EINVAL", "the query cannot be run as written: its engine SQL does not read back "
                                     "as the query that was checked")


def same(a: object, b: object, spliced: dict[int, exp.Expression] | None = None) -> bool:
    """Are two sqlglot trees equal, node type by node type and value by value (case-sensitively)?
    Unset, false and empty arguments count as absent. A node of `b` whose id is in `spliced` is
    compared as the subtree it stands for."""
    spliced = spliced or {}
    stack = [(a, b)]
    pop, push, expression, leaves, var = stack.pop, stack.append, exp.Expression, _LEAVES, exp.Var
    while stack:
        x, y = pop()
        if spliced and type(y) is var:
            y = spliced.get(id(y), y)
        kind = type(x)
        if kind is not type(y):
            return False
        if kind in leaves and x.args == y.args:  # plain values only: dict equality is exact
            continue
        if isinstance(x, expression):
            theirs = y.args  # type: ignore[union-attr]
            count = 0
            for key, value in x.args.items():
                if value is None or value is False or (type(value) is list and not value):
                    continue
                other = theirs.get(key)
                if other is None or other is False or (type(other) is list and not other):
                    return False
                count += 1
                push((value, other))
            for value in theirs.values():
                if not (value is None or value is False or (type(value) is list and not value)):
                    count -= 1
            if count:
                return False
        elif kind is list:
            if len(x) != len(y):  # type: ignore[arg-type]
                return False
            stack.extend(zip(x, y))  # type: ignore[arg-type]
        elif x != y:
            return False
    return True
