"""Completion, part (a): *what fits here*. `suggest(text_before_cursor, state)` classifies the
cursor's position into `Suggestion`s (a command name, a sub-command of `catalog`, a flag of `get`, a
resource type, a workflow's name, a pod, a `dataos://` path, SQL keywords, tables, columns…). A pure
function of the text, the shell state and the command tree: no I/O. Part (b), which candidates
match, is `candidates.Completer`."""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..plurals import singular
from ..sqltext import is_sql
from .commands import Cmd, Opt, command_tree
from .state import ShellState

# --- what the shell knows without asking anyone -----------------------------------------------

RESOURCE_TYPES = ("workflow", "service", "worker", "cluster", "depot", "policy", "secret", "instance-secret",
                  "compute")
OUTPUT_FORMATS = ("table", "wide", "json", "yaml", "name")

# Shell commands that are not CLI verbs, and what their arguments are.
SHELL_ARGS: dict[str, str | None] = {
    "cd": "container", "ls": "path", "cat": "dataset", "head": "dataset",
    "kill": "pod", "man": "command", "help": "command", "unalias": "alias",
    "pwd": None, "ps": None, "mount": None, "whoami": None, "exit": None, "quit": None, "clear": None,
}

SQL_STARTS = frozenset("select with explain values show table from summarize pivot unpivot".split())

SQL_KEYWORDS = tuple(sorted(set("""
SELECT FROM WHERE GROUP\u00a0BY ORDER\u00a0BY HAVING LIMIT OFFSET JOIN LEFT\u00a0JOIN RIGHT\u00a0JOIN INNER\u00a0JOIN
FULL\u00a0JOIN CROSS\u00a0JOIN LEFT RIGHT INNER OUTER FULL CROSS NATURAL LATERAL ON USING AS AND OR NOT IN IS NULL
LIKE ILIKE BETWEEN CASE WHEN THEN ELSE END DISTINCT UNION ALL EXCEPT INTERSECT WITH RECURSIVE ASC DESC NULLS
BY FIRST LAST EXISTS TRUE FALSE OVER PARTITION\u00a0BY WINDOW QUALIFY VALUES EXPLAIN DESCRIBE SHOW TABLES SUMMARIZE
FILTER ROWS RANGE PRECEDING FOLLOWING CURRENT\u00a0ROW UNBOUNDED INTERVAL PIVOT UNPIVOT SEMI ANTI ANY SOME
TABLESAMPLE USING\u00a0SAMPLE ESCAPE COLLATE
""".split())))
SQL_KEYWORDS = tuple(k.replace("\u00a0", " ") for k in SQL_KEYWORDS)

SQL_FUNCTIONS = tuple(sorted(set("""
count sum avg min max median mode quantile_cont quantile_disc approx_count_distinct approx_quantile any_value
arg_max arg_min array_agg list string_agg group_concat stddev stddev_pop stddev_samp variance var_pop var_samp
corr covar_pop covar_samp first last bool_and bool_or count_if histogram
row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value nth_value
coalesce nullif ifnull greatest least cast try_cast typeof if
abs ceil floor round trunc sign sqrt cbrt pow power exp ln log log10 log2 pi random mod
lower upper length strlen trim ltrim rtrim lpad rpad replace reverse repeat concat concat_ws substring substr
left right position strpos contains starts_with ends_with split_part string_split regexp_matches
regexp_replace regexp_extract md5 sha256 hash printf format levenshtein jaro_winkler_similarity
current_date current_timestamp now today date_trunc date_part datepart date_diff datediff date_add date_sub
extract year month day hour minute second week quarter dayofweek dayofyear dayname monthname last_day
strftime strptime epoch epoch_ms make_date make_timestamp to_timestamp age
array_length list_contains list_extract unnest generate_series struct_extract map_keys
json_extract json_extract_string to_json json_keys uuid
""".split())))

