"""Data quality rules: parsed from text, compiled into one governed SELECT per dataset. Pure: no I/O.

    not_null(col)                      rows where col is NULL fail
    unique(col[, col…])                every extra copy of a key fails (rows with a NULL key part are skipped)
    accepted_values(col, 'a', 'b'…)    non-NULL values outside the list fail (strings or numbers)
    between(col, lo, hi)               non-NULL values outside [lo, hi] fail (numbers, or strings such as dates)
    matches(col, 'regex')              non-NULL values (as text) that the RE2 regex does not fully match fail
    row_count(min[, max])              the dataset has min..max rows (failed_rows: how far out of range)
    expression('sql boolean')          rows where the expression is not true (false or NULL) fail

A column is a name (`email`) or a double-quoted one (`"Order Date"`); values are 'single-quoted'
strings ('' for a quote) or numbers. Every name and value reaches SQL through sqlglot's quoting, and an
expression is parsed and regenerated (one boolean expression over the row: no subqueries, tables,
aggregates or window functions), so no rule can change the shape of the query. The query still goes
through the Gateway as the user: masks and row filters apply to it like to any other.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

from syscalls.errors import SyscallError

KINDS = ("not_null", "unique", "accepted_values", "between", "matches", "row_count", "expression")
MAX_RULES = 200
_RULE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*\((.*)\)\s*", re.S)
_TOKEN = re.compile(r"""\s*(?:('(?:[^']|'')*')|("(?:[^"]|"")*")|([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"""
                    r"""|([A-Za-z_][A-Za-z0-9_]*)|(,))\s*""", re.S)
_COUNT = "__rows"


@dataclass(frozen=True)
class Value:
    """A literal of a rule: a string or a number."""
    value: str | int | float

    def sql(self) -> Any:
        from sqlglot import exp
        if isinstance(self.value, str):
            return exp.Literal.string(self.value)
        return exp.Literal.number(self.value)


@dataclass(frozen=True)
class Rule:
    index: int  # 1-based position, for messages
    text: str  # as written (stripped)
    kind: str
    columns: tuple[str, ...] = ()
    values: tuple[Value, ...] = ()
    expression: Any = None  # a parsed sqlglot expression (expression rules)

    def fail(self, message: str) -> SyscallError:
        return SyscallError("EINVAL", f"rule {self.index}: {self.text}: {message}", field=f"rule {self.index}")


def _fail(index: int, text: str, message: str) -> SyscallError:
    return SyscallError("EINVAL", f"rule {index}: {text.strip()!r}: {message}", field=f"rule {index}")


def _tokens(index: int, text: str, body: str) -> list[list[tuple[str, Any]]]:
    """The comma-separated arguments, each a list of (kind, value) tokens: ident, string, number."""
    args: list[list[tuple[str, Any]]] = [[]]
    at = 0
    while at < len(body):
        m = _TOKEN.match(body, at)
        if not m or m.end() == at:
            raise _fail(index, text, f"cannot read the arguments from {body[at:at + 20]!r}")
        at = m.end()
        string, quoted, number, ident, comma = m.groups()
        if comma:
            args.append([])
        elif string is not None:
            args[-1].append(("string", string[1:-1].replace("''", "'")))
        elif quoted is not None:
            args[-1].append(("ident", quoted[1:-1].replace('""', '"')))
        elif number is not None:
            args[-1].append(("number", float(number) if re.search(r"[.eE]", number) else int(number)))
        else:
            args[-1].append(("ident", ident))
    if args == [[]]:
        return []
    for i, arg in enumerate(args, 1):
        if len(arg) != 1:
            raise _fail(index, text, f"argument {i} must be one column name or one value"
                        if arg else f"argument {i} is empty")
    return args


