"""The catalog's database: entities with versioned aspects, a change log, and a rebuildable
full-text index with facets (FTS5 on SQLite, a tsvector on PostgreSQL: `fts5`, `tsearch`).

Ranking, for people: a match's tier is the first of name ⊂ +columns ⊂ +descriptions ⊂ +tags
that holds every word (`matched` names it); within a tier, the index's score (bm25 on SQLite,
ts_rank on PostgreSQL, name 10, columns 4, descriptions 2, tags 2) times a usage boost,
1 + log1p(queries) / 10.

Bounded work: the index's rowid is `usage bucket << 32 | entity id`, so matches read by descending
rowid come most used first. Up to RANK_WINDOW matches are ranked exactly. With more, the name
matches among the RANK_WINDOW most used of them come first, then the RANK_WINDOW most used of
all, each ranked, then the rest by usage. A search reads candidates only until `offset + limit`
of them are allowed, and FACET_SAMPLE for the facets: its cost follows what it returns, not how
many entities match. The index intersects facet filters with the words; browsing (no words)
walks the facets table in name order.
"""
from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from itertools import groupby
from typing import Any, Callable, Iterator

from ..store import Place, now
from ..store.ddl import for_postgresql
from . import fts5, tsearch
from .model import ASPECTS, RESOURCE, kind_of
from .words import TERM, fold

_TABLES = """
    CREATE TABLE entities (
        id INTEGER PRIMARY KEY, urn TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, created TEXT NOT NULL,
        updated TEXT NOT NULL, deleted TEXT, deleted_by TEXT,
        name TEXT COLLATE NOCASE, doc INTEGER, card TEXT, facets TEXT);
    CREATE INDEX entities_name ON entities (name, id) WHERE deleted IS NULL;
    CREATE TABLE versions (
        id INTEGER PRIMARY KEY, entity INTEGER NOT NULL REFERENCES entities (id), aspect TEXT NOT NULL,
        version INTEGER NOT NULL, time TEXT NOT NULL, by TEXT NOT NULL, value TEXT NOT NULL,
        changes TEXT NOT NULL, UNIQUE (entity, aspect, version));
    CREATE TABLE facets (
        facet TEXT NOT NULL, value TEXT NOT NULL, name TEXT NOT NULL COLLATE NOCASE, entity INTEGER NOT NULL,
        PRIMARY KEY (facet, value, name, entity)) WITHOUT ROWID;
"""
MIGRATIONS = [{"sqlite": _TABLES + fts5.SCHEMA, "postgresql": for_postgresql(_TABLES) + tsearch.SCHEMA}]
INDEXES = {"sqlite": fts5, "postgresql": tsearch}

FACETS = ("depot", "type", "tag", "owner", "tier")
FIELDS = ("name", "columns", "description", "tags")
MATCHED = ("name", "column", "description", "tag")
INDEXED = frozenset({"schema", "tags", "description", "ownership", "glossary", "resource", "usage"})
RANK_WINDOW = 500  # matches ranked exactly; beyond, by usage
PAGE = 500  # candidates read per query past the window, or browsing
FACET_SAMPLE = 300  # facets count at most this many allowed matches (≈ 4 ms of 10 µs allowed() calls)
MAX_TERMS = 16
SEP = "\x1f"
_BOUNDARY = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])")
_LATEST = ("SELECT {columns} FROM versions v WHERE {where} AND v.version = "
           "(SELECT max(version) FROM versions w WHERE w.entity = v.entity AND w.aspect = v.aspect)")
_LATEST_SQL = _LATEST.format(columns="v.aspect, v.version, v.value", where="v.entity = ?")
_ABOVE_ALL = 1 << 62  # a rowid above every index rowid


