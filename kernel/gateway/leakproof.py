"""The security barrier between a filtered dataset and the user's query: which of the user's
expressions may see the dataset's columns as they are, and which of its predicates may run inside
the dataset's governed table.

A row filter hides rows, but the engine's optimizer may evaluate a user expression on a hidden row
before the policy's filter has dropped it: it reorders conjuncts, pushes filters down and pulls them
up through projections and joins. An expression that can fail (a cast, arithmetic that can overflow,
a comparison that casts a column) would then answer with an error about a hidden value, or with an
error at all: one bit per query. PostgreSQL's answer is the security barrier: only *leakproof*
functions may run below it. Here, per query:

- a column of a filtered dataset is *guarded* (``CASE WHEN <filter> THEN col END``: NULL on hidden
  rows) when an expression of the query that may consume its value is not leakproof; every other
  column is the dataset's own, so the engine keeps its statistics, pruning and join filters;
- a leakproof conjunct of a WHERE (or of an inner join's ON) over the unmasked columns of one
  filtered dataset that the join does not null-extend moves into that dataset's governed table,
  where the engine prunes with it (`Barrier.pushed`).

Leakproof (cannot fail or observe a value whatever the row): AND, OR, NOT, IS of booleans, IS [NOT]
NULL, CASE and IF over booleans with results of one type, TRY_CAST to a type it answers NULL for
(not GEOMETRY); comparisons, BETWEEN and IN between types the engine compares without casting a
column (numbers with numbers, text with text, a type with itself, a constant string that casts to
the other side's type, NULL; BETWEEN's three operands and an IN list's value and items, like CASE
results, all cast to one type that holds each); LIKE with a constant pattern; casts to text, and of
constants that cast; lower, upper, length, trim, substring with small integer bounds, ``||`` (text
of text, a list of lists); EXTRACT of a date part; subqueries in IN and EXISTS, and scalar ones that
return one row at most (an aggregate without GROUP BY, LIMIT 1); and decimal arithmetic whose result
type holds every result (the engine keeps arithmetic on two DECIMALs of up to 18 digits in 18 digits
and fails past them: ``DECIMAL(15,2) * DECIMAL(16,2)`` can fail, ``+`` of the two cannot). A
comparison of a DATE with ``DATE 'd' ± INTERVAL 'n' DAY|WEEK|MONTH|QUARTER|YEAR`` (a TIMESTAMP, at
midnight) is rewritten to compare with the DATE it equals, as the engine itself would. Anything else
is not leakproof. Aggregates and window functions end a value's path: they read only the rows the
filter kept.

Values flow between scopes by name (a derived table's column, an alias), so the analysis follows
names: a name stands for the dataset columns its defining expressions read (a nested query's
aggregate may be correlated, so it reads them too); a relation's name used as a column stands for
its whole row; a name the query never gives (the engine's own name for an unnamed output) stands for
everything. Where values flow by position (set operations, PIVOT, COLUMNS(), UNNEST, lambdas,
``#n``, a star inside an expression or over a struct, a derived table's column the engine names
itself: an unnamed expression of a derived table, CTE or lateral query past its column list, a name
it gives twice, a star beside other columns or over a join) names cannot be followed, and any unsafe
use guards every column of every filtered dataset. A column qualified by a relation is typed by its
name only if that relation has a column of that name (else it is a struct's field); names are typed
until no type changes. An aggregate of a nested query that reads an outer row's column is not
leakproof (it runs once per inner row). A masked column whose mask could itself fail (any but
``pass_through``, ``redact``, ``hash`` and ``rand_pattern``: a bucket bound compared with a HUGEINT,
a mask expression) is always gated.
"""
from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from sqlglot import exp

from .masks import SOURCE_ALIAS, data_type
from .model import Dataset
from .policies import Governance

_T = exp.DataType.Type
_STRING, _NUMBER, _NULL = "string literal", "number literal", "null"
_INTEGER_DIGITS = {_T.TINYINT: 3, _T.SMALLINT: 5, _T.INT: 10, _T.BIGINT: 19, _T.UTINYINT: 3, _T.USMALLINT: 5,
                   _T.UINT: 10, _T.UBIGINT: 20}
_FLOATS = {_T.FLOAT, _T.DOUBLE}
_TEXT = {_T.VARCHAR, _T.TEXT, _T.CHAR, _T.NCHAR, _T.NVARCHAR}
_DAY_UNITS = frozenset({"DAY", "DAYS", "WEEK", "WEEKS", "MONTH", "MONTHS", "QUARTER", "QUARTERS", "YEAR", "YEARS"})
_MAX_DECIMAL = 38
_INT64_DIGITS = 18  # a DECIMAL this wide is a 64-bit integer: arithmetic on two of them stays one, checked
_COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.NullSafeEQ, exp.NullSafeNEQ)
_HARMLESS = (exp.Column, exp.Literal, exp.Null, exp.Boolean, exp.Star, exp.DataType, exp.DataTypeParam, exp.Var,
             exp.Identifier, exp.Exists, exp.Window, exp.WindowSpec, exp.Order, exp.Ordered, exp.Filter,
             exp.Where, exp.Alias, exp.Paren, exp.Distinct, exp.Lower, exp.Upper, exp.Length, exp.Trim, exp.DPipe,
             exp.Concat, exp.CurrentDate, exp.CurrentTimestamp)  # never fail, or only on rows the filters kept
