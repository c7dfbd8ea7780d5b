"""The Gateway's value types: what the catalog knows about a dataset, a query plan, and its errors."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

_PLAIN_NAME = re.compile(r"[A-Za-z_][\w$-]*")


@dataclass(frozen=True)
class Dataset:
    """One table as the catalog knows it: SQL name ``depot.collection.name``, its columns (DuckDB type
    names, in table order) and column tags. The engine reads its raw rows from a view named by its
    address (`masks.view_name`)."""

    depot: str
    collection: str
    name: str
    columns: dict[str, str]
    column_tags: dict[str, frozenset[str]] = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"dataos://{self.depot}:{self.collection}/{self.name}"


@dataclass(frozen=True)
class Plan:
    """A governed query, ready for the engine: ``sql`` is proven to parse back to exactly the one
    statement that was authorized. It names datasets by address (views the engine defines), holds
    no secret and may be shown and stored in history. ``hashed``: it calls the keyed-hash function.
    ``columns``: the columns each dataset it reads was planned with, by address: all that the
    engine's view of that dataset selects."""

    sql: str
    datasets: tuple[str, ...]
    policies: tuple[str, ...]
    masked: dict[str, str]
    hashed: bool = False
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict)


class GatewayError(Exception):
    """A query the Gateway refuses: ``code`` is EINVAL (bad syntax, with ``position`` = (line, column)
    when known; ``field`` is the request field at fault, the SQL unless said) or EACCES (a forbidden
    statement, function or relation, named). ``message`` is one line and never contains a value from
    the query or the data."""

    def __init__(self, code: str, message: str, position: tuple[int, int] | None = None,
                 field: str = "sql") -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.position = position
        self.field = field


def shown(name: str) -> str:
    """`name` as an error message may show it: plain identifiers as they are, anything else (a quoted
    name can hold any text, even a file path or a value) as a neutral placeholder."""
    return name if _PLAIN_NAME.fullmatch(name) else "(quoted name)"