class Catalog:
    """Entities (datasets and resources) with versioned aspects, their change log, and search."""

    def __init__(self, place: Place) -> None:
        self.db = place.database("metis", MIGRATIONS)
        self.index = INDEXES[self.db.dialect]

    # --- aspects -------------------------------------------------------------------------------

    def put(self, urn: str, aspect: str, value: dict, by: str) -> int | None:
        """Store a new version of one aspect if it differs from the latest: its number, else None."""
        return self.put_many(urn, {aspect: value}, by)[aspect]

    def put_many(self, urn: str, aspects: dict[str, dict], by: str) -> dict[str, int | None]:
        """`put` for several aspects of one entity, in one transaction. A put revives a deleted entity."""
        for name in aspects:
            if name not in ASPECTS:
                raise ValueError(f"unknown aspect {name!r}")
        with self.db.transaction() as c:
            return self._put(c, urn, aspects, by)

    def count_usage(self, urn: str, queries: int, by: str) -> None:
        """Add `queries` to a live entity's usage count, read and written in one transaction (which
        replicas of the service take in turn): counts flushed at once by two replicas add up."""
        with self.db.transaction() as c:
            row = c.execute("SELECT id FROM entities WHERE urn = ? AND deleted IS NULL", (urn,)).fetchone()
            if row is None:
                return
            latest = c.execute(_LATEST_SQL + " AND v.aspect = 'usage'", (row[0],)).fetchone()
            before = json.loads(latest[2]).get("queries", 0) if latest else 0
            self._put(c, urn, {"usage": {"queries": before + queries, "last": now()}}, by)

    def _put(self, c: Any, urn: str, aspects: dict[str, dict], by: str) -> dict[str, int | None]:
        time = now()
        row = c.execute("SELECT id, deleted FROM entities WHERE urn = ?", (urn,)).fetchone()
        if row is None:
            entity = c.execute("INSERT INTO entities (urn, kind, created, updated) VALUES (?, ?, ?, ?) RETURNING id",
                               (urn, kind_of(urn), time, time)).fetchone()[0]
        else:
            entity = row["id"]
        revived = row is None or row["deleted"] is not None
        latest = {r[0]: (r[1], r[2]) for r in c.execute(_LATEST_SQL, (entity,))}
        out: dict[str, int | None] = {}
        for name, value in aspects.items():
            text = _canonical(value)
            version, old = latest.get(name, (0, None))
            if text == old:
                out[name] = None
                continue
            changes = _changes(name, None if old is None else json.loads(old), json.loads(text))
            c.execute("INSERT INTO versions (entity, aspect, version, time, by, value, changes) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?)", (entity, name, version + 1, time, by, text, json.dumps(changes)))
            latest[name] = (version + 1, text)
            out[name] = version + 1
        changed = {name for name, version in out.items() if version}
        if changed or revived:
            c.execute("UPDATE entities SET updated = ?, deleted = NULL, deleted_by = NULL WHERE id = ?", (time, entity))
        if revived or changed & INDEXED:
            self._unindex(c, entity)
            self._insert(c, entity, urn, {name: json.loads(text) for name, (_, text) in latest.items()})
        return out

    def get(self, urn: str) -> dict | None:
        """The entity with the latest value of each aspect; None if unknown or deleted."""
        row = self._entity(urn)
        if row is None:
            return None
        rows = self.db.query(_LATEST_SQL, (row["id"],))
        aspects = {name: json.loads(text) for name, _, text in sorted(rows, key=lambda r: r[0])}
        return {"urn": urn, "kind": row["kind"], "created": row["created"], "updated": row["updated"],
                "aspects": aspects}

    def aspect(self, urn: str, name: str) -> dict | None:
        rows = self.db.query("SELECT v.value FROM versions v JOIN entities e ON e.id = v.entity "
                             "WHERE e.urn = ? AND e.deleted IS NULL AND v.aspect = ? ORDER BY v.version DESC LIMIT 1",
                             (urn, name))
        return json.loads(rows[0]["value"]) if rows else None

    def exists(self, urn: str) -> bool:
        return self._entity(urn) is not None

    def urns(self, prefix: str = "", kind: str | None = None) -> list[str]:
        """URNs of live entities starting with `prefix` (e.g. "dataos://hr:"), sorted."""
        sql = "SELECT urn FROM entities WHERE deleted IS NULL AND urn >= ? AND urn < ?"
        params: list[Any] = [prefix, prefix + "\U0010ffff"]
        if kind:
            sql += " AND kind = ?"
            params.append(kind)
        return [row["urn"] for row in self.db.query(sql + " ORDER BY urn", params)]

    def delete(self, urn: str, by: str) -> None:
        """Mark the entity deleted: gone from get, urns and search; its history stays."""
        with self.db.transaction() as c:
            row = c.execute("SELECT id FROM entities WHERE urn = ? AND deleted IS NULL", (urn,)).fetchone()
            if row is not None:
                time = now()
                c.execute("UPDATE entities SET deleted = ?, deleted_by = ?, updated = ? WHERE id = ?",
                          (time, by, time, row["id"]))
                self._unindex(c, row["id"])

    def history(self, urn: str, aspect: str | None = None) -> list[dict]:
        """Versions, oldest first, each with its change summaries."""
        sql = ("SELECT v.aspect, v.version, v.time, v.by, v.changes FROM versions v JOIN entities e ON e.id = v.entity "
               "WHERE e.urn = ?")
        params = [urn]
        if aspect:
            sql += " AND v.aspect = ?"
            params.append(aspect)
        return [{"aspect": row["aspect"], "version": row["version"], "time": row["time"], "by": row["by"],
                 "changes": json.loads(row["changes"])} for row in self.db.query(sql + " ORDER BY v.id", params)]

    def _entity(self, urn: str) -> Any:
        rows = self.db.query("SELECT id, kind, created, updated FROM entities WHERE urn = ? AND deleted IS NULL",
                             (urn,))
        return rows[0] if rows else None

    # --- search --------------------------------------------------------------------------------

    def search(self, text: str, *, facets: dict[str, str] | None = None, kind: str | None = None,
               allowed: Callable[[str], bool] = lambda urn: True, limit: int = 20, offset: int = 0) -> dict:
        """Entities matching the words of `text` (the last one as a prefix) and the facet filters,
        best first; no words: browse by name. Only what `allowed(urn)` admits is returned or counted;
        `total` and the facets are exact unless `total_exact`/`facets_exact` say otherwise."""
        filters = sorted((facets or {}).items()) + ([("kind", kind)] if kind else [])
        terms = TERM.findall(text)[:MAX_TERMS]
        if any("\x00" in value for _, value in filters):  # no stored value holds NUL (PostgreSQL cannot)
            candidates: Iterator[tuple] = iter(())
        else:
            candidates = self._ranked(terms, filters) if terms else self._browse(filters)
        found = _collect(candidates, allowed, max(offset, 0), max(limit, 0))
        return {"total": found.total, "total_exact": found.exhausted, "results": self._results(found.page),
                "facets": _facet_counts(found.counts), "facets_exact": found.exhausted and found.total <= FACET_SAMPLE}

    def _ranked(self, terms: list[str], filters: list[tuple[str, str]]) -> Iterator[tuple]:
        """Candidates (entity, urn, facets, score, matched), best first: the RANK_WINDOW most used
        matches by (tier, score); when there are more matches, the RANK_WINDOW most used name
        matches before them (ranked), and the rest after them, by usage."""
        tier, seen, index = _tiers(terms), set(), self.index
        if index.count(self.db, terms, filters, RANK_WINDOW) == RANK_WINDOW:
            names = index.match(self.db, terms, filters, _ABOVE_ALL, RANK_WINDOW, names_only=True)
            seen = {row[0] for row in names}
            yield from ((r[0], r[1], r[2], r[3], MATCHED[0]) for r in sorted(names, key=lambda r: (r[3], -r[0])))
        window = index.match(self.db, terms, filters, _ABOVE_ALL, RANK_WINDOW)
        ranked = sorted((tier(row[4:]), row[3], -row[0], row) for row in window if row[0] not in seen)
        yield from ((r[0], r[1], r[2], r[3], MATCHED[t]) for t, _, _, r in ranked)
        rows, size = window, RANK_WINDOW
        while len(rows) == size:
            rows, size = index.match(self.db, terms, filters, rows[-1][0], PAGE), PAGE
            yield from ((r[0], r[1], r[2], r[3], MATCHED[tier(r[4:])]) for r in rows if r[0] not in seen)

    def _browse(self, filters: list[tuple[str, str]]) -> Iterator[tuple]:
        """Live entities with all the facet values, by name."""
        if filters:
            lead, *others = sorted(filters, key=self._facet_size)
            sql = ("SELECT f.name, f.entity, e.urn, e.facets FROM facets f JOIN entities e ON e.id = f.entity "
                   "WHERE f.facet = ? AND f.value = ? AND (f.name, f.entity) > (?, ?)"
                   + " AND EXISTS (SELECT 1 FROM facets g WHERE g.facet = ? AND g.value = ? AND g.name = f.name "
                     "AND g.entity = f.entity)" * len(others) + " ORDER BY f.name, f.entity LIMIT ?")
            fixed = [*lead, *(v for pair in others for v in pair)]
        else:
            sql = ("SELECT name, id, urn, facets FROM entities WHERE deleted IS NULL AND (name, id) > (?, ?) "
                   "ORDER BY name, id LIMIT ?")
            fixed = []
        after: tuple = ("", -1)
        while True:
            rows = self.db.query(sql, (*fixed[:2], *after, *fixed[2:], PAGE))
            yield from ((r[1], r[2], r[3], None, None) for r in rows)
            if len(rows) < PAGE:
                return
            after = (rows[-1][0], rows[-1][1])

    def _facet_size(self, pair: tuple[str, str]) -> int:
        rows = self.db.query("SELECT count(*) FROM (SELECT 1 FROM facets WHERE facet = ? AND value = ? LIMIT 10000) "
                             "AS f", pair)
        return rows[0][0]

    def _results(self, page: list[tuple]) -> list[dict]:
        ids = [candidate[0] & 0xFFFFFFFF for candidate in page]
        if not ids:
            return []
        sql = f"SELECT id, card FROM entities WHERE id IN ({','.join('?' * len(ids))}) AND deleted IS NULL"
        cards = {row["id"]: json.loads(row["card"]) for row in self.db.query(sql, ids)}
        return [{**cards[entity], "score": None if score is None else float(f"{-score:.4g}"), "matched": matched}
                for entity, (_, _, _, score, matched) in zip(ids, page) if entity in cards]

    def rebuild_index(self) -> int:
        """Rebuild the search index and facets from the latest aspects; the number of entities indexed.
        Entities go in by ascending rowid, so that FTS5 builds large segments."""
        with self.db.transaction() as c:
            self.index.clear(c)
            c.execute("DELETE FROM facets")
            c.execute("UPDATE entities SET doc = NULL, facets = NULL")
            usage = {row[0]: json.loads(row[1]).get("queries") for row in c.execute(
                _LATEST.format(columns="v.entity, v.value", where="v.aspect = 'usage'"))}
            live = sorted((_rowid(usage.get(row[0]), row[0]), row[0], row[1])
                          for row in c.execute("SELECT id, urn FROM entities WHERE deleted IS NULL"))
            for start in range(0, len(live), PAGE):
                chunk = live[start:start + PAGE]
                rows = c.execute(_LATEST.format(columns="v.entity, v.aspect, v.value",
                                                where=f"v.entity IN ({','.join('?' * len(chunk))})")
                                 + " ORDER BY v.entity", [entity for _, entity, _ in chunk]).fetchall()
                aspects = {entity: {r[1]: json.loads(r[2]) for r in group}
                           for entity, group in groupby(rows, key=lambda r: r[0])}
                for _, entity, urn in chunk:
                    self._insert(c, entity, urn, aspects.get(entity, {}))
            self.index.optimize(c)
        return len(live)

    def _insert(self, c: Any, entity: int, urn: str, aspects: dict[str, dict]) -> None:
        """Index one entity from the latest values of its aspects."""
        doc = _document(urn, aspects)
        rowid = _rowid(doc.queries, entity)
        facets = SEP.join(f"{facet}={value}" for facet, value in doc.facets)
        self.index.insert(c, rowid, doc.text, doc.facets, urn, facets)
        name = doc.card["name"]
        c.executemany("INSERT INTO facets (facet, value, name, entity) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                      [(facet, value, name, entity) for facet, value in doc.facets])
        c.execute("UPDATE entities SET name = ?, doc = ?, card = ?, facets = ? WHERE id = ?",
                  (name, rowid, json.dumps(doc.card), facets, entity))

    def _unindex(self, c: Any, entity: int) -> None:
        row = c.execute("SELECT name, doc, facets FROM entities WHERE id = ?", (entity,)).fetchone()
        if row["doc"] is not None:
            self.index.delete(c, row["doc"])
        if row["facets"]:
            c.executemany("DELETE FROM facets WHERE facet = ? AND value = ? AND name = ? AND entity = ?",
                          [(*pair.split("=", 1), row["name"], entity) for pair in row["facets"].split(SEP)])
        c.execute("UPDATE entities SET doc = NULL, facets = NULL WHERE id = ?", (entity,))

    def close(self) -> None:
        self.db.close()


# --- versions and change summaries ---------------------------------------------------------------

def _canonical(value: dict) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _changes(aspect: str, old: dict | None, new: dict) -> list[str]:
    """What a new version changed, for people."""
    summarize = _SUMMARIES.get(aspect)
    if old is None:  # an edit people make says what it was, from the start; a scan's first finding is "recorded"
        return (summarize({}, new) if summarize and aspect != "schema" else []) or [f"{aspect} recorded"]
    return (summarize(old, new) if summarize else []) or [f"{aspect} updated"]


def _schema_changes(old: dict, new: dict) -> list[str]:
    before = {c.get("name"): c for c in old.get("columns", [])}
    after = {c.get("name"): c for c in new.get("columns", [])}
    out = []
    for name, column in after.items():
        was = before.get(name)
        if was is None:
            out.append(f"column {name} added" + (f" ({column['type']})" if column.get("type") else ""))
            continue
        if was.get("type") != column.get("type"):
            out.append(f"column {name} type changed {was.get('type')} → {column.get('type')}")
        if was.get("nullable") != column.get("nullable"):
            out.append(f"column {name} now {'nullable' if column.get('nullable') else 'not nullable'}")
    out += [f"column {name} removed" for name in before if name not in after]
    if not out and list(before) != list(after):
        out.append("columns reordered")
    return out


def _tag_changes(old: dict, new: dict) -> list[str]:
    out = _set_changes("tag", old.get("dataset", []), new.get("dataset", []), "")
    columns_before, columns_after = old.get("columns", {}), new.get("columns", {})
    for column in dict.fromkeys([*columns_before, *columns_after]):
        out += _set_changes("tag", columns_before.get(column, []), columns_after.get(column, []), f" column {column}")
    return out


def _set_changes(what: str, before: list, after: list, where: str) -> list[str]:
    return ([f"{what} {t} added{' to' + where if where else ''}" for t in sorted(set(after) - set(before))]
            + [f"{what} {t} removed{' from' + where if where else ''}" for t in sorted(set(before) - set(after))])


def _description_changes(old: dict, new: dict) -> list[str]:
    out = ["description changed"] if old.get("dataset") != new.get("dataset") else []
    before, after = old.get("columns", {}), new.get("columns", {})
    return out + [f"description of column {column} changed" for column in dict.fromkeys([*before, *after])
                  if before.get(column) != after.get(column)]


def _ownership_changes(old: dict, new: dict) -> list[str]:
    if old.get("owner") == new.get("owner"):
        return []
    return [f"owner set to {new['owner']}" if new.get("owner") else "owner removed"]


def _quality_changes(old: dict, new: dict) -> list[str]:
    """Each run is a change: "quality check: 2 passed, 1 failed (unique(id))"."""
    failed = [r["rule"] for r in new.get("results", []) if not r.get("passed")]
    named = ", ".join(failed[:3]) + (f", +{len(failed) - 3} more" if len(failed) > 3 else "")
    line = f"quality check: {new.get('passed', 0)} passed"
    return [line + (f", {len(failed)} failed ({named})" if failed else "")]


_SUMMARIES: dict[str, Callable[[dict, dict], list[str]]] = {
    "schema": _schema_changes, "tags": _tag_changes, "description": _description_changes,
    "ownership": _ownership_changes, "quality": _quality_changes}


# --- the index -----------------------------------------------------------------------------------

@dataclass
class _Document:
    """What search knows of an entity: its text fields, facet values, card and usage."""
    text: tuple[str, str, str, str]  # name, columns, description, tags
    facets: list[tuple[str, str]]
    card: dict
    queries: int


def _document(urn: str, aspects: dict[str, dict]) -> _Document:
    tags_aspect, description = aspects.get("tags", {}), aspects.get("description", {})
    tags = [*tags_aspect.get("dataset", []), *(t for ts in tags_aspect.get("columns", {}).values() for t in ts)]
    owner = aspects.get("ownership", {}).get("owner")
    texts = [description.get("dataset") or "", *description.get("columns", {}).values()]
    columns: list[str] = []
    if kind_of(urn) == RESOURCE:
        _, type_name, name = (urn.removeprefix("resource://").split("/", 2) + ["", ""])[:3]
        resource = aspects.get("resource", {})
        tags += resource.get("tags") or []
        owner = owner or resource.get("owner")
        texts[0] = texts[0] or resource.get("description") or ""
        depot = None
    else:
        depot, _, path = urn.removeprefix("dataos://").partition(":")
        name, type_name = path.rsplit("/", 1)[-1] or depot, "dataset"
        columns = [c["name"] for c in aspects.get("schema", {}).get("columns", []) if c.get("name")]
    tags = sorted(set(tags))
    tiers = [t for t in tags if t.startswith("Tier.")]
    facets = [("kind", kind_of(urn)), ("type", type_name), *(("tag", t) for t in tags), *(("tier", t) for t in tiers)]
    facets += [(facet, value) for facet, value in (("depot", depot), ("owner", owner)) if value]
    card = {"urn": urn, "kind": kind_of(urn), "name": name, "description": texts[0], "tags": tags, "depot": depot,
            "type": type_name, "owner": owner, "tier": tiers[0] if tiers else None}
    text = (_words(name), " ".join(map(_words, columns)), "\n".join(t for t in texts if t),
            " ".join(map(_words, tags + aspects.get("glossary", {}).get("terms", []))))
    return _Document(text, facets, card, aspects.get("usage", {}).get("queries") or 0)


def _words(text: str) -> str:
    """The text, plus its camelCase and letter/digit parts when the tokenizer would miss them."""
    parts = _BOUNDARY.sub(" ", text)
    return text if parts == text else f"{text} {parts}"



def _rowid(queries: Any, entity: int) -> int:
    """The index rowid: usage bucket (100 × log1p(queries)) << 32 | entity id."""
    return min(round(math.log1p(max(int(queries or 0), 0)) * 100), 1 << 20) << 32 | entity


# --- collecting allowed results ------------------------------------------------------------------

@dataclass
class _Found:
    page: list[tuple]
    counts: Counter
    total: int
    exhausted: bool


def _collect(candidates: Iterator[tuple], allowed: Callable[[str], bool], offset: int, limit: int) -> _Found:
    """Walk candidates in order, asking `allowed`, until the page and the facet sample are full."""
    found = _Found([], Counter(), 0, True)
    wanted = max(offset + limit, FACET_SAMPLE)
    for candidate in candidates:
        if found.total == wanted:
            found.exhausted = False
            break
        if not allowed(candidate[1]):
            continue
        found.total += 1
        if offset < found.total <= offset + limit:
            found.page.append(candidate)
        if found.total <= FACET_SAMPLE:
            found.counts.update(candidate[2].split(SEP))
    return found


def _tiers(terms: list[str]) -> Callable[[tuple], int]:
    """fields -> the first tier (index in FIELDS) by which they hold every word, the last a prefix:
    the latest of the fields where each word first occurs."""
    words = [(fold(term).lower(), i < len(terms) - 1) for i, term in enumerate(terms)]

    def tier(fields: tuple) -> int:
        text, last = fold(SEP.join(fields)).lower(), 0
        for word, whole in words:
            at = _find_word(text, word, whole)
            if at < 0:
                return len(fields) - 1  # matched by the index only: last
            last = max(last, text.count(SEP, 0, at))
        return last

    return tier


def _find_word(text: str, word: str, whole: bool) -> int:
    """Where `word` first starts a token of `text` (and ends it, if `whole`); -1 if nowhere."""
    at = text.find(word)
    while at >= 0:
        end = at + len(word)
        if (at == 0 or not text[at - 1].isalnum()) and not (whole and end < len(text) and text[end].isalnum()):
            return at
        at = text.find(word, at + 1)
    return -1



def _facet_counts(counts: Counter) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {facet: {} for facet in FACETS}
    for pair, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        facet, _, value = pair.partition("=")
        if facet in out:
            out[facet][value] = n
    return out
