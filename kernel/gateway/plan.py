"""The Gateway planner: user SQL in any dialect in, one governed DuckDB query out. Pure: no I/O.

1. Parse with sqlglot; exactly one statement, and it must be a query. Translate it: generate its
   DuckDB SQL and parse that back (`proof.translate`); what follows checks *that* tree, the query
   as the engine will read it, whatever the translation echoed. (DuckDB SQL is first tried as
   parsed: step 5 proves the engine reads the final SQL back as the tree checked either way.)
2. Walk the whole tree (`checks.Walk`): every function is on the allowlist; no nested statement,
   ``SELECT … INTO`` or query parameter; no free text that would be written out unquoted unless it is a plain word;
   every relation is a CTE in scope or resolves to a `Dataset` the user may select (`Finder`:
   one they may not is unknown, ENOENT, exactly as one that does not exist).
3. Work out the user's masks and row filters per dataset; name the unnamed output columns
   (``count(*)``, not the engine's ``count_star()``).
4. Decide the security barrier (`leakproof.barrier`): which columns of filtered datasets some user
   expression could fail on (those are gated), which leakproof conjuncts move into the datasets.
   Replace every dataset reference with its governed derived table (`masks.governed_table`),
   keeping the alias (or the table's own name), so everything the query does sees masked values.
5. Generate DuckDB SQL (identifiers quoted, comments dropped) and prove it parses back to exactly
   the governed tree (`proof.prove`).

Plans are kept (`_PLANS`) by the SQL, its dialect and defaults, the user's tags and the data
policies in force; one is used again only when each of its table references still resolves, for
this user now (`select` asked again), to the very dataset it did.

CTE scoping follows DuckDB and errs towards "dataset": a CTE is visible in the CTEs after it and in
the rest of its query, and (``WITH RECURSIVE``, UNION bodies only) in its own recursive branch.
A name taken for a dataset that DuckDB would bind to a CTE is merely rewritten; the reverse could
read an engine table, so it must not happen.
"""
from __future__ import annotations

import difflib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect, NormalizationStrategy
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

from syscalls.spec import text_problem

from . import meta, proof
from .checks import (FORBIDDEN, Walk, check_dialect, parse_error_position,
                     statement_name, token_error_position)
from .leakproof import sources as leakproof_sources
from .leakproof import barrier
from .masks import SOURCE_ALIAS, VIEW_SCHEMA, GovernedTable, governed_table, with_pushed
from .model import Dataset, GatewayError, Plan, shown
from .policies import DataPolicy, Governance, govern

Resolver = Callable[[str, str | None, str | None], Dataset | None]
Known = Callable[[], Iterable[str]]

_QUERIES = (exp.Select, exp.SetOperation, exp.Values, exp.Subquery)
_QUERY_KEYWORDS = frozenset({"SELECT", "WITH", "VALUES", "FROM", "TABLE"})
_SUBSCRIPT_CHAIN = 100  # sqlglot parses chained subscripts (x[1][1]…) in quadratic time
_MAX_TOKENS = 100_000
_PLAIN = re.compile(r"[a-z_][a-z0-9_]*")  # a name DuckDB reads the same unquoted
_BARE_WORDS = (exp.CurrentDate, exp.CurrentTime, exp.CurrentTimestamp, exp.Localtime, exp.Localtimestamp)
_NEAR = 0.6  # how alike a name must be to be offered as "did you mean" (difflib's ratio)


def plan(sql: str, *, dialect: str = "duckdb", resolve: Resolver, can_select: Callable[[Dataset], bool],
         policies: Sequence[DataPolicy], user_tags: frozenset[str],
         default_depot: str | None = None, default_collection: str | None = None, known: Known = tuple) -> Plan:
    """Plan `sql` for a user: raise `GatewayError` (EINVAL, EACCES, ENOENT) or return the governed `Plan`.

    `resolve(name, collection, depot)` maps a table reference (missing parts filled from the defaults)
    to a dataset or None; `known()` gives the SQL names (``depot.collection.dataset``) of the datasets
    the user may select, for "did you mean". A meta command (DESCRIBE, SHOW TABLES, SUMMARIZE, ``\\d``)
    is planned as the governed query that answers it (`meta`)."""
    problem = text_problem(sql)  # (requests are refused so before they get here; a direct caller too)
    if problem:
        raise GatewayError("EINVAL", f"the query {problem}")
    check_dialect(dialect)
    find = Finder(resolve, can_select, known, default_depot, default_collection, dialect)
    command = meta.parse(sql, dialect)
    if command is not None:
        answer = meta.answer(command, find, policies, user_tags)
        governed = plan(answer.sql, resolve=resolve, can_select=can_select, policies=policies, user_tags=user_tags)
        return replace(governed, policies=tuple(sorted({*governed.policies, *answer.policies})),
                       datasets=tuple(dict.fromkeys((*governed.datasets, *answer.datasets))))
    key = (sql, dialect, default_depot, default_collection, user_tags, tuple(map(id, policies)))
    cached = _PLANS.get(key)
    if cached is not None and cached.holds(find):
        return cached.plan
    governed, walk = _plan(sql, dialect, find, policies, user_tags)
    _PLANS.put(key, _Cached(governed, tuple(walk.written), tuple(policies)))
    return governed