# What usually follows, by the clause the cursor is in (once an expression or a table is complete).
NEXT_KEYWORDS: dict[str | None, tuple[str, ...]] = {
    None: ("SELECT", "WITH", "FROM", "EXPLAIN", "SHOW", "DESCRIBE", "SUMMARIZE", "VALUES"),
    "select": ("FROM", "AS"),
    "distinct": ("FROM", "AS"),
    "from": ("WHERE", "JOIN", "LEFT JOIN", "INNER JOIN", "GROUP BY", "ORDER BY", "LIMIT", "AS", "UNION"),
    "join": ("ON", "USING", "AS", "WHERE", "JOIN", "LEFT JOIN"),
    "on": ("AND", "OR", "WHERE", "JOIN", "LEFT JOIN", "GROUP BY", "ORDER BY", "LIMIT"),
    "where": ("AND", "OR", "GROUP BY", "ORDER BY", "LIMIT", "IN", "IS", "LIKE", "BETWEEN", "NOT"),
    "and": ("AND", "OR", "GROUP BY", "ORDER BY", "LIMIT"),
    "or": ("AND", "OR", "GROUP BY", "ORDER BY", "LIMIT"),
    "by": ("ASC", "DESC", "HAVING", "ORDER BY", "LIMIT", "NULLS"),
    "having": ("AND", "OR", "ORDER BY", "LIMIT"),
    "limit": ("OFFSET",),
    "case": ("WHEN",), "when": ("THEN",), "then": ("WHEN", "ELSE", "END"), "else": ("END",),
}

_WORDS_BEFORE_TABLE = frozenset("from join".split())
_WORDS_BEFORE_COLUMN = frozenset(
    "select where on by having and or not when then else case distinct set between like ilike in is "
    "over filter using qualify".split())
_WORDS_NO_COMPLETION = frozenset("as limit offset".split())
_CLAUSE_WORDS = frozenset("select from join where group by order having limit offset on using union "
                          "except intersect with as window qualify values and or not when then else case "
                          "distinct set between like ilike in is over filter".split())
_RESERVED = frozenset(k.lower() for k in SQL_KEYWORDS if " " not in k) | {"group", "order", "partition"}
IDENT = re.compile(r"[A-Za-z_][A-Za-z_0-9]*\Z")


_FIRST_WORD = re.compile(r"[\s(]*([A-Za-z]+)\b")
# pgcli's and DuckDB's statements about one dataset, the name being typed last: `\d orders`, `summarize lake.`
_META = re.compile(r'\s*(\\d[t+]*|describe|desc|summarize|show\s+(?:columns|fields)\s+(?:from|in))\s+'
                   r'((?:[\w$]+\.|"[^"]*"\.)*[\w$]*)\Z', re.IGNORECASE)


# --- (a) what fits here -----------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Suggestion:
    word: str = ""  # the text before the cursor that a candidate replaces (and is matched against)


@dataclass(frozen=True, kw_only=True)
class Command(Suggestion):
    sql: bool = True  # offer SQL's first words too


@dataclass(frozen=True, kw_only=True)
class Subcommand(Suggestion):
    path: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Flag(Suggestion):
    path: tuple[str, ...]
    used: frozenset[str] = frozenset()  # options already on the line (not offered again)


@dataclass(frozen=True, kw_only=True)
class Choice(Suggestion):
    values: tuple[str, ...]
    meta: str = ""


@dataclass(frozen=True, kw_only=True)
class ResourceType(Suggestion):
    pass


@dataclass(frozen=True, kw_only=True)
class ResourceName(Suggestion):
    type: str


@dataclass(frozen=True, kw_only=True)
class Pod(Suggestion):
    pass


@dataclass(frozen=True, kw_only=True)
class Workspace(Suggestion):
    pass


@dataclass(frozen=True, kw_only=True)
class Syscall(Suggestion):
    pass


@dataclass(frozen=True, kw_only=True)
class Variable(Suggestion):
    pass


@dataclass(frozen=True, kw_only=True)
class Alias(Suggestion):
    pass