def parse(text: str, index: int = 1) -> Rule:
    """One rule from its text, or EINVAL naming it (`rule INDEX: …`)."""
    if not isinstance(text, str) or not text.strip():
        raise _fail(index, str(text), "empty rule (e.g. not_null(email), unique(id))")
    if len(text) > 1000:
        raise _fail(index, text[:40] + "…", "longer than 1000 characters")
    m = _RULE.fullmatch(text)
    if not m:
        raise _fail(index, text, f"not a rule such as not_null(email) (rules: {', '.join(KINDS)})")
    kind, body = m.group(1).lower(), m.group(2)
    if kind not in KINDS:
        raise _fail(index, text, f"unknown rule {m.group(1)!r} (rules: {', '.join(KINDS)})")
    args = [a[0] for a in _tokens(index, text, body)]
    shown = text.strip()

    def column(i: int) -> str:
        kind_, value = args[i]
        if kind_ != "ident":
            raise _fail(index, text, f"argument {i + 1} must be a column name, got {value!r}")
        if not value or "\x00" in value:
            raise _fail(index, text, f"argument {i + 1} is not a column name")
        return value

    def values(start: int, what: tuple[str, ...] = ("string", "number")) -> tuple[Value, ...]:
        out = []
        for i in range(start, len(args)):
            kind_, value = args[i]
            if kind_ not in what:
                need = "a 'quoted' string" if what == ("string",) else "a number" if what == ("number",) else \
                    "a 'quoted' string or a number"
                raise _fail(index, text, f"argument {i + 1} must be {need}, got {'column ' if kind_ == 'ident' else ''}"
                            f"{value!r}")
            out.append(Value(value))
        return tuple(out)

    def count(low: int, high: int | None, usage: str) -> None:
        if len(args) < low or (high is not None and len(args) > high):
            raise _fail(index, text, f"usage: {usage}")

    if kind == "not_null":
        count(1, 1, "not_null(column)")
        return Rule(index, shown, kind, (column(0),))
    if kind == "unique":
        count(1, 32, "unique(column[, column…])")
        return Rule(index, shown, kind, tuple(column(i) for i in range(len(args))))
    if kind == "accepted_values":
        count(2, 1000, "accepted_values(column, 'a', 'b'…)")
        return Rule(index, shown, kind, (column(0),), values(1))
    if kind == "between":
        count(3, 3, "between(column, low, high)")
        low, high = values(1)
        if type(low.value) is str and type(high.value) is not str or \
                type(high.value) is str and type(low.value) is not str:
            raise _fail(index, text, "low and high must both be numbers or both be strings")
        if low.value > high.value:  # type: ignore[operator]
            raise _fail(index, text, f"low {low.value!r} is above high {high.value!r}")
        return Rule(index, shown, kind, (column(0),), (low, high))
    if kind == "matches":
        count(2, 2, "matches(column, 'regex')")
        (pattern,) = values(1, ("string",))
        return Rule(index, shown, kind, (column(0),), (pattern,))
    if kind == "row_count":
        count(1, 2, "row_count(min[, max])")
        bounds = values(0, ("number",))
        if any(not isinstance(b.value, int) or b.value < 0 for b in bounds):
            raise _fail(index, text, "min and max must be whole numbers, 0 or more")
        if len(bounds) == 2 and bounds[0].value > bounds[1].value:  # type: ignore[operator]
            raise _fail(index, text, f"min {bounds[0].value} is above max {bounds[1].value}")
        return Rule(index, shown, kind, (), bounds)
    count(1, 1, "expression('sql boolean over the row')")
    (sql,) = values(0, ("string",))
    tree = _expression(index, text, str(sql.value))
    from sqlglot import exp
    names = tuple(dict.fromkeys(c.name for c in tree.find_all(exp.Column)))
    return Rule(index, shown, kind, names, (sql,), tree)


def _expression(index: int, text: str, sql: str) -> Any:
    """One boolean expression over a row, parsed (and later regenerated, never pasted)."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError, TokenError
    try:
        trees = sqlglot.parse(sql, read="duckdb")
    except (ParseError, TokenError) as e:
        raise _fail(index, text, f"the expression is not SQL: {str(e).splitlines()[0]}") from None
    if len(trees) != 1 or trees[0] is None:
        raise _fail(index, text, "the expression must be one SQL expression (no ';')")
    tree = trees[0]
    forbidden = (exp.Query, exp.Subquery, exp.Table, exp.DDL, exp.DML, exp.Command, exp.AggFunc, exp.Window,
                 exp.Placeholder, exp.Parameter, exp.Star)
    if not isinstance(tree, exp.Condition) or any(isinstance(node, forbidden) for node in tree.walk()):
        raise _fail(index, text, "the expression must be a boolean over the row's columns: no queries, tables, "
                        "aggregates or window functions")
    return tree


def parse_all(texts: Sequence[str]) -> list[Rule]:
    """Rules from their texts (at least one, at most MAX_RULES)."""
    if not texts:
        raise SyscallError("EINVAL", "no rules: give at least one --rule, e.g. --rule 'not_null(email)'",
                           field="rule")
    if len(texts) > MAX_RULES:
        raise SyscallError("EINVAL", f"{len(texts)} rules; at most {MAX_RULES} in one check", field="rule")
    return [parse(text, i) for i, text in enumerate(texts, 1)]


def resolve(rules: list[Rule], columns: Sequence[str]) -> list[Rule]:
    """The rules with their columns spelled as the dataset spells them (names match without case),
    or EINVAL naming the rule and the dataset's columns."""
    from dataclasses import replace
    from sqlglot import exp
    known = {c.lower(): c for c in columns}
    out = []
    for rule in rules:
        missing = [c for c in rule.columns if c.lower() not in known]
        if missing:
            raise rule.fail(f"no column {missing[0]!r} (columns: {', '.join(columns) or 'none'})")
        tree = rule.expression
        if tree is not None:
            tree = tree.copy()
            for node in tree.find_all(exp.Column):
                node.set("this", exp.to_identifier(known[node.name.lower()], quoted=True))
                node.set("table", None)
        out.append(replace(rule, columns=tuple(known[c.lower()] for c in rule.columns), expression=tree))
    return out