class _Cached:
    """A plan, the datasets its table references resolved to (by the names as written), and the
    policies it was made under (kept, so that their ids, in its key, stay theirs)."""

    def __init__(self, plan: Plan, tables: tuple[tuple[tuple[str, ...], Dataset], ...],
                 policies: tuple[DataPolicy, ...]) -> None:
        self.plan, self.tables, self.policies = plan, tables, policies

    def holds(self, find: Finder) -> bool:
        """Does every reference still resolve, for this user now, to the very dataset it did (its
        columns and tags alike)? Asks `select` of each, as planning would."""
        try:
            return all(find(names) == dataset for names, dataset in self.tables)
        except GatewayError:
            return False  # planning again says why


class _Lru:
    def __init__(self, size: int) -> None:
        self.size, self.items, self.lock = size, OrderedDict(), threading.Lock()

    def get(self, key: object) -> _Cached | None:
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
            return self.items.get(key)

    def put(self, key: object, value: _Cached) -> None:
        with self.lock:
            self.items[key] = value
            while len(self.items) > self.size:
                self.items.popitem(last=False)


_PLANS = _Lru(512)  # plans by (SQL, dialect, defaults, user tags, policies): a dashboard asks the same again


def _plan(sql: str, dialect: str, find: Finder, policies: Sequence[DataPolicy], user_tags: frozenset[str]
          ) -> tuple[Plan, Walk]:
    """Plan a query (not a meta command) from scratch: steps 1 to 5 of the module's docstring. SQL
    already in the engine's dialect is first planned as parsed, untranslated (one generation and
    parse fewer): when the final proof holds, the tree that was checked is what the engine's SQL
    reads back as all the same; when anything fails, it is planned translated, as any dialect."""
    if dialect == proof.ENGINE_NAME:
        try:
            return _planned(sql, dialect, find, policies, user_tags, translate=False)
        except Exception:  # (a tree sqlglot only reshapes when generating it may trip anything up)
            pass  # not a fixed point of generating and parsing, or refused: the translated tree says why
    return _planned(sql, dialect, find, policies, user_tags, translate=True)


def _planned(sql: str, dialect: str, find: Finder, policies: Sequence[DataPolicy], user_tags: frozenset[str],
             translate: bool) -> tuple[Plan, Walk]:
    try:
        tree = table_names_as_written(_parse(sql, dialect), dialect)
        tree = proof.translate(tree) if translate else proof.quoted(tree)
        if not isinstance(tree, _QUERIES):
            raise GatewayError("EACCES", f"{statement_name(tree)} is not allowed: only queries are")
        walk = Walk(find)
        walk.visit(tree, frozenset())
        datasets: dict[str, Dataset] = {}
        for _, dataset in walk.tables:
            datasets.setdefault(dataset.address, dataset)
        rules = {address: govern(dataset, policies, user_tags) for address, dataset in datasets.items()}
        masked = _masked_outputs(tree, walk.tables, rules)
        _name_outputs(tree)
        _unqualify_columns(tree, walk.tables)
        guarded = barrier(tree, walk.tables, rules)
        spliced: dict[int, exp.Expression] = {}
        reads: dict[str, None] = {}  # what the row filters' subqueries read, for the engine's views
        used = _used_names(tree, walk.tables)
        for node, dataset in walk.tables:
            governed = governed_table(dataset, rules[dataset.address], guarded.guards.get(dataset.address, frozenset()),
                                      user_tags, used)
            reads.update(dict.fromkeys(governed.reads))
            _bound_inside(governed, dataset, find.resolve)
            pushed = guarded.pushed.get(id(node))
            node.replace(_view(node, dataset) if governed.plain and not pushed
                         else _governed(node, governed, spliced, pushed))
        out = proof.generate(tree)
        proof.prove(out, tree, spliced)
    except RecursionError:
        raise GatewayError("EINVAL", "the query is nested too deeply") from None
    hashed = any(mask["operator"] == "hash" for rule in rules.values() for _, mask in rule.masks.values())
    applied = sorted(set().union(*(rule.policies for rule in rules.values())))
    columns = {address: tuple(dataset.columns) for address, dataset in datasets.items()}
    for address in reads:
        if address not in columns:
            found = _at(address, find.resolve)
            columns[address] = tuple(found.columns) if found is not None else ()
    return Plan(out, tuple(dict.fromkeys((*datasets, *reads))), tuple(applied), masked, hashed, columns), walk