@dataclass(frozen=True, kw_only=True)
class LocalFile(Suggestion):
    pass


@dataclass(frozen=True, kw_only=True)
class Scheme(Suggestion):
    """`dataos://` itself."""


@dataclass(frozen=True, kw_only=True)
class Depot(Suggestion):
    suffix: str = ""  # ":" in a path, "." in SQL
    sql: bool = False


@dataclass(frozen=True, kw_only=True)
class Collection(Suggestion):
    depot: str
    suffix: str = ""
    sql: bool = False


@dataclass(frozen=True, kw_only=True)
class Dataset(Suggestion):
    depot: str
    collection: str
    sql: bool = False


@dataclass(frozen=True, kw_only=True)
class Keyword(Suggestion):
    lower: bool = False
    likely: tuple[str, ...] = ()  # the keywords that usually come next here (ranked first)


@dataclass(frozen=True, kw_only=True)
class Function(Suggestion):
    pass


@dataclass(frozen=True, kw_only=True)
class Column(Suggestion):
    urns: tuple[str, ...]


def suggest(text_before_cursor: str, state: ShellState, text_after_cursor: str = "") -> list[Suggestion]:
    """What may be typed at the cursor, most likely first. `text_after_cursor` (optional) lets SQL
    see the tables of a FROM that follows the cursor (`select c| from orders`)."""
    text = text_before_cursor
    cut = _last_semicolon(text)
    if cut >= 0:  # the statement or command the cursor is in
        text = text[cut + 1:]
    meta = _META.match(text)
    if meta is not None and (meta.group(1).lower() != "describe" or "." in meta.group(2)):
        parts = [p.strip('"') for p in meta.group(2).split(".")]
        return _suggest_tables(parts[-1], parts[:-1], state)
    m = _FIRST_WORD.match(text)
    if m is not None and m.end() < len(text) and is_sql(text) and (
            m.group(1).lower() != "describe" or re.search(r"\S\s", text[m.end():])):
        return _suggest_sql(text_before_cursor, text_after_cursor, state)
    return _suggest_command(text, state)


# --- command lines ----------------------------------------------------------------------------

def split_line(text: str) -> tuple[list[str], str]:
    """The finished words (unquoted) and the word being typed (after its last quote, if any)."""
    tokens: list[str] = []
    cur: list[str] = []
    raw_start = -1
    quote = None
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
            else:
                cur.append(ch)
        elif ch in "\"'":
            quote = ch
            if raw_start < 0:
                raw_start = i
        elif ch.isspace():
            if raw_start >= 0:
                tokens.append("".join(cur))
                cur, raw_start = [], -1
        else:
            cur.append(ch)
            if raw_start < 0:
                raw_start = i
    if raw_start < 0:
        return tokens, ""
    raw = text[raw_start:]
    cut = max(raw.rfind('"'), raw.rfind("'"))
    return tokens, raw[cut + 1:]