_OPAQUE = (exp.SetOperation, exp.Pivot, exp.Columns, exp.Unnest, exp.Lambda, exp.Explode, exp.PositionalColumn)
_ALL = frozenset({"*"})  # stands for every column of every filtered dataset
_SAFE_MASKS = frozenset({"pass_through", "redact", "hash", "rand_pattern"})  # masks that cannot fail on a value
_TRY_CAST_TARGETS = frozenset({*_INTEGER_DIGITS, _T.INT128, _T.UINT128, *_FLOATS, _T.DECIMAL, *_TEXT, _T.BOOLEAN,
                               _T.DATE, _T.TIME, _T.TIMETZ, _T.TIMESTAMP, _T.TIMESTAMPTZ, _T.TIMESTAMP_S,
                               _T.TIMESTAMP_MS, _T.TIMESTAMP_NS, _T.INTERVAL, _T.UUID})  # TRY_CAST gives NULL


@dataclass(frozen=True)
class Barrier:
    """Per query: the guarded columns of each filtered dataset (by address, the dataset's spelling),
    and the conjuncts moved into each table reference (by ``id`` of its node), over the source alias."""
    guards: dict[str, frozenset[str]]
    pushed: dict[int, list[exp.Expression]]


def barrier(tree: exp.Expression, tables: list[tuple[exp.Table, Dataset]], rules: dict[str, Governance]) -> Barrier:
    """Analyse `tree` (the user's query, as the engine reads it) and move its pushable conjuncts out
    of it; `tables` are its dataset references, `rules` each dataset's masks and filters."""
    filtered = {dataset.address: dataset for _, dataset in tables if rules[dataset.address].filters}
    if not filtered:
        return Barrier({}, {})
    everything = Barrier({address: frozenset(dataset.columns) for address, dataset in filtered.items()}, {})
    relations = _relations(tree)
    if _opaque(tree, relations):
        return everything
    types = _types(tree, tables, rules, relations)
    _dates_as_dates(tree, types)
    unsafe = _unsafe_names(tree, filtered, types, relations, {id(node): dataset for node, dataset in tables})
    if unsafe is _ALL:
        return everything
    guards = {}
    for address, dataset in filtered.items():
        masks = rules[address].masks
        guards[address] = frozenset(
            column for column in dataset.columns
            if column.lower() in unsafe
            or (column in masks and masks[column][1]["operator"] not in _SAFE_MASKS))  # may fail
    return Barrier(guards, _push(tree, tables, rules))


# --- types ----------------------------------------------------------------------------------------

class _Types:
    """The types the query's names have where they can be told: dataset columns as the query sees
    them (masked), and aliases of typed expressions. A name with two types has none."""

    def __init__(self, outputs: dict[str, frozenset[str] | None] | None = None) -> None:
        self.by_name: dict[str, exp.DataType | None] = {}
        self.outputs = outputs or {}  # relation -> the names of its columns (None: not known)

    def add(self, name: str, kind: object) -> None:
        key, kind = name.lower(), kind if isinstance(kind, exp.DataType) else None
        if key in self.by_name and (kind is None or self.by_name[key] != kind):
            self.by_name[key] = None
        else:
            self.by_name[key] = kind

    def of(self, node: exp.Expression) -> exp.DataType | str | None:
        """The type of `node`: a DataType, one of the literal markers, or None (unknown)."""
        if isinstance(node, (exp.Paren, exp.Alias)):
            return self.of(node.this)
        if isinstance(node, exp.Column):
            if isinstance(node.this, exp.Star) or node.args.get("db") or (node.table and node.name.lower() not in (
                    self.outputs.get(node.table.lower()) or ())):  # else a struct's field, or not known
                return None
            return self.by_name.get(node.name.lower())
        if isinstance(node, exp.Null):
            return _NULL
        if isinstance(node, exp.Literal):
            return _STRING if node.is_string else _NUMBER
        if isinstance(node, exp.Boolean):
            return _type(_T.BOOLEAN)
        if isinstance(node, exp.Neg) and self.of(node.this) == _NUMBER:
            return _NUMBER
        if isinstance(node, (exp.Cast, exp.TryCast)):
            return node.to
        if isinstance(node, (exp.Extract, exp.Length, exp.Count)):
            return _type(_T.BIGINT)
        if isinstance(node, (exp.Lower, exp.Upper, exp.Trim, exp.Substring)):
            return _type(_T.VARCHAR)
        if isinstance(node, (exp.DPipe, exp.Concat)):  # text of text or numbers; of lists a list, of BLOBs a BLOB
            operands = [node.this, node.expression] if isinstance(node, exp.DPipe) else node.expressions
            return _type(_T.VARCHAR) if all(_to_text(self.of(o)) for o in operands) else None
        if isinstance(node, (exp.Min, exp.Max)):
            return self.of(node.this)
        if isinstance(node, exp.Avg):  # of numbers a DOUBLE; of a TIMESTAMP or INTERVAL that type
            kind = self.of(node.this)
            if kind == _NUMBER or (isinstance(kind, exp.DataType) and kind.is_type(*exp.DataType.NUMERIC_TYPES)):
                return _type(_T.DOUBLE)
            return kind if isinstance(kind, exp.DataType) and kind.is_type(*exp.DataType.TEMPORAL_TYPES,
                                                                           _T.INTERVAL) else None
        if isinstance(node, exp.Sum):
            return _sum_type(self.of(node.this), node.this)
        if isinstance(node, (exp.Add, exp.Sub)) and _days_constant(node):
            return _type(_T.TIMESTAMP)
        if isinstance(node, (exp.Add, exp.Sub, exp.Mul)):
            return _arithmetic(node, self.of(node.this), self.of(node.expression), capped=True)
        if isinstance(node, exp.Subquery) and isinstance(node.this, exp.Select) and len(node.this.expressions) == 1:
            return self.of(node.this.expressions[0])
        return None