def _at(address: str, resolve: Resolver) -> Dataset | None:
    """The dataset at `address` (``dataos://depot:collection/name``), as `resolve` finds it."""
    depot, rest = address.removeprefix("dataos://").split(":", 1)
    return resolve(*reversed(rest.split("/", 1)), depot)


def table_names_as_written(tree: exp.Expression, dialect: str) -> exp.Expression:
    """`tree` with its table names spelled as `dialect` resolves them (Postgres folds unquoted names
    to lower case, Snowflake to upper; a quoted name keeps its case): the translation to DuckDB quotes
    every name, so this is the last point where a name's quoting is known."""
    normalize = Dialect.get_or_raise(dialect).normalize_identifier
    for table in tree.find_all(exp.Table):
        for part in table.parts:
            if isinstance(part, exp.Identifier):
                normalize(part)
    return tree


def _parse(sql: str, dialect: str) -> exp.Expression:
    """The one statement of `sql` (a dialect already checked)."""
    reader = Dialect.get_or_raise(dialect)
    try:
        tokens = reader.tokenize(sql)
        _check_size(tokens)
        statements = [s for s in reader.parser().parse(tokens, sql) if s is not None]
    except (RecursionError, GatewayError):
        raise
    except ParseError as e:
        position = parse_error_position(e)
        raise GatewayError("EINVAL", "syntax error" + (" at line {}, column {}".format(*position) if position else ""),
                           position) from None
    except TokenError:
        position = token_error_position(sql, dialect)
        raise GatewayError("EINVAL", "syntax error (unterminated string, identifier or comment?)"
                           + (" at line {}, column {}".format(*position) if position else ""), position) from None
    except Exception:  # sqlglot tripping over input it cannot model
        raise GatewayError("EINVAL", "the query uses syntax that cannot be parsed") from None
    if not statements:
        raise GatewayError("EINVAL", "no statement")
    for statement in statements:
        if isinstance(statement, exp.Command) and str(statement.this).upper() in _QUERY_KEYWORDS:
            raise GatewayError("EINVAL", "unsupported query syntax")
        if not isinstance(statement, _QUERIES):
            raise GatewayError("EACCES", f"{statement_name(statement)} is not allowed: only queries "
                                         "(SELECT, VALUES, WITH … SELECT) are")
    if len(statements) > 1:
        raise GatewayError("EINVAL", f"one statement expected, got {len(statements)}")
    forbidden = statements[0].find(*FORBIDDEN)  # named as written, before translation reshapes it
    if forbidden is not None:
        raise GatewayError("EACCES", f"{statement_name(forbidden)} is not allowed")
    return statements[0]


def _check_size(tokens: list) -> None:
    """EINVAL, before parsing, for inputs the parser would take too long over: too many tokens, or
    subscripts chained past `_SUBSCRIPT_CHAIN` (linear to count, quadratic for sqlglot to parse)."""
    if len(tokens) > _MAX_TOKENS:
        raise GatewayError("EINVAL", f"the query is too long ({len(tokens):,} tokens; at most {_MAX_TOKENS:,})")
    chain = 0
    for before, token in zip(tokens, tokens[1:]):
        if token.token_type == TokenType.L_BRACKET and before.token_type == TokenType.R_BRACKET:
            chain += 1
            if chain > _SUBSCRIPT_CHAIN:
                raise GatewayError("EINVAL", f"the query chains more than {_SUBSCRIPT_CHAIN} subscripts")
        elif token.token_type != TokenType.R_BRACKET and before.token_type == TokenType.R_BRACKET:
            chain = 0