def _suggest_command(text: str, state: ShellState) -> list[Suggestion]:
    tokens, word = split_line(text)
    if not tokens:
        return [Command(word=word)]
    if tokens[0] in state.aliases:
        tokens = split_line(state.aliases[tokens[0]] + " ")[0] + tokens[1:]
        if not tokens:
            return []
    if word.startswith("$"):
        return [Variable(word=word[1:])]
    name = tokens[0]
    tree = command_tree()
    cmd = tree.commands.get(name)
    if cmd is None:
        role = SHELL_ARGS.get(name)
        if role is None or word.startswith("-"):
            return []
        positional = [t for t in tokens[1:] if not t.startswith("-") and not t.isdigit()]
        if role == "command" and positional:  # man CMD SUBCOMMAND
            sub = tree.commands.get(positional[0])
            for p in positional[1:]:
                sub = sub.commands.get(p) if sub else None
            return [Subcommand(word=word, path=sub.path)] if sub is not None and sub.commands else []
        if role in ("command", "alias"):
            if positional:
                return []
            return [Command(word=word, sql=False)] if role == "command" else [Alias(word=word)]
        if role == "pod":
            return [Pod(word=word)]
        return _suggest_path(word, state, role)

    path = [name]
    rest = tokens[1:]
    while cmd.commands and rest and rest[0] in cmd.commands:
        cmd = cmd.commands[rest[0]]
        path.append(rest.pop(0))
    if cmd.default is not None and (rest or word.startswith("-")):  # `query "SQL" --…`: the default command
        cmd = cmd.default
        path = list(cmd.path)
    if cmd.commands:  # a group: its sub-commands
        if word.startswith("-"):
            return [Flag(word=word, path=tuple(path))]
        return [] if rest else [Subcommand(word=word, path=tuple(path))]

    values: dict[str, str] = {}
    used: set[str] = set()
    positionals: list[str] = []
    pending: Opt | None = None
    for tok in rest:
        if pending is not None:
            values[pending.dest] = tok
            pending = None
            continue
        if tok.startswith("-") and len(tok) > 1:
            flag, eq, value = tok.partition("=")
            opt = cmd.options.get(flag)
            if opt is not None:
                used.update(opt.names)
                if eq:
                    values[opt.dest] = value
                elif opt.takes_value:
                    pending = opt
            continue
        positionals.append(tok)
    if pending is not None:
        return _suggest_value(cmd, pending, word, values, positionals, state)
    if word.startswith("-"):
        flag, eq, value = word.partition("=")
        opt = cmd.options.get(flag)
        if eq and opt is not None and opt.takes_value:
            return _suggest_value(cmd, opt, value, values, positionals, state)
        return [Flag(word=word, path=tuple(path), used=frozenset(used - cmd.multiple))]
    if not cmd.arguments:
        return []
    index = len(positionals)
    if index >= len(cmd.arguments):
        if cmd.arguments[-1][1] != -1:
            return []
        index = len(cmd.arguments) - 1
    return _suggest_argument(cmd, cmd.arguments[index][0], word, positionals, values, state)


def _kind_of(cmd: "Cmd", positionals: list[str], values: dict[str, str]) -> str | None:
    kind = values.get("type_opt") or values.get("type_") or values.get("type")
    if kind is None and cmd.arguments and cmd.arguments[0][0] == "kind" and positionals:
        kind = positionals[0].partition("/")[0]
    return singular(kind) if kind else None


def _suggest_argument(cmd: "Cmd", arg: str, word: str, positionals: list[str], values: dict[str, str],
                      state: ShellState) -> list[Suggestion]:
    if arg == "kind":
        if "/" in word:  # kubectl's TYPE/NAME
            kind, _, name = word.partition("/")
            return [ResourceName(word=name, type=singular(kind))]
        if cmd.path == ("describe",) and state.depot and state.collection:  # or SQL's DESCRIBE dataset
            return [ResourceType(word=word), Dataset(word=word, depot=state.depot, collection=state.collection,
                                                     sql=True)]
        return [ResourceType(word=word)]
    if arg == "name" and cmd.arguments[0][0] == "kind":
        kind = _kind_of(cmd, positionals, values)
        if kind == "runtime":
            return [ResourceType(word=word)]
        if kind is None or "/" in positionals[0]:
            return []
        return [ResourceName(word=word, type=kind)]
    if arg == "runtime_name" and len(positionals) >= 2 and singular(positionals[0]) == "runtime":
        return [ResourceName(word=word, type=singular(positionals[1]))]
    if arg == "entry":
        return _suggest_path(word, state, "dataset")
    if arg == "depot":
        return [Depot(word=word)]
    if arg == "pod":
        return [Pod(word=word)]
    if arg == "name" and cmd.path == ("syscall",):
        return [Syscall(word=word)]
    return []