def _types(tree: exp.Expression, tables: list[tuple[exp.Table, Dataset]], rules: dict[str, Governance],
           relations: frozenset[str]) -> _Types:
    types = _Types(_outputs(tree, tables))
    for dataset in {dataset.address: dataset for _, dataset in tables}.values():
        masks = rules[dataset.address].masks
        for column, type_name in dataset.columns.items():
            types.add(column, _masked_type(data_type(type_name), masks.get(column, (None, None))[1]))
    aliases, positional = list(tree.find_all(exp.Alias)), _positional(tree)
    projected = [e for select in tree.find_all(exp.Select) for e in select.expressions
                 if isinstance(e, exp.Column) and not isinstance(e.this, exp.Star)]
    while True:  # a name's type may change (to none) after another name took it: until nothing changes
        before = dict(types.by_name)
        for alias in aliases:
            types.add(alias.alias, types.of(alias.this))
        for name, expression in positional:
            types.add(name, types.of(expression) if expression is not tree else None)
        for column in projected:  # a derived table's column named by what it selects (a struct's field too)
            types.add(column.name, types.of(column))
        if types.by_name == before:
            return types


def _type(kind: exp.DataType.Type, *params: int) -> exp.DataType:
    """A new type node: what `DataType.build` parses its name to, without parsing."""
    return exp.DataType(this=kind, expressions=[exp.DataTypeParam(this=exp.Literal.number(p)) for p in params],
                        nested=False)


def _to_text(kind: object) -> bool:
    """Does a value of this type concatenate as text (a string, a number, a scalar)?"""
    if kind in (_STRING, _NUMBER, _NULL):
        return True
    return isinstance(kind, exp.DataType) and not kind.is_type(*exp.DataType.NESTED_TYPES) and \
        kind.this not in (_T.BLOB, _T.VARBINARY, _T.BIT, _T.JSON, _T.UNKNOWN, _T.USERDEFINED)


def _masked_type(kind: exp.DataType | None, mask: dict | None) -> exp.DataType | None:
    if mask is None or mask["operator"] in ("pass_through", "bucket_number", "bucket_date", "expression"):
        return kind
    if mask["operator"] == "redact" and not (kind is not None and kind.this in _TEXT):
        return kind
    return _type(_T.VARCHAR)


def _decimal(kind: object, node: exp.Expression) -> tuple[int, int] | None:
    """(precision, scale) of an exact number type or literal (HUGEINT: 39 digits), or None."""
    if kind == _NUMBER:
        literal = _unwrapped(node.this if isinstance(node, exp.Neg) else node)
        if not isinstance(literal, exp.Literal) or literal.is_string:
            return None
        match = re.fullmatch(r"([0-9]*)(?:\.([0-9]*))?", str(literal.this))
        if not match or not (match.group(1) or match.group(2)):
            return None
        whole, fraction = match.group(1).lstrip("0"), match.group(2) or ""
        return max(1, len(whole)) + len(fraction), len(fraction)
    if not isinstance(kind, exp.DataType):
        return None
    if kind.this in _INTEGER_DIGITS:
        return _INTEGER_DIGITS[kind.this], 0
    if kind.this == _T.DECIMAL:
        if not all(p.name.isdigit() for p in kind.expressions) or len(kind.expressions) > 2:
            return None
        params = [int(p.name) for p in kind.expressions] + [18, 3][len(kind.expressions):]
        return params[0], params[1]
    return None


def _unwrapped(node: exp.Expression) -> exp.Expression:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def _sum_type(kind: object, node: exp.Expression) -> exp.DataType | None:
    if isinstance(kind, exp.DataType) and kind.this in _FLOATS:
        return _type(_T.DOUBLE)
    exact = _decimal(kind, node)
    if exact is None:
        return None
    return _type(_T.DECIMAL, 38, exact[1]) if exact[1] or kind == _NUMBER else _type(_T.INT128)


def _arithmetic(node: exp.Expression, left: object, right: object, capped: bool = False) -> exp.DataType | str | None:
    """The type of ``+``, ``-`` or ``*`` when it cannot fail (or, `capped`, the engine's type for it
    anyway): floating point, or exact arithmetic whose result fits its type; integers alone can
    overflow, except small literals."""
    numbers = [_decimal(k, n) for k, n in ((left, node.this), (right, node.expression))]
    if any(isinstance(k, exp.DataType) and k.this in _FLOATS for k in (left, right)):
        floating = all(isinstance(k, exp.DataType) and k.this in _FLOATS or n is not None
                       for k, n in zip((left, right), numbers))
        return _type(_T.DOUBLE) if floating else None
    if None in numbers:
        return None
    (p1, s1), (p2, s2) = numbers
    if left == right == _NUMBER:  # the engine computes it once: its type, if it cannot fail
        if isinstance(node, exp.Mul):
            precision, scale = p1 + p2, s1 + s2
        else:
            scale = max(s1, s2)
            precision = max(p1 - s1, p2 - s2) + scale + 1
        return _type(_T.DECIMAL, precision, scale) if precision <= _INT64_DIGITS else None
    if not any(isinstance(k, exp.DataType) and k.this == _T.DECIMAL for k in (left, right)):
        return _type(_T.BIGINT) if capped else None
    if isinstance(node, exp.Mul):
        precision, scale = p1 + p2, s1 + s2
    else:
        scale = max(s1, s2)
        precision = max(p1 - s1, p2 - s2) + scale + 1
    limit = _INT64_DIGITS if max(p1, p2) <= _INT64_DIGITS else _MAX_DECIMAL  # the engine keeps 64-bit sums 64-bit
    if precision > limit and not capped:
        return None
    if scale > limit:  # a product's scale past 64 bits: the engine widens it (DECIMAL(36,30)), or refuses it
        return _type(_T.DECIMAL, min(precision, _MAX_DECIMAL), scale) if scale <= _MAX_DECIMAL else None
    return _type(_T.DECIMAL, min(precision, limit), scale)


