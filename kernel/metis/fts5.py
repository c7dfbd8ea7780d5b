"""The catalog's search index on SQLite: an FTS5 table.

Its rowid is the store's (usage bucket << 32 | entity id); bm25 weighs name 10, columns 4,
descriptions 2, tags 2. A facet value is an index token of its own in the `keys` column (KEY_MARK
and the value's hex, which no typed word can hold), so FTS5 intersects facet filters with the
words. The last word of a search is a prefix (prefix indexes for 1–8 characters).
"""
from __future__ import annotations

from typing import Any, Sequence

KEY_MARK = "¦"  # starts the index token of a facet value; a token character no typed word can hold
SCHEMA = ("CREATE VIRTUAL TABLE search USING fts5(name, columns, description, tags, keys, urn UNINDEXED, "
          f"facets UNINDEXED, tokenize=\"unicode61 tokenchars '{KEY_MARK}'\", prefix='1 2 3 4 5 6 7 8')")
_COUNT = "SELECT count(*) FROM (SELECT 1 FROM search WHERE search MATCH ? LIMIT ?) AS m"
_MATCH = ("SELECT rowid, urn, facets, bm25(search, 10, 4, 2, 2, 0) * (1 + (rowid >> 32) / 1000.0), "
          "name, columns, description, tags FROM search WHERE search MATCH ? AND rowid < ? ORDER BY rowid DESC LIMIT ?")


def _expression(terms: Sequence[str], filters: Sequence[tuple[str, str]], names_only: bool) -> str:
    words = " ".join(f'"{term}"' for term in terms) + "*"
    keys = " AND {keys}: (" + " ".join(f'"{_key(*pair)}"' for pair in filters) + ")" if filters else ""
    return f"{{name}}: ({words}){keys}" if names_only else f"({words}){keys}"


def count(db: Any, terms: Sequence[str], filters: Sequence[tuple[str, str]], limit: int) -> int:
    """How many entities match (at most `limit`)."""
    return db.query(_COUNT, (_expression(terms, filters, False), limit))[0][0]


def match(db: Any, terms: Sequence[str], filters: Sequence[tuple[str, str]], below: int, limit: int,
          names_only: bool = False) -> list[Any]:
    """Matches with a rowid below `below`, highest rowid first: (rowid, urn, facets, score, name,
    columns, description, tags); a lower score is better."""
    return db.query(_MATCH, (_expression(terms, filters, names_only), below, limit))


def insert(c: Any, rowid: int, text: Sequence[str], facets: Sequence[tuple[str, str]], urn: str, shown: str) -> None:
    c.execute("INSERT INTO search (rowid, name, columns, description, tags, keys, urn, facets) "
              "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
              (rowid, *(t.replace(KEY_MARK, " ") for t in text), " ".join(_key(*pair) for pair in facets), urn, shown))


def delete(c: Any, rowid: int) -> None:
    c.execute("DELETE FROM search WHERE rowid = ?", (rowid,))


def clear(c: Any) -> None:
    c.execute("DROP TABLE search")
    c.execute(SCHEMA)


def optimize(c: Any) -> None:
    c.execute("INSERT INTO search (search) VALUES ('optimize')")


def _key(facet: str, value: str) -> str:
    """The index token of one facet value."""
    return KEY_MARK + f"{facet}={value}".encode().hex()