def _suggest_value(cmd: "Cmd", opt: "Opt", word: str, values: dict[str, str], positionals: list[str],
                   state: ShellState) -> list[Suggestion]:
    names = set(opt.names)
    if opt.choices:
        return [Choice(word=word, values=opt.choices, meta=opt.names[0])]
    if names & {"--workspace", "-w"}:
        return [Workspace(word=word)]
    if "--type" in names:
        return [ResourceType(word=word)]
    if "--name" in names and cmd.arguments and cmd.arguments[0][0] == "kind":
        kind = _kind_of(cmd, positionals, values)
        return [ResourceName(word=word, type=kind)] if kind else []
    if "--depot" in names:
        return [Depot(word=word)]
    if "--file" in names or "--out" in names:
        return [LocalFile(word=word)]
    return []


def _suggest_path(word: str, state: ShellState, role: str) -> list[Suggestion]:
    """`role`: "container" (cd: depots and collections), "path" (ls: anything), "dataset" (cat, head).

    Paths resolve as the shell resolves them (paths.resolve): `dataos://depot:collection/dataset`,
    or relative to the cwd segment by segment (`crm/orders`, `../sales`, `/lake/crm`), where a
    `depot:collection` segment is read at the root."""
    coll_suffix = "/" if role == "dataset" else ""
    if word.lower().startswith("dataos://"):  # depot:collection/dataset
        depot, colon, after = word[len("dataos://"):].partition(":")
        if not colon:
            return [Depot(word=depot, suffix=":")]
        collection, slash, dataset = after.partition("/")
        if not slash:
            return [Collection(word=collection, depot=depot, suffix=coll_suffix)]
        return [] if role == "container" else [Dataset(word=dataset, depot=depot, collection=collection)]
    out: list[Suggestion] = []
    if word and "dataos://".startswith(word.lower()):
        out.append(Scheme(word=word))
    if word.startswith("/"):
        where: list[str] = []
        text = word[1:]
    else:
        where = [p for p in (state.depot, state.collection) if p]
        text = word
    *segments, last = text.split("/")
    for segment in segments:
        if segment in ("", "."):
            continue
        if segment == "..":
            where = where[:-1]
        elif ":" in segment and not where:
            depot, _, collection = segment.partition(":")
            where = [depot] + ([collection] if collection else [])
        else:
            where.append(segment)
        if len(where) > 2:  # under a dataset: nothing
            return out
    if ":" in last and not where:
        depot, _, collection = last.partition(":")
        return out + [Collection(word=collection, depot=depot, suffix=coll_suffix)]
    if not where:
        out.append(Depot(word=last, suffix=":"))
    elif len(where) == 1:
        out.append(Collection(word=last, depot=where[0], suffix=coll_suffix))
    elif role != "container":
        out.append(Dataset(word=last, depot=where[0], collection=where[1]))
    return out


# --- SQL ----------------------------------------------------------------------------------------

_SQL_TOKEN = re.compile(r"""
  (?P<ws>\s+)
| (?P<comment>--[^\n]*|/\*(?:.*?\*/|.*\Z))
| (?P<string>'(?:[^']|'')*(?:'|\Z))
| (?P<qident>"(?:[^"]|"")*(?:"|\Z))
| (?P<number>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)
| (?P<ident>[A-Za-z_][A-Za-z_0-9$]*)
| (?P<op>.)
""", re.X | re.S)


@dataclass(frozen=True)
class Tok:
    kind: str   # ident, qident, string, number, op, comment
    text: str

    @property
    def lower(self) -> str:
        return self.text.lower()

    @property
    def name(self) -> str:
        """An identifier's name (unquoted)."""
        return self.text[1:].rstrip('"').replace('""', '"') if self.kind == "qident" else self.text


def sql_tokens(text: str) -> list[Tok]:
    """Significant tokens (no whitespace, no comments) — tolerant of unfinished input."""
    return [Tok(m.lastgroup or "op", m.group()) for m in _SQL_TOKEN.finditer(text)
            if m.lastgroup not in ("ws", "comment")]


