"""Meta commands, answered as governed queries: ``DESCRIBE t``, ``SHOW COLUMNS FROM t``, ``SHOW
TABLES``, ``SUMMARIZE t`` and pgcli's ``\\d``, ``\\dt``, ``\\d t``.

Each becomes the DuckDB query that answers it, which the Gateway then plans like any other query:

- DESCRIBE: the dataset's columns and types as VALUES, each with the mask the user gets on it
  (``masked``: the operator, NULL when the column is shown as it is);
- SHOW TABLES: the SQL names of the datasets in the catalog that the user may select (in the
  current depot and collection when there is one, unless ``SHOW ALL TABLES``), as VALUES;
- SUMMARIZE: DuckDB's SUMMARIZE columns, computed by one aggregate query per column over the
  dataset itself, so masks and row filters apply as in any query (a masked column is summarized
  as its masked values).

A dataset the user may not select is unknown here too (`plan.Finder`), exactly as in a query.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

from .masks import data_type
from .model import Dataset, GatewayError
from .policies import DataPolicy, govern

if TYPE_CHECKING:
    from .plan import Finder

_COMMANDS = [
    (re.compile(r"\\dt?\+?", re.IGNORECASE), "tables"),
    (re.compile(r"show\s+tables", re.IGNORECASE), "tables"),
    (re.compile(r"show\s+all\s+tables", re.IGNORECASE), "all tables"),
    (re.compile(r"\\d\+?\s+(?P<name>.+)", re.IGNORECASE | re.DOTALL), "describe"),
    (re.compile(r"(?:describe|desc)\s+(?:table\s+)?(?P<name>.+)", re.IGNORECASE | re.DOTALL), "describe"),
    (re.compile(r"show\s+columns\s+(?:from|in)\s+(?P<name>.+)", re.IGNORECASE | re.DOTALL), "describe"),
    (re.compile(r"summarize\s+(?:table\s+)?(?P<name>.+)", re.IGNORECASE | re.DOTALL), "summarize"),
]
_NOT_A_NAME = re.compile(r"\s*\(?\s*(select|with|from|values|table)\b", re.IGNORECASE)
_NAME_HELP = "{verb} takes a dataset: {verb} depot.collection.dataset (or its name in the current collection)"
_VARCHAR_MASKS = frozenset({"hash", "regex_replace", "rand_pattern"})  # what they yield is text
SUMMARY = ("column_name", "column_type", "min", "max", "approx_unique", "avg", "std", "q25", "q50", "q75", "count",
           "null_percentage")


@dataclass(frozen=True)
class Command:
    kind: str  # "tables", "all tables", "describe" or "summarize"
    name: tuple[str, ...] = ()


@dataclass(frozen=True)
class Answer:
    """The DuckDB query answering a meta command, the data policies it reports as applied, and the
    datasets it is about (read like a query's: the cluster must serve them, history names them)."""
    sql: str
    policies: tuple[str, ...] = ()
    datasets: tuple[str, ...] = ()


def parse(sql: str, dialect: str) -> Command | None:
    """The meta command `sql` is (a trailing `;` allowed), or None when it is not one."""
    text = sql.strip().removesuffix(";").strip()
    for pattern, kind in _COMMANDS:
        match = pattern.fullmatch(text)
        if match:
            name = match.groupdict().get("name")
            return Command(kind, _name(name, kind, dialect) if name else ())
    return None


def _name(text: str, kind: str, dialect: str) -> tuple[str, ...]:
    """A dataset name as written (1 to 3 dotted parts, spelled as the dialect resolves them), or EINVAL."""
    verb = {"describe": "DESCRIBE", "summarize": "SUMMARIZE"}[kind]
    problem = _NAME_HELP.format(verb=verb)
    if _NOT_A_NAME.match(text):
        raise GatewayError("EINVAL", f"{verb} of a query is not supported; {problem}")
    try:
        table = sqlglot.parse_one(text, into=exp.Table, read=dialect)
    except Exception:  # noqa: BLE001 — sqlglot refusing (or tripping over) what is not a table name
        raise GatewayError("EINVAL", problem) from None
    if not isinstance(table, exp.Table) or any(value for key, value in table.args.items()
                                               if key not in ("this", "db", "catalog")) \
            or not all(isinstance(part, exp.Identifier) for part in table.parts):
        raise GatewayError("EINVAL", problem)
    normalize = Dialect.get_or_raise(dialect).normalize_identifier  # as `plan.table_names_as_written`
    return tuple(normalize(part).name for part in table.parts)



def answer(command: Command, find: Finder, policies: Sequence[DataPolicy], user_tags: frozenset[str]) -> Answer:
    """The query answering `command` for a user; `find` is the planner's `Finder`."""
    if command.kind in ("tables", "all tables"):
        return Answer(_tables(find, command.kind == "all tables"))
    dataset = find(command.name)
    rules = govern(dataset, policies, user_tags)
    masks = {column: mask["operator"] for column, (_, mask) in rules.masks.items()
             if mask["operator"] != "pass_through"}
    if command.kind == "describe":
        rows = [(_string(name), _string(type_name), _string(masks[name]) if name in masks else "NULL")
                for name, type_name in dataset.columns.items()]
        return Answer(_values(("column_name", "column_type", "masked"), rows), tuple(sorted(rules.policies)),
                      (dataset.address,))
    return Answer(_summarize(dataset, masks))


def _tables(find: Finder, everywhere: bool) -> str:
    names = sorted(find.known())
    if not everywhere and find.depot and find.collection:
        names = [n for n in names if n.startswith(f"{find.depot}.{find.collection}.")]
    return _values(("name",), [(_string(name),) for name in names])


def _values(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """``SELECT … FROM (VALUES …)`` of SQL literals, every column VARCHAR (none when there are no rows)."""
    outputs = ", ".join(f"CAST({_ident(c)} AS VARCHAR) AS {_ident(c)}" for c in columns)
    if not rows:
        return f"SELECT {', '.join(f'CAST(NULL AS VARCHAR) AS {_ident(c)}' for c in columns)} WHERE FALSE"
    values = ", ".join(f"({', '.join(row)})" for row in rows)
    return f"SELECT {outputs} FROM (VALUES {values}) AS meta({', '.join(_ident(c) for c in columns)})"


def _summarize(dataset: Dataset, masks: dict[str, str]) -> str:
    """One aggregate query per column, UNION ALL, in the dataset's column order."""
    table = exp.table_(dataset.name, dataset.collection, dataset.depot, quoted=True).sql("duckdb")
    branches = []
    for position, (name, type_name) in enumerate(dataset.columns.items()):
        column = _ident(name)
        numeric = masks.get(name) not in _VARCHAR_MASKS and _is_numeric(type_name)
        values = [_string(name), _string(type_name), f"CAST(min({column}) AS VARCHAR)",
                  f"CAST(max({column}) AS VARCHAR)", f"approx_count_distinct({column})",
                  _numeric(f"avg({column})", "DOUBLE", numeric), _numeric(f"stddev_samp({column})", "DOUBLE", numeric),
                  *(_numeric(f"approx_quantile({column}, {q})", "VARCHAR", numeric) for q in ("0.25", "0.5", "0.75")),
                  "count(*)", f"round(100.0 * (count(*) - count({column})) / nullif(count(*), 0), 2)"]
        outputs = ", ".join(f"{value} AS {_ident(label)}" for value, label in zip(values, SUMMARY))
        branches.append(f"SELECT {position} AS position, {outputs} FROM {table}")
    return (f"SELECT {', '.join(_ident(label) for label in SUMMARY)} FROM ({' UNION ALL '.join(branches)}) "
            f"AS summary ORDER BY position")


def _numeric(sql: str, type_name: str, numeric: bool) -> str:
    """`sql` cast to `type_name` for a numeric column, else a NULL of that type."""
    return f"CAST({sql if numeric else 'NULL'} AS {type_name})"


def _is_numeric(type_name: str) -> bool:
    built = data_type(type_name)
    return built is not None and built.is_type(*exp.DataType.NUMERIC_TYPES)


def _ident(name: str) -> str:
    return exp.to_identifier(name, quoted=True).sql("duckdb")


def _string(value: str) -> str:
    return exp.Literal.string(value).sql("duckdb")