class Finder:
    """Table names as written in SQL to the datasets the user may select."""

    def __init__(self, resolve: Resolver, can_select: Callable[[Dataset], bool], known: Known,
                 depot: str | None, collection: str | None, dialect: str = "duckdb") -> None:
        self.resolve, self.can_select, self.known = resolve, can_select, known
        self.depot, self.collection = depot, collection
        self.dialect = Dialect.get_or_raise(dialect)
        self._allowed: dict[str, bool] = {}  # address -> may select: asked once per dataset

    def __call__(self, names: Sequence[str]) -> Dataset:
        """The dataset `names` (1 to 3 parts, as `table_names_as_written` spells them; missing ones
        from the defaults) stands for, as the dialect resolves names, or ENOENT with the nearest name
        the user may select.
        A dataset they may not select is unknown, exactly as one that does not exist: the same answer,
        before its depot is even asked about it."""
        full = [self.depot, self.collection][:3 - len(names)] + list(names) if len(names) <= 3 else []
        if len(full) == 3 and all(full):
            folded = [part.lower() for part in full]  # depots' names are mostly lower case: no catalog needed
            dataset = (self._dataset(*full) or (all(map(self._same, full, folded)) and self._dataset(*folded))
                       or self._dataset(*self._spelled(full)))
            if dataset is not None:
                return dataset
        raise GatewayError("ENOENT", f"unknown relation {'.'.join(shown(n) for n in names)}{self._nearest(names)}")

    def _dataset(self, depot: str, collection: str, name: str) -> Dataset | None:
        if not (depot and collection and name) or not self._may_select(Dataset(depot, collection, name, {})):
            return None
        dataset = self.resolve(name, collection, depot)
        if dataset is None or not self._may_select(dataset):
            return None
        if not dataset.columns:
            raise GatewayError("EINVAL", f"{dataset.address} has no known columns (scan it first)")
        return dataset

    def _spelled(self, full: Sequence[str]) -> tuple[str, str, str]:
        """The one dataset the user may select that the dialect finds under `full`, its canonical
        name spelled otherwise, or ("", "", "")."""
        found = {parts for parts in (tuple(name.split(".")) for name in self.known())
                 if len(parts) == 3 and all(map(self._same, full, parts))}
        return found.pop() if len(found) == 1 else ("", "", "")

    def _same(self, written: str, actual: str) -> bool:
        """Whether the dialect resolves `written` to the catalog's name `actual`: in any case where it
        ignores case, else as it spells `actual` unquoted (Snowflake: "LAKE" is lake)."""
        if self.dialect.normalization_strategy is NormalizationStrategy.CASE_INSENSITIVE:
            return written.lower() == actual.lower()
        return written == self.dialect.normalize_identifier(exp.to_identifier(actual, quoted=False)).name

    def _may_select(self, dataset: Dataset) -> bool:
        if dataset.address not in self._allowed:
            self._allowed[dataset.address] = self.can_select(dataset)
        return self._allowed[dataset.address]

    def _nearest(self, names: Sequence[str]) -> str:
        """" (did you mean NAME?)" for the dataset the user may select whose name is nearest to
        `names`, written as short as it resolves from the defaults; or ""."""
        if not 1 <= len(names) <= 3:
            return ""
        by_written: dict[str, str] = {}
        for full in self.known():
            parts = full.split(".")
            if len(parts) != 3 or any(shown(part) != part for part in parts):
                continue
            suffix = parts[3 - len(names):]
            resolves = parts[:3 - len(names)] == [self.depot, self.collection][:3 - len(names)]
            by_written.setdefault(".".join(suffix).lower(), ".".join(suffix if resolves else parts))
        written = ".".join(names).lower()
        scored = [(_similarity(written, key), key) for key in by_written  # the dataset's own name must be near
                  if _similarity(names[-1].lower(), key.rsplit(".", 1)[-1]) >= _NEAR]
        best = max(scored, default=(0.0, ""))
        return f" (did you mean {by_written[best[1]]}?)" if best[0] >= _NEAR else ""