def _date_literal(node: exp.Expression) -> bool:
    """``DATE 'yyyy-mm-dd'`` of a year the engine's timestamps hold."""
    return isinstance(node, exp.Cast) and node.to.this == _T.DATE and isinstance(node.this, exp.Literal) and \
        node.this.is_string and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", node.this.name) is not None and \
        _literal_casts(node.this.name, "DATE")


def _days_constant(node: exp.Expression) -> bool:
    """``DATE 'd' ± INTERVAL 'n' unit`` for a unit of whole days: a TIMESTAMP at midnight, that
    cannot fail (n below 10,000)."""
    if not (isinstance(node, (exp.Add, exp.Sub)) and _date_literal(node.this)
            and isinstance(node.expression, exp.Interval)):
        return False
    interval = node.expression
    unit = interval.args.get("unit")
    return (isinstance(interval.this, exp.Literal) and re.fullmatch(r"-?[0-9]{1,4}", str(interval.this.this).strip())
            is not None and unit is not None and unit.name.upper() in _DAY_UNITS)


def _dates_as_dates(tree: exp.Expression, types: _Types) -> None:
    """Compare a DATE column with ``DATE ± INTERVAL`` (whole days) as a DATE, not a TIMESTAMP."""
    for node in list(tree.find_all(*_COMPARISONS, exp.Between)):
        this = node.this
        if not (isinstance(types.of(this), exp.DataType) and types.of(this).this == _T.DATE):
            continue
        for key in ("expression", "low", "high"):
            side = node.args.get(key)
            if side is not None and _days_constant(side):
                side.replace(exp.Cast(this=side.copy(), to=_type(_T.DATE)))


_PLAIN_TYPE = re.compile(r"[A-Z][A-Z0-9_]*(?: [A-Z][A-Z0-9_]*)*(?:\([0-9]{1,3}(?:, ?[0-9]{1,3})?\))?")
_CHECKER: list = []
_CHECKER_LOCK = threading.Lock()


@lru_cache(maxsize=1024)
def _literal_casts(text: str, type_sql: str) -> bool:
    """Does the engine cast the constant `text` to `type_sql` (else it fails on whichever row reaches
    it)? Asked of a locked-down engine of its own, for plain type names only (a type's parameters
    could be any SQL)."""
    if not _PLAIN_TYPE.fullmatch(type_sql):
        return False
    with _CHECKER_LOCK:
        if not _CHECKER:
            import duckdb
            con = duckdb.connect(config={"enable_external_access": False, "autoload_known_extensions": False,
                                         "autoinstall_known_extensions": False})
            con.execute("SET lock_configuration = true")
            _CHECKER.append(con)
        try:
            return bool(_CHECKER[0].execute(f"SELECT TRY_CAST($1 AS {type_sql}) IS NOT NULL", [text]).fetchone()[0])
        except Exception:  # a type the engine does not know: no cast to rely on
            return False


# --- leakproof ------------------------------------------------------------------------------------

def _constant(node: exp.Expression) -> bool:
    return node.find(exp.Column, exp.Star, exp.Subquery, exp.Select) is None


def _comparable(a: exp.Expression, b: exp.Expression, types: _Types) -> bool:
    """Can the engine compare `a` and `b` without a cast that can fail on a value read from a row?"""
    ta, tb = types.of(a), types.of(b)
    if _NULL in (ta, tb):
        return True
    if ta is None or tb is None:
        return False
    for kind, side, other in ((ta, a, tb), (tb, b, ta)):
        if kind == _STRING and other != _NUMBER:  # the engine casts the text once; it must cast
            return other == _STRING or _literal_casts(_unwrapped(side).name, other.sql("duckdb"))
    if isinstance(ta, exp.DataType) and isinstance(tb, exp.DataType) and ta == tb:
        return True
    if all(isinstance(k, exp.DataType) and k.this in _TEXT for k in (ta, tb)):
        return True
    if any(isinstance(k, exp.DataType) and k.this in _FLOATS for k in (ta, tb)):
        return all(isinstance(k, exp.DataType) and k.this in _FLOATS or _decimal(k, n) is not None
                   for k, n in ((ta, a), (tb, b)))
    x, y = _decimal(ta, a), _decimal(tb, b)
    return x is not None and y is not None and max(x[0] - x[1], y[0] - y[1]) + max(x[1], y[1]) <= _MAX_DECIMAL


def _one_type(operands: list[exp.Expression], types: _Types) -> bool:
    """Can the engine cast all of `operands` to one type (an IN list, CASE results) without a cast
    that can fail on a value read from a row? Linear in the operands (an IN list may be long): one
    type for all, or numbers whose common type holds each (the widest integer part and the largest
    scale within 38 digits), or text; constant strings must cast to the others' type; NULL fits all."""
    kinds = [(types.of(o), o) for o in operands]
    kinds = [(k, o) for k, o in kinds if k != _NULL]
    if any(k is None for k, _ in kinds):
        return False
    strings = [o for k, o in kinds if k == _STRING]
    typed = [k for k, _ in kinds if k != _STRING]
    if not typed:
        return True
    if all(isinstance(k, exp.DataType) and k.this in _TEXT for k in typed):
        return True
    if all(k == typed[0] for k in typed) and isinstance(typed[0], exp.DataType):
        return all(_literal_casts(_unwrapped(o).name, typed[0].sql("duckdb")) for o in strings)
    if strings:
        return False
    if any(isinstance(k, exp.DataType) and k.this in _FLOATS for k in typed):
        return all(isinstance(k, exp.DataType) and k.this in _FLOATS or _decimal(k, o) is not None
                   for k, o in kinds)
    exact = [_decimal(k, o) for k, o in kinds]
    return None not in exact and max(p - s for p, s in exact) + max(s for _, s in exact) <= _MAX_DECIMAL