def _statement_bounds(before: str, after: str) -> tuple[str, str]:
    """The statement around the cursor: from the last `;` before it to the next one after it."""
    cut = _last_semicolon(before)
    if cut >= 0:
        before = before[cut + 1:]
    nxt = _first_semicolon(after)
    return before, after if nxt < 0 else after[:nxt]


def _last_semicolon(text: str) -> int:
    if ";" not in text:
        return -1
    at = -1
    for m in _SQL_TOKEN.finditer(text):
        if m.group() == ";" and m.lastgroup == "op":
            at = m.start()
    return at


def _first_semicolon(text: str) -> int:
    if ";" not in text:
        return -1
    for m in _SQL_TOKEN.finditer(text):
        if m.group() == ";" and m.lastgroup == "op":
            return m.start()
    return -1


_SQL_WORD = re.compile(r'(?:(?:[A-Za-z_][\w$]*|"(?:[^"]|"")*")\s*\.\s*)*[\w$]*\Z')


def _suggest_sql(before: str, after: str, state: ShellState) -> list[Suggestion]:
    before, after = _statement_bounds(before, after)
    last = None
    for last in _SQL_TOKEN.finditer(before):
        pass
    if last is not None and last.end() == len(before) and (
            last.lastgroup in ("string", "comment") or (last.lastgroup == "qident" and (
                len(last.group()) == 1 or not last.group().endswith('"')))):
        return []  # inside a string, a comment or a quoted name
    m = _SQL_WORD.search(before, max(0, len(before) - 256))
    typed = m.group() if m else ""
    parts = [p.strip() for p in typed.split(".")]
    word, qualifiers = parts[-1], [p.strip('"') for p in parts[:-1]]
    prefix_tokens = sql_tokens(before[:len(before) - len(typed)])
    tokens = prefix_tokens + sql_tokens(typed + after)
    first = next((t for t in tokens if t.kind == "ident"), None)
    lower = first is None or first.text.islower()
    tables = sql_tables(tokens)
    prev = prefix_tokens[-1] if prefix_tokens else None
    clause = _clause(prefix_tokens)

    if prev is not None and prev.text == "(" and len(prefix_tokens) >= 2 and \
            prefix_tokens[-2].lower in ("as", "from", "join", "in", "exists", "lateral"):
        return [Keyword(word=word, lower=lower, likely=NEXT_KEYWORDS[None])]  # a subquery starts
    table_position = prev is not None and (prev.lower in _WORDS_BEFORE_TABLE or (prev.text == "," and clause == "from"))
    if table_position:
        return _suggest_tables(word, qualifiers, state)
    if qualifiers:
        urns = _qualified_urns(qualifiers, tables, state)
        return [Column(word=word, urns=urns)] if urns else []
    if prev is None or clause is None:
        return [Keyword(word=word, lower=lower, likely=NEXT_KEYWORDS[None])]
    if clause in _WORDS_NO_COMPLETION and prev.lower == clause:
        return []
    if clause in _WORDS_BEFORE_COLUMN or prev.kind == "op" and prev.text in "(,=<>+-*/%|!":
        urns = tuple(u for u in (_urn(parts, state) for parts, _ in tables) if u)
        before_prev = prefix_tokens[-2] if len(prefix_tokens) >= 2 else None
        expression_ended = prev.kind in ("ident", "qident", "number", "string") and prev.lower not in _RESERVED \
            or prev.text == ")" or (prev.text == "*" and before_prev is not None
                                    and (before_prev.lower in ("select", "distinct") or before_prev.text in ",."))
        likely = NEXT_KEYWORDS.get(clause, ())
        out: list[Suggestion] = [Column(word=word, urns=urns), Function(word=word),
                                 Keyword(word=word, lower=lower, likely=likely)]
        if expression_ended:  # `select a |`: FROM or AS more likely than another column
            out = [out[2], out[0], out[1]]
        else:
            out[2] = Keyword(word=word, lower=lower)
        return out
    return [Keyword(word=word, lower=lower, likely=NEXT_KEYWORDS.get(clause, ()))]