def _similarity(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio()


_CARRIED = ("pivots", "sample", "joins", "laterals")  # a table reference's arguments its replacement keeps


def _governed(node: exp.Table, governed: GovernedTable, spliced: dict[int, exp.Expression],
              pushed: list[exp.Expression] | None) -> exp.Subquery:
    """The derived table replacing `node`: aliased as the user wrote it, or by the table's own name;
    the user's conjuncts in `pushed` join its WHERE (`leakproof.barrier`). Its body is the governed
    table's SQL text as a verbatim node; `spliced` maps that node to the tree the text stands for,
    so the final proof compares the whole query."""
    if pushed:
        governed = with_pushed(governed, pushed)
    body = exp.Var(this=governed.sql)
    spliced[id(body)] = governed.tree
    sub = exp.Subquery(this=body)
    sub.set("alias", node.args.get("alias") or exp.TableAlias(this=node.this.copy()))
    for key in _CARRIED:
        if node.args.get(key):
            sub.set(key, node.args[key])
    return sub


def _view(node: exp.Table, dataset: Dataset) -> exp.Table:
    """The engine's view of `dataset` (which selects exactly the columns it was planned with) in place of `node`,
    which no mask or filter governs: aliased as the user wrote it, or by the table's own name."""
    view = exp.Table(this=exp.to_identifier(dataset.address, quoted=True),
                     db=exp.to_identifier(VIEW_SCHEMA[1], quoted=True), catalog=exp.to_identifier(VIEW_SCHEMA[0], quoted=True),
                     alias=node.args.get("alias") or exp.TableAlias(this=node.this.copy()))
    for key in _CARRIED:
        if node.args.get(key):
            view.set(key, node.args[key])
    return view


def _bound_inside(governed: GovernedTable, dataset: Dataset, resolve: Resolver) -> None:
    """EACCES unless every column a row filter's subqueries name binds, scope by scope as SQL binds it,
    to a table of those subqueries or to the filtered row: any other name would bind to a relation
    of the user's query (the user would write the filter). A policy is checked so when applied; a
    dataset changed since may break that."""
    where = governed.tree.args.get("where")
    if not governed.reads or where is None:
        return
    own = {column.lower() for column in dataset.columns}
    known: dict[str, set[str] | None] = {}

    def columns(source: exp.Expression) -> set[str] | None:
        alias = source.args.get("alias")
        if isinstance(alias, exp.TableAlias) and alias.columns:
            return {c.name.lower() for c in alias.columns}
        if isinstance(source, exp.Table) and source.name.startswith("dataos://"):
            if source.name not in known:
                found = _at(source.name, resolve)
                known[source.name] = {c.lower() for c in found.columns} if found is not None else None
            return known[source.name]
        body = source.this if isinstance(source, exp.Subquery) else None
        if isinstance(body, exp.Select) and not any(isinstance(e, exp.Star) for e in body.expressions):
            return {e.alias_or_name.lower() for e in body.expressions}
        return None

    for column in where.find_all(exp.Column):
        if column.table == SOURCE_ALIAS:
            continue
        bound, select = False, column.find_ancestor(exp.Select)
        while select is not None and select is not governed.tree and not bound:
            for source, _ in leakproof_sources(select):
                names = columns(source)
                if column.table:
                    if source.alias_or_name.lower() == column.table.lower():
                        bound = names is not None and column.name.lower() in names and not column.args.get("db")
                        break
                elif names is not None and column.name.lower() in names:
                    bound = True
                    break
            else:
                select = select.find_ancestor(exp.Select)
                continue
            break
        if not bound and not (not column.table and column.name.lower() in own):
            raise GatewayError("EACCES", f"a row filter on {dataset.address} names {column.name!r}, which no table "
                                         "it reads has where it stands: apply its policy again (describe says why)")


def _used_names(tree: exp.Expression, tables: list[tuple[exp.Table, Dataset]]) -> frozenset[str] | None:
    """The lower-case names the query could read a dataset's column by (every name any column
    reference or USING mentions: more than it reads, never less), or None when it may read columns
    it does not name: a star (but COUNT(*)), a whole row, COLUMNS(), #n, PIVOT, NATURAL joins, a
    dataset's columns renamed by position."""
    if any(isinstance(node.args.get("alias"), exp.TableAlias) and node.args["alias"].columns for node, _ in tables):
        return None  # (a column list on a dataset's alias renames its columns by position)
    names: set[str] = set()
    given: set[str] = set()  # names the query itself gives: aliases and column lists
    for node in tree.walk():  # (one walk: this runs for every query planned)
        if isinstance(node, (exp.Columns, exp.PositionalColumn, exp.Pivot)) or (
                isinstance(node, exp.Star) and not isinstance(node.parent, exp.Count)):
            return None
        if isinstance(node, exp.Column):
            names.update(part.name.lower() for part in node.parts)
        elif isinstance(node, _BARE_WORDS):  # current_date: a column of that name, where one is
            if not node.args.get("this"):
                names.add(node.sql_name().lower())
        elif isinstance(node, exp.Join):
            if node.args.get("method") or node.args.get("kind") == "NATURAL":
                return None
            names.update(i.name.lower() for i in node.args.get("using") or [])
        elif isinstance(node, exp.Identifier) and isinstance(node.parent, (exp.Alias, exp.TableAlias, exp.CTE)):
            given.add(node.name.lower())
        elif isinstance(node, exp.TableAlias):
            given.update(column.name.lower() for column in node.columns)
    relations = {name for node, dataset in tables for name in (node.alias_or_name.lower(), dataset.name.lower())}
    given.update(column.lower() for _, dataset in tables for column in dataset.columns)
    if names & relations or not names <= given:
        return None  # a whole row; or a name nothing gives: the engine's error offers every column
    return frozenset(names)


def _unqualify_columns(tree: exp.Expression, tables: list[tuple[exp.Table, Dataset]]) -> None:
    """Shorten ``collection.table.column`` and ``depot.collection.table.column`` references to
    ``table.column``: a governed table is known by its table name alone. Only qualifiers that end a
    dataset reference as written (without alias) count."""
    written = {tuple(part.name.lower() for part in node.parts) for node, _ in tables if not node.alias}
    suffixes = {name[i:] for name in written for i in range(len(name) - 1)}
    for column in tree.find_all(exp.Column):
        qualifier = tuple(part.name.lower() for part in column.parts[:-1])
        if len(qualifier) > 1 and qualifier in suffixes:
            column.set("db", None)
            column.set("catalog", None)


def _name_outputs(tree: exp.Expression) -> None:
    """Alias each unnamed computed output column of the query by its SQL, functions in lower case
    and plain names unquoted: ``count(*)``, ``sum(amount)`` (as DuckDB names them, and not
    ``count_star()``). Columns, stars and bare words keep their own names."""
    while isinstance(tree, (exp.SetOperation, exp.Subquery)):
        tree = tree.this
    if not isinstance(tree, exp.Select):
        return
    for projection in tree.expressions:
        if isinstance(projection, (exp.Alias, exp.Column, exp.Star)):
            continue
        text = projection.copy()
        for identifier in text.find_all(exp.Identifier):
            if _PLAIN.fullmatch(identifier.name):
                identifier.set("quoted", False)
        name = text.sql(dialect=proof.ENGINE, normalize_functions="lower", comments=False)
        if _PLAIN.fullmatch(name.lower()):
            continue  # a bare word (current_date) is its own name; as an alias, DuckDB would bind it
        alias = exp.Alias(alias=exp.to_identifier(name, quoted=True))
        projection.replace(alias)
        alias.set("this", projection)  # the node itself: the walk's table references live in it


def _masked_outputs(tree: exp.Expression, tables: list[tuple[exp.Table, Dataset]],
                    rules: dict[str, Governance]) -> dict[str, str]:
    """Best effort: output columns of the top-level SELECT that directly select a masked column."""
    if not isinstance(tree, exp.Select):
        return {}
    by_node = {id(node): dataset for node, dataset in tables}
    from_ = tree.args.get("from_")
    sources: dict[str, dict[str, tuple[str, str]]] = {}
    for source in [from_.this if from_ else None, *(join.this for join in tree.args.get("joins") or [])]:
        dataset = by_node.get(id(source))
        if dataset is None or source.alias_column_names:
            continue
        sources[source.alias_or_name.lower()] = {
            column.lower(): (column, mask["operator"]) for column, (_, mask) in rules[dataset.address].masks.items()
            if mask["operator"] != "pass_through"}
    masked: dict[str, str] = {}
    for projection in tree.expressions:
        column = projection.unalias()
        if isinstance(column, exp.Star):
            scope, star = list(sources.values()), column
        elif isinstance(column, exp.Column):
            scope = [sources.get(column.table.lower(), {})] if column.table else list(sources.values())
            if not isinstance(column.this, exp.Star):
                hits = [ops[column.name.lower()] for ops in scope if column.name.lower() in ops]
                if len(hits) == 1:
                    masked[projection.alias_or_name] = hits[0][1]
                continue
            star = column.this
        else:
            continue
        excluded = {e.name.lower() for e in star.args.get("except_") or []}
        for ops in scope:
            masked.update({name: op for key, (name, op) in ops.items() if key not in excluded})
    return masked