def _leakproof(node: exp.Expression, types: _Types) -> bool:
    """Can `node` fail, or tell anything but its result, for some value of its operands?"""
    if isinstance(node, _HARMLESS):
        return True
    if isinstance(node, exp.Case):
        subject, arms = node.args.get("this"), node.args.get("ifs") or []
        if subject is None and not all(_boolean(arm.this, types) for arm in arms):
            return False
        results = [arm.args.get("true") for arm in arms] + [node.args.get("default") or exp.Null()]
        return (subject is None or all(_comparable(subject, arm.this, types) for arm in arms)) and \
            _one_type(results, types)  # the engine casts them to one type
    if isinstance(node, exp.If):
        results = [node.args.get("true"), node.args.get("false") or exp.Null()]
        return _boolean(node.this, types) and _one_type(results, types)
    if isinstance(node, (exp.And, exp.Or)):
        return _boolean(node.this, types) and _boolean(node.expression, types)
    if isinstance(node, exp.Not):
        return _boolean(node.this, types)
    if isinstance(node, exp.Is):
        return isinstance(node.expression, exp.Null) or _boolean(node.this, types)
    if isinstance(node, exp.AggFunc):  # reads kept rows only; but in a nested query, an outer row's value per row
        select = node.find_ancestor(exp.Select)
        if select is None or select.find_ancestor(exp.Select) is None:
            return True
        own = {source.alias_or_name.lower() for source, _ in sources(select)}
        return all(not column.table or column.table.lower() in own for column in node.find_all(exp.Column))
    if isinstance(node, exp.Subquery):  # a scalar subquery fails past one row: only single-row ones
        return isinstance(node.parent, exp.In) and node.arg_key == "query" or _single_row(node.this)
    if isinstance(node, _COMPARISONS):
        return _comparable(node.this, node.expression, types)
    if isinstance(node, exp.Between):  # the engine casts the value and both bounds to one type
        return _one_type([node.this, node.args["low"], node.args["high"]], types)
    if isinstance(node, exp.In):  # the engine casts the value and every item to one type
        query = node.args.get("query")
        return _one_type([node.this, *node.expressions, *([query] if query is not None else [])], types)
    if isinstance(node, (exp.Like, exp.ILike)):
        kind = types.of(node.this)
        return _constant(node.expression) and _constant(node.args.get("escape") or exp.Null()) and \
            (kind == _NULL or (isinstance(kind, exp.DataType) and kind.this in _TEXT))
    if isinstance(node, exp.TryCast):  # (to a GEOMETRY it fails on text it cannot read)
        return node.to.this in _TRY_CAST_TARGETS
    if isinstance(node, exp.Cast):
        kind = types.of(node.this)
        if isinstance(node.this, exp.Literal) and node.this.is_string:
            return _literal_casts(node.this.name, node.to.sql("duckdb"))
        if node.to.this == _T.DATE and _days_constant(node.this):
            return True
        return node.to.this in _TEXT and isinstance(kind, exp.DataType) and kind.this not in (_T.BLOB, _T.VARBINARY)
    if isinstance(node, exp.Substring):
        return all(_small_integer(node.args[k]) for k in ("start", "length") if node.args.get(k))
    if isinstance(node, exp.Extract):
        kind = types.of(node.expression)
        return isinstance(kind, exp.DataType) and kind.is_type(*exp.DataType.TEMPORAL_TYPES)
    if isinstance(node, exp.Interval):
        return isinstance(node.this, exp.Literal) and re.fullmatch(r"-?[0-9]{1,4}", str(node.this.this).strip()) \
            is not None
    if isinstance(node, (exp.Add, exp.Sub)) and _days_constant(node):
        return True
    if isinstance(node, (exp.Add, exp.Sub, exp.Mul)):
        return _arithmetic(node, types.of(node.this), types.of(node.expression)) is not None
    if isinstance(node, exp.Neg):
        return types.of(node.this) == _NUMBER
    return False


_PREDICATES = (*_COMPARISONS, exp.Between, exp.In, exp.Like, exp.ILike, exp.Is, exp.Exists, exp.And, exp.Or, exp.Not,
               exp.Boolean, exp.Null)


def _boolean(node: exp.Expression, types: _Types) -> bool:
    """Is `node` a boolean (the engine casts anything else standing for one, and that can fail)?"""
    node = _unwrapped(node)
    kind = types.of(node)
    return isinstance(node, _PREDICATES) or (isinstance(kind, exp.DataType) and kind.this == _T.BOOLEAN)


def _small_integer(node: exp.Expression) -> bool:
    node = _unwrapped(node.this if isinstance(node, exp.Neg) else node)
    return isinstance(node, exp.Literal) and not node.is_string and re.fullmatch(r"[0-9]{1,9}", str(node.this)) \
        is not None


def _single_row(query: exp.Expression) -> bool:
    """Does `query` return at most one row: an aggregate without GROUP BY, or LIMIT 1?"""
    if not isinstance(query, exp.Select):
        return False
    limit = query.args.get("limit")
    if limit is not None and _small_integer(limit.expression) and int(limit.expression.name) <= 1:
        return True
    return query.args.get("group") is None and all(_aggregates(e, query) for e in query.expressions)