def _col(name: str) -> Any:
    from sqlglot import exp
    return exp.column(name, quoted=True)


def failures(rule: Rule) -> Any:
    """The SQL expression (sqlglot) that counts the rule's failing rows, or None for row_count."""
    from sqlglot import exp
    if rule.kind == "row_count":
        return None
    if rule.kind == "unique":
        keys = [_col(c) for c in rule.columns]
        present = exp.and_(*(exp.Not(this=exp.Is(this=k, expression=exp.Null())) for k in keys))
        key = keys[0] if len(keys) == 1 else exp.Tuple(expressions=keys)
        return exp.Sub(this=_filtered(exp.Count(this=exp.Star()), present),
                       expression=_filtered(exp.Count(this=exp.Distinct(expressions=[key])), present))
    column = _col(rule.columns[0]) if rule.columns else None
    not_null = exp.Not(this=exp.Is(this=column, expression=exp.Null())) if column is not None else None
    if rule.kind == "not_null":
        condition = exp.Is(this=column, expression=exp.Null())
    elif rule.kind == "accepted_values":
        condition = exp.and_(not_null, exp.Not(this=exp.In(this=column, expressions=[v.sql() for v in rule.values])))
    elif rule.kind == "between":
        condition = exp.and_(not_null, exp.Not(this=exp.Between(this=column, low=rule.values[0].sql(),
                                                                   high=rule.values[1].sql())))
    elif rule.kind == "matches":
        text = exp.Cast(this=column, to=exp.DataType.build("VARCHAR"))
        condition = exp.and_(not_null, exp.Not(this=exp.RegexpFullMatch(this=text, expression=rule.values[0].sql())))
    else:  # expression: false or NULL fails
        condition = exp.Not(this=exp.Coalesce(this=exp.Paren(this=rule.expression),
                                              expressions=[exp.false()]))
    return _filtered(exp.Count(this=exp.Star()), condition)


def _filtered(aggregate: Any, condition: Any) -> Any:
    from sqlglot import exp
    return exp.Filter(this=aggregate, expression=exp.Where(this=condition))


def table_name(address: str) -> tuple[str, str]:
    """(UDL, SQL name) of a dataset named `dataos://depot:collection/dataset` or `depot.collection.dataset`."""
    from sqlglot import exp
    m = re.fullmatch(r"dataos://([^:/#]+):([^/#]+)/([^/#]+)", address) or \
        re.fullmatch(r"([^.:/#]+)\.([^.:/#]+)\.([^.:/#]+)", address)
    if not m:
        raise SyscallError("EINVAL", f"{address!r} is not a dataset (dataos://depot:collection/dataset or "
                           "depot.collection.dataset)", field="dataset")
    depot, collection, name = m.groups()
    udl = f"dataos://{depot}:{collection}/{name}"
    return udl, exp.table_(name, db=collection, catalog=depot, quoted=True).sql("duckdb")


def query(table: str, rules: list[Rule]) -> str:
    """One SELECT computing the row count and every rule's failure count in one pass."""
    from sqlglot import exp
    selects = [exp.alias_(exp.Count(this=exp.Star()), _COUNT, quoted=True)]
    for rule in rules:
        counted = failures(rule)
        if counted is not None:
            selects.append(exp.alias_(counted, f"r{rule.index}", quoted=True))
    return exp.select(*selects).from_(exp.to_table(table, dialect="duckdb")).sql("duckdb")


def results(rules: list[Rule], columns: Sequence[str], row: Sequence[Any]) -> list[dict[str, Any]]:
    """Each rule's result from the query's one row: {rule, passed, failed_rows, total_rows, detail, columns}."""
    values = dict(zip(columns, row))
    total = int(values[_COUNT] or 0)
    out = []
    for rule in rules:
        if rule.kind == "row_count":
            low = int(rule.values[0].value)
            high = int(rule.values[1].value) if len(rule.values) > 1 else None
            failed = low - total if total < low else total - high if high is not None and total > high else 0
            detail = f"expected {low} to {high} rows" if high is not None else f"expected at least {low} rows"
        else:
            failed = int(values[f"r{rule.index}"] or 0)
            detail = _DETAILS[rule.kind](rule)
        out.append({"rule": rule.text, "passed": failed == 0, "failed_rows": failed, "total_rows": total,
                    "detail": detail, "columns": list(rule.columns)})
    return out


_DETAILS = {
    "not_null": lambda r: f"rows where {r.columns[0]} is NULL",
    "unique": lambda r: f"extra copies of a {', '.join(r.columns)} key",
    "accepted_values": lambda r: f"{r.columns[0]} values outside the {len(r.values)} accepted",
    "between": lambda r: f"{r.columns[0]} values outside [{r.values[0].value}, {r.values[1].value}]",
    "matches": lambda r: f"{r.columns[0]} values not matching the pattern",
    "expression": lambda r: "rows where the expression is false or NULL",
}
