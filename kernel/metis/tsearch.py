"""The catalog's search index on PostgreSQL: a table with a weighted tsvector, as FTS5 is on SQLite.

The same words as FTS5's unicode61 tokenizer sees: the text is split into letters-and-digits runs,
without diacritics, lower case, before PostgreSQL's `simple` configuration (no stemming, no stop
words) makes it a tsvector. Name, columns, descriptions and tags are weights A–D, ranked by
ts_rank with FTS5's bm25 weights (10 : 4 : 2 : 2) and length normalization, negated so that, as
bm25, a lower score is better. A facet filter is an array containment over `keys` (GIN). The
last word of a search is a prefix (`:*`); a search of names only asks for weight A.
"""
from __future__ import annotations

from typing import Any, Sequence

from .words import TERM, fold

SCHEMA = """
    CREATE TABLE search (
        rowid BIGINT PRIMARY KEY, urn TEXT COLLATE "C" NOT NULL, facets TEXT NOT NULL, name TEXT NOT NULL,
        columns TEXT NOT NULL, description TEXT NOT NULL, tags TEXT NOT NULL, keys TEXT[] NOT NULL,
        doc TSVECTOR NOT NULL);
    CREATE INDEX search_doc ON search USING GIN (doc);
    CREATE INDEX search_keys ON search USING GIN (keys)
"""
_SCORE = "-ts_rank('{0.2, 0.2, 0.4, 1.0}', doc, q, 1) * (1 + (rowid >> 32) / 1000.0)"
_FIELDS = "name, columns, description, tags"


def _where(filters: Sequence[tuple[str, str]]) -> str:
    return "doc @@ q" + (" AND keys @> ?::text[]" if filters else "")


def _params(terms: Sequence[str], filters: Sequence[tuple[str, str]], names_only: bool) -> list[Any]:
    words = words_of(" ".join(terms)).split()
    marks = [("*" if i == len(words) - 1 else "") + ("A" if names_only else "") for i in range(len(words))]
    query = " & ".join(f"'{word}'" + (f":{mark}" if mark else "") for word, mark in zip(words, marks)) or "''"
    return [query, *([[f"{facet}={value}" for facet, value in filters]] if filters else [])]


def count(db: Any, terms: Sequence[str], filters: Sequence[tuple[str, str]], limit: int) -> int:
    """How many entities match (at most `limit`)."""
    sql = (f"SELECT count(*) FROM (SELECT 1 FROM search, to_tsquery('simple', ?) AS q WHERE {_where(filters)} "
           "LIMIT ?) AS m")
    return db.query(sql, (*_params(terms, filters, False), limit))[0][0]


def match(db: Any, terms: Sequence[str], filters: Sequence[tuple[str, str]], below: int, limit: int,
          names_only: bool = False) -> list[Any]:
    """Matches with a rowid below `below`, highest rowid first: (rowid, urn, facets, score, name,
    columns, description, tags); a lower score is better."""
    sql = (f"SELECT rowid, urn, facets, {_SCORE}, {_FIELDS} FROM (SELECT * FROM search, to_tsquery('simple', ?) AS q "
           f"WHERE {_where(filters)} AND rowid < ? ORDER BY rowid DESC LIMIT ?) AS page")  # ranked: the page only
    return db.query(sql, (*_params(terms, filters, names_only), below, limit))


def insert(c: Any, rowid: int, text: Sequence[str], facets: Sequence[tuple[str, str]], urn: str, shown: str) -> None:
    vector = " || ".join(f"setweight(to_tsvector('simple', ?), '{weight}')" for weight in "ABCD")
    c.execute(f"INSERT INTO search (rowid, urn, facets, {_FIELDS}, keys, doc) "
              f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, {vector})",
              (rowid, urn, shown, *text, [f"{facet}={value}" for facet, value in facets], *map(words_of, text)))


def delete(c: Any, rowid: int) -> None:
    c.execute("DELETE FROM search WHERE rowid = ?", (rowid,))


def clear(c: Any) -> None:
    c.execute("TRUNCATE search")  # no dead rows left for searches to skip, as DELETE would


def optimize(c: Any) -> None:
    """Statistics for the planner (GIN indexes take inserts as they come: nothing to merge)."""
    c.execute("ANALYZE search")


def words_of(text: str) -> str:
    """The words of `text` as unicode61 sees them: letter-and-digit runs, no diacritics, lower case."""
    return " ".join(TERM.findall(fold(text).lower()))