def _aggregates(expression: exp.Expression, query: exp.Select) -> bool:
    """Does `expression` hold an aggregate of `query` itself (not a window's, not a nested query's)?"""
    for node in expression.find_all(exp.AggFunc):
        if node.find_ancestor(exp.Select) is query and node.find_ancestor(exp.Window, exp.Select) is query:
            return True
    return False


def _nodes(root: exp.Expression) -> Iterator[exp.Expression]:
    """`root` and what it evaluates, not descending into subqueries (each is checked on its own)."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, (exp.Subquery, exp.Exists, exp.Select, exp.Column)):
            stack.extend(node.iter_expressions())


def _clean(root: exp.Expression, types: _Types) -> bool:
    return all(_leakproof(node, types) for node in _nodes(root))


# --- roots and names ------------------------------------------------------------------------------

def _roots(select: exp.Select) -> Iterator[tuple[exp.Expression, bool]]:
    """The expressions `select` evaluates, each with whether the engine may run it as a filter
    (anywhere below: conjuncts travel) rather than on rows a filter kept."""
    for expression in select.expressions:
        yield expression, False
    where = select.args.get("where")
    if where is not None:
        yield from ((c, True) for c in _conjuncts(where.this))
    for join in select.args.get("joins") or []:
        for key in ("on", "match_condition"):
            if join.args.get(key) is not None:
                yield from ((c, True) for c in _conjuncts(join.args[key]))
    having = select.args.get("having")
    if having is not None:  # a conjunct without aggregates is pushed below the aggregation
        yield from ((c, c.find(exp.AggFunc) is None) for c in _conjuncts(having.this))
    qualify = select.args.get("qualify")
    if qualify is not None:
        yield from ((c, True) for c in _conjuncts(qualify.this))
    for key in ("group", "order", "distinct", "limit", "offset"):
        part = select.args.get(key)
        if isinstance(part, exp.Expression):
            yield from ((e, False) for e in part.iter_expressions())


def _outputs(tree: exp.Expression, tables: list[tuple[exp.Table, Dataset]]) -> dict[str, frozenset[str] | None]:
    """The columns each relation name of the query has (None where it cannot be told, or the name is
    given twice): a dataset's; a derived table's or CTE's projections, or its column list."""
    datasets = {id(node): dataset for node, dataset in tables}
    ctes = {cte.alias_or_name.lower(): cte.this for cte in tree.find_all(exp.CTE)}
    out: dict[str, frozenset[str] | None] = {}
    for source in tree.find_all(exp.Table, exp.Subquery):
        alias = source.args.get("alias")
        name = source.alias_or_name.lower()
        if isinstance(alias, exp.TableAlias) and alias.columns:
            names = frozenset(c.name.lower() for c in alias.columns)
        elif id(source) in datasets:
            names = frozenset(c.lower() for c in datasets[id(source)].columns)
        else:
            body = source.this if isinstance(source, exp.Subquery) else ctes.get(source.name.lower())
            names = frozenset(e.alias_or_name.lower() for e in body.expressions) if isinstance(body, exp.Select) \
                and not any(isinstance(e, exp.Star) for e in body.expressions) else None
        out[name] = None if name in out else names
    return out


def _relations(tree: exp.Expression) -> frozenset[str]:
    """The lower-case names the query's relations go by (tables, CTEs, aliases of subqueries)."""
    names = {alias.name.lower() for alias in tree.find_all(exp.TableAlias) if alias.name}
    return frozenset(names | {table.name.lower() for table in tree.find_all(exp.Table)})


def _opaque(tree: exp.Expression, relations: frozenset[str]) -> bool:
    """Does a value of `tree` flow by position, where names cannot follow it? (A star inside an
    expression, or over a struct rather than a relation, too.)"""
    def positional(star: exp.Star) -> bool:
        parent = star.parent
        if isinstance(parent, exp.Column):
            return parent.table.lower() not in relations or not isinstance(parent.parent, exp.Select)
        return parent is not None and not isinstance(parent, (exp.Select, exp.Count))
    def unnamed(select: exp.Select) -> bool:  # a derived table's, CTE's or lateral query's column the engine names
        chain = [select.parent]
        while isinstance(chain[-1], exp.Subquery) and isinstance(chain[-1].parent, (exp.Subquery, exp.CTE)):
            chain.append(chain[-1].parent)  # ((SELECT …)), a CTE's body in parentheses
        if not (isinstance(chain[-1], exp.CTE) or isinstance(chain[-1], exp.Subquery) and isinstance(
                chain[-1].parent, (exp.From, exp.Join, exp.Lateral))):
            return False  # not a relation: a scalar, IN or EXISTS subquery's output has no name to use
        listed = next((alias.columns for alias in (node.args.get("alias") for node in chain)
                       if isinstance(alias, exp.TableAlias) and alias.columns), [])
        rest = select.expressions[len(listed):]  # what the column list does not rename keeps its own name
        if any(isinstance(e, exp.Star) or isinstance(e, exp.Column) and isinstance(e.this, exp.Star)
               for e in select.expressions):
            return len(select.expressions) > 1 or len(sources(select)) > 1  # a name may come twice (s, s_1)
        if any(not isinstance(e, (exp.Column, exp.Alias)) for e in rest):
            return True
        names = [c.name.lower() for c in listed] + [e.alias_or_name.lower() for e in rest]
        return len(set(names)) < len(names)  # the engine renames the second a (a_1)
    return tree.find(*_OPAQUE) is not None or any(positional(star) for star in tree.find_all(exp.Star)) or \
        any(unnamed(select) for select in tree.find_all(exp.Select))