def _clause(tokens: list[Tok]) -> str | None:
    """The last clause keyword before the cursor at the cursor's nesting level."""
    depth = 0
    for tok in reversed(tokens):
        if tok.text == ")":
            depth += 1
        elif tok.text == "(":
            if depth:
                depth -= 1
        elif depth == 0 and tok.kind == "ident" and tok.lower in _CLAUSE_WORDS:
            return tok.lower
    return None


def _suggest_tables(word: str, qualifiers: list[str], state: ShellState) -> list[Suggestion]:
    if len(qualifiers) >= 2:
        return [Dataset(word=word, depot=qualifiers[-2], collection=qualifiers[-1], sql=True)]
    if len(qualifiers) == 1:
        out: list[Suggestion] = [Collection(word=word, depot=qualifiers[0], suffix=".", sql=True)]
        if state.depot:  # collection.dataset in the current depot
            out.append(Dataset(word=word, depot=state.depot, collection=qualifiers[0], sql=True))
        return out
    out = []
    if state.depot and state.collection:
        out.append(Dataset(word=word, depot=state.depot, collection=state.collection, sql=True))
    elif state.depot:
        out.append(Collection(word=word, depot=state.depot, suffix=".", sql=True))
    out.append(Depot(word=word, suffix=".", sql=True))
    return out


def sql_tables(tokens: list[Tok]) -> list[tuple[tuple[str, ...], str | None]]:
    """The relations a statement reads: (name parts, alias) after FROM, JOIN and FROM's commas."""
    out: list[tuple[tuple[str, ...], str | None]] = []
    i, n = 0, len(tokens)
    in_from = False
    while i < n:
        tok = tokens[i]
        if tok.kind == "ident" and tok.lower in _WORDS_BEFORE_TABLE or (in_from and tok.text == ","):
            in_from = in_from or tok.lower == "from"
            i += 1
            parts: list[str] = []
            while i < n and tokens[i].kind in ("ident", "qident"):
                if tokens[i].kind == "ident" and tokens[i].lower in _RESERVED:
                    break
                parts.append(tokens[i].name)
                i += 1
                if i < n and tokens[i].text == ".":
                    i += 1
                    continue
                break
            if not parts or (i < n and tokens[i].text == "("):  # a subquery or table function
                continue
            alias = None
            if i < n and tokens[i].lower == "as":
                i += 1
            if i < n and tokens[i].kind in ("ident", "qident") and tokens[i].lower not in _RESERVED:
                alias = tokens[i].name
                i += 1
            out.append((tuple(parts), alias))
            continue
        if tok.kind == "ident" and tok.lower in _CLAUSE_WORDS or tok.text == ")":
            in_from = False
        i += 1
    return out


def _urn(parts: tuple[str, ...], state: ShellState) -> str | None:
    if len(parts) >= 3:
        depot, collection, dataset = parts[-3:]
    elif len(parts) == 2 and state.depot:
        depot, (collection, dataset) = state.depot, parts
    elif len(parts) == 1 and state.depot and state.collection:
        depot, collection, dataset = state.depot, state.collection, parts[0]
    else:
        return None
    return f"dataos://{depot}:{collection}/{dataset}"


def _qualified_urns(qualifiers: list[str], tables: list[tuple[tuple[str, ...], str | None]],
                    state: ShellState) -> tuple[str, ...]:
    """The table `alias.` or `name.` (or `depot.collection.dataset.`) names."""
    q = tuple(qualifiers)
    for parts, alias in tables:
        if alias is not None and len(q) == 1 and alias.lower() == q[0].lower():
            return tuple(u for u in [_urn(parts, state)] if u)
    for parts, alias in tables:
        if alias is None and tuple(p.lower() for p in parts[-len(q):]) == tuple(p.lower() for p in q):
            return tuple(u for u in [_urn(parts, state)] if u)
    return ()