def _unsafe_names(tree: exp.Expression, filtered: dict[str, Dataset], types: _Types, relations: frozenset[str],
                  datasets: dict[int, Dataset]) -> frozenset[str]:
    """The lower-case dataset column names an expression that is not leakproof may read or depend
    on, or `_ALL` (a filter that is not leakproof: it may run anywhere, next to any other)."""
    lineage: dict[str, frozenset[str]] = {}
    for dataset in filtered.values():
        for column in dataset.columns:
            lineage[column.lower()] = frozenset({column.lower()})
    for column in tree.find_all(exp.Column):  # a relation's name as a column is its whole row
        if not column.table and column.name.lower() in relations and _whole_row(column, tree, datasets):
            lineage[column.name.lower()] = _ALL
    _follow_aliases(tree, lineage, types)
    unsafe: set[str] = set()
    covered: set[int] = set()
    for select in tree.find_all(exp.Select):
        for root, is_filter in _roots(select):
            nodes = list(_nodes(root))
            covered.update(id(n) for n in nodes if isinstance(n, exp.Column))
            if all(_leakproof(node, types) for node in nodes) and (not is_filter or _boolean(root, types)):
                continue
            if is_filter:
                return _ALL
            reads = _reads(list(root.find_all(exp.Column)), lineage, types)  # nested queries' columns too
            if reads is _ALL:
                return _ALL
            unsafe |= reads
    if any(id(column) not in covered for column in tree.find_all(exp.Column)):
        return _ALL  # a column somewhere this analysis does not look: assume the worst
    for join in tree.find_all(exp.Join):
        names = [i.name.lower() for i in join.args.get("using") or []]
        if join.args.get("method") or join.args.get("kind") == "NATURAL":
            names = list(lineage)
        for name in names:  # USING and NATURAL compare same-named columns, casting one if they differ
            if name in lineage and types.by_name.get(name) is None:
                if lineage[name] is _ALL:
                    return _ALL
                unsafe |= lineage[name]
    return frozenset(unsafe)


def _whole_row(column: exp.Column, tree: exp.Expression, datasets: dict[int, Dataset]) -> bool:
    """Could `column` (named like a relation) be that relation's whole row: no relation of its query
    surely has a column of that name? (DuckDB prefers a column.)"""
    select = column.find_ancestor(exp.Select)
    if select is None:
        return True
    name = column.name.lower()
    for source, _ in sources(select):
        if id(source) in datasets:
            names = [c.lower() for c in datasets[id(source)].columns]
        else:
            body = source.this if isinstance(source, exp.Subquery) else next(
                (cte.this for cte in tree.find_all(exp.CTE) if isinstance(source, exp.Table)
                 and cte.alias_or_name.lower() == source.name.lower()), None)
            alias = source.args.get("alias")
            names = [c.name.lower() for c in alias.columns] if isinstance(alias, exp.TableAlias) and alias.columns \
                else [e.alias_or_name.lower() for e in body.expressions] if isinstance(body, exp.Select) else []
        if name in names:
            return False
    return True


def _positional(tree: exp.Expression) -> list[tuple[str, exp.Expression]]:
    """Column names given by position (``AS t(a, b)``, ``WITH x(a) AS``), each with the expression it
    names (`tree` itself when that cannot be told)."""
    out: list[tuple[str, exp.Expression]] = []
    for alias in tree.find_all(exp.TableAlias):
        source = alias.parent.this if isinstance(alias.parent, (exp.Subquery, exp.CTE)) else None
        names = [c.name.lower() for c in alias.columns]
        if names and isinstance(source, exp.Select) and len(source.expressions) == len(names) \
                and not any(isinstance(e, exp.Star) for e in source.expressions):
            out += list(zip(names, source.expressions))
        else:
            out += [(name, tree) for name in names]
    return out


def _follow_aliases(tree: exp.Expression, lineage: dict[str, frozenset[str]], types: _Types) -> None:
    """Extend `lineage` to the aliases and positional column names whose values derive from it."""
    definitions = [(a.alias.lower(), list(a.this.find_all(exp.Column))) for a in tree.find_all(exp.Alias)]
    definitions += [(name, list(tree.find_all(exp.Column))) for name, expression in _positional(tree)
                    if expression is tree]
    definitions += [(name, list(expression.find_all(exp.Column))) for name, expression in _positional(tree)
                    if expression is not tree]
    changed = True
    while changed:
        changed = False
        for name, nodes in definitions:
            reads = _reads(nodes, lineage, types, rows_only=True)
            if reads and lineage.get(name) is not _ALL and not reads <= lineage.get(name, frozenset()):
                lineage[name] = _ALL if reads is _ALL else lineage.get(name, frozenset()) | reads
                changed = True


def _reads(nodes: list[exp.Expression], lineage: dict[str, frozenset[str]], types: _Types,
           rows_only: bool = False) -> frozenset[str]:
    """The dataset columns the columns among `nodes` stand for (`rows_only`: not through an aggregate
    or a window of the same query, whose values come from kept rows only). A name the query gives
    no column (the engine's own name for an unnamed output) stands for everything."""
    out: set[str] = set()
    for column in nodes:
        if not isinstance(column, exp.Column):
            continue
        if column.name.lower() not in lineage:
            if column.name.lower() not in types.by_name and not isinstance(column.this, exp.Star):
                return _ALL
            continue
        if rows_only and _aggregated(column):
            continue
        if lineage[column.name.lower()] is _ALL:
            return _ALL
        out |= lineage[column.name.lower()]
    return frozenset(out)


def _aggregated(node: exp.Expression) -> bool:
    """Is `node` read through an aggregate or window of the query its alias is in (not of a nested,
    maybe correlated, one: that aggregates per row of the outer query)?"""
    seen = False
    while node is not None and not isinstance(node, exp.Alias):
        node = node.parent
        if isinstance(node, (exp.Select, exp.Subquery)):
            return False
        seen = seen or isinstance(node, (exp.AggFunc, exp.Window))
    return seen


# --- pushing predicates into governed tables ------------------------------------------------------

def _push(tree: exp.Expression, tables: list[tuple[exp.Table, Dataset]], rules: dict[str, Governance]
          ) -> dict[int, list[exp.Expression]]:
    """Move each conjunct of a WHERE or an inner join's ON that reads one filtered dataset reference
    (not null-extended) into that reference's list. (Every filter of the query is leakproof by now.)"""
    by_node = {id(node): dataset for node, dataset in tables}
    pushed: dict[int, list[exp.Expression]] = {}
    for select in list(tree.find_all(exp.Select)):
        relations = sources(select)
        targets = {id(node): node for node, inner in relations if id(node) in by_node and inner
                   and rules[by_node[id(node)].address].filters}
        if not targets:
            continue
        conditions = [(select, select.args.get("where"))]
        conditions += [(join, join.args.get("on")) for join in select.args.get("joins") or []
                       if not join.side and join.kind in ("", "INNER")]
        for owner, condition in conditions:
            if condition is None:
                continue
            kept = []
            for conjunct in _conjuncts(condition.this if isinstance(condition, exp.Where) else condition):
                target = _target(conjunct, relations, by_node, rules)
                if target is not None and id(target) in targets:
                    pushed.setdefault(id(target), []).append(_over_source(conjunct, by_node[id(target)]))
                else:
                    kept.append(conjunct)
            _keep(owner, condition, kept)
    return pushed


def sources(select: exp.Select) -> list[tuple[exp.Expression, bool]]:
    """The relations of `select`'s FROM and joins, each with whether no join null-extends it."""
    from_ = select.args.get("from_")
    joins = select.args.get("joins") or []
    if from_ is None:
        return []
    plain = all(not join.side and join.kind in ("", "INNER", "CROSS") and not join.args.get("method")
                for join in joins)
    left_only = all(join.side == "LEFT" and not join.args.get("method") for join in joins)
    out = [(from_.this, plain or left_only)]
    out += [(join.this, plain) for join in joins]
    return out


def _target(conjunct: exp.Expression, sources: list[tuple[exp.Expression, bool]], by_node: dict[int, Dataset],
            rules: dict[str, Governance]) -> exp.Expression | None:
    """The one dataset reference `conjunct` may move into, or None: it must be a predicate without
    subqueries, reading only unmasked columns of that reference."""
    if conjunct.find(exp.Subquery, exp.Select, exp.Exists, exp.AggFunc, exp.Window, exp.Star) is not None:
        return None
    columns = list(conjunct.find_all(exp.Column))
    if not columns or not _predicate(conjunct):
        return None
    found = {id(_resolve(column, sources, by_node)) for column in columns}
    if len(found) != 1 or id(None) in found:
        return None
    node = _resolve(columns[0], sources, by_node)
    dataset = by_node[id(node)]
    masks = rules[dataset.address].masks
    for column in columns:
        name = _spelled(dataset, column.name)
        if name in masks and masks[name][1]["operator"] != "pass_through":
            return None
    return node


def _predicate(node: exp.Expression) -> bool:
    """Is `node` a boolean built only from leakproof predicate forms?"""
    if isinstance(node, (exp.And, exp.Or)):
        return _predicate(node.this) and _predicate(node.expression)
    if isinstance(node, (exp.Not, exp.Paren)):
        return _predicate(node.this)
    return isinstance(node, (*_COMPARISONS, exp.Between, exp.In, exp.Like, exp.ILike, exp.Is, exp.Boolean))


def _resolve(column: exp.Column, sources: list[tuple[exp.Expression, bool]],
             by_node: dict[int, Dataset]) -> exp.Expression | None:
    """The dataset reference of this SELECT that `column` binds to, or None (another relation, an
    outer query's, or not sure)."""
    if column.table:
        named = [node for node, _ in sources if node.alias_or_name.lower() == column.table.lower()]
        return named[0] if len(named) == 1 and id(named[0]) in by_node else None
    if any(id(node) not in by_node for node, _ in sources):
        return None  # a derived table or CTE may have a column of that name
    having = [node for node, _ in sources if _spelled(by_node[id(node)], column.name) is not None]
    return having[0] if len(having) == 1 else None


def _spelled(dataset: Dataset, name: str) -> str | None:
    lower = name.lower()
    return next((column for column in dataset.columns if column.lower() == lower), None)


def _over_source(conjunct: exp.Expression, dataset: Dataset) -> exp.Expression:
    """`conjunct` with its columns read from the governed table's source alias."""
    moved = conjunct.copy()
    for column in list(moved.find_all(exp.Column)):
        column.replace(exp.column(_spelled(dataset, column.name), table=SOURCE_ALIAS, quoted=True))
    return moved


def _conjuncts(node: exp.Expression) -> Iterator[exp.Expression]:
    if isinstance(node, exp.And):
        yield from _conjuncts(node.this)
        yield from _conjuncts(node.expression)
    elif isinstance(node, exp.Paren) and isinstance(node.this, exp.And):
        yield from _conjuncts(node.this)
    else:
        yield node


def _keep(owner: exp.Expression, condition: exp.Expression, kept: list[exp.Expression]) -> None:
    """Put back what stays of a WHERE or ON condition (TRUE for an ON that moved entirely)."""
    remaining = exp.and_(*kept, copy=False) if kept else None
    if isinstance(condition, exp.Where):
        owner.set("where", exp.Where(this=remaining) if remaining is not None else None)
    else:
        owner.set("on", remaining if remaining is not None else exp.true())
