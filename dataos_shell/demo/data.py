"""The demo's retail data, generated locally with DuckDB: customers, products and orders as
Parquet files under `<root>/retail/`.

Deterministic: every value is a hash of its row number (and of `anchor`, the day the order
timestamps count back from), so the same arguments give the same files. An order's region and
amount are computed from its customer and product ids with the same expressions as the
customers' and products' own columns: no join, and the rows stay in id order.
"""
from __future__ import annotations

import json
import shutil
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Callable

from syscalls.errors import SyscallError

COLLECTION = "retail"
MARKER = "_demo.json"  # beside the datasets; the file depot ignores names starting with "_"
CUSTOMERS = 50_000
PRODUCTS = 1_000

FIRST = ["Ana", "Bruno", "Chen", "Dana", "Emeka", "Farah", "Goran", "Hana", "Ivan", "Julia", "Kenji", "Lena",
         "Mateo", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tara", "Umar", "Vera", "Wei", "Yara"]
LAST = ["Smith", "Rossi", "Wang", "Levi", "Okafor", "Haddad", "Novak", "Sato", "Garcia", "Müller", "Kim",
        "Silva", "Dubois", "Kowalski", "Nguyen", "Patel", "Jensen", "Costa", "Ivanova", "Brown"]
DOMAINS = ["example.com", "example.org", "mail.example.net"]
CITIES = [  # (city, country, region)
    ("Berlin", "Germany", "EU"), ("Paris", "France", "EU"), ("Madrid", "Spain", "EU"), ("Rome", "Italy", "EU"),
    ("Amsterdam", "Netherlands", "EU"), ("Warsaw", "Poland", "EU"), ("Lisbon", "Portugal", "EU"),
    ("Stockholm", "Sweden", "EU"), ("New York", "United States", "NA"), ("Chicago", "United States", "NA"),
    ("Austin", "United States", "NA"), ("Toronto", "Canada", "NA"), ("Mexico City", "Mexico", "NA"),
    ("Tokyo", "Japan", "APAC"), ("Singapore", "Singapore", "APAC"), ("Sydney", "Australia", "APAC"),
    ("Mumbai", "India", "APAC"), ("Seoul", "South Korea", "APAC")]
CATEGORIES = {  # category -> product nouns
    "Electronics": ["Headphones", "Speaker", "Charger", "Keyboard", "Monitor"],
    "Home": ["Lamp", "Kettle", "Blanket", "Vase", "Toaster"],
    "Outdoor": ["Tent", "Backpack", "Bottle", "Jacket", "Lantern"],
    "Books": ["Novel", "Cookbook", "Atlas", "Notebook", "Journal"],
    "Toys": ["Puzzle", "Kite", "Robot", "Blocks", "Yo-yo"]}
ADJECTIVES = ["Classic", "Compact", "Deluxe", "Eco", "Smart", "Rugged", "Mini", "Pro", "Vintage", "Ultra"]
COLOURS = ["Black", "White", "Blue", "Green"]


def _list(values: list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _pick(values: list[str], key: str) -> str:
    """A SQL expression choosing one of `values` by the hash `key` (1-based list index)."""
    return f"{_list(values)}[1 + ({key}) % {len(values)}]"


def _h(column: str, salt: int) -> str:
    """A deterministic non-negative BIGINT hash of a row id, different for each salt."""
    return f"CAST(hash({column}, {salt}) >> 1 AS BIGINT)"


def _city(customer_id: str, part: int) -> str:
    return f"{_list([c[part] for c in CITIES])}[1 + {_h(customer_id, 7)} % {len(CITIES)}]"


def _price(product_id: str) -> str:
    return f"CAST(2 + ({_h(product_id, 21)} % 49800) / 100 AS DECIMAL(10,2))"


def _customers(n: int) -> str:
    first, last = _pick(FIRST, _h("i", 1)), _pick(LAST, _h("i", 2))
    return f"""
        SELECT i AS customer_id, first || ' ' || last AS name,
               lower(replace(first || '.' || last, 'ü', 'u')) || i || '@' || {_pick(DOMAINS, _h('i', 3))} AS email,
               '+1-' || lpad(CAST(200 + {_h('i', 4)} % 800 AS VARCHAR), 3, '0') || '-555-'
                     || lpad(CAST({_h('i', 5)} % 10000 AS VARCHAR), 4, '0') AS phone,
               DATE '1950-01-01' + CAST({_h('i', 6)} % 20000 AS INTEGER) AS birth_date,
               {_city('i', 0)} AS city, {_city('i', 1)} AS country, {_city('i', 2)} AS region
        FROM (SELECT range + 1 AS i, {first} AS first, {last} AS last FROM range({n}))"""


def _products(n: int) -> str:
    """Colour, adjective and noun come from a permutation of the id (7919 is prime to their 1,000
    combinations), so the first 1,000 names are distinct; the noun gives the category."""
    categories = list(CATEGORIES)
    nouns = [noun for c in categories for noun in CATEGORIES[c]]
    n_nouns, n_adjectives = len(nouns), len(ADJECTIVES)
    combinations = n_nouns * n_adjectives * len(COLOURS)
    return f"""
        SELECT i AS product_id, {_list(COLOURS)}[1 + k // {n_nouns * n_adjectives} % {len(COLOURS)}] || ' '
                   || {_list(ADJECTIVES)}[1 + k // {n_nouns} % {n_adjectives}] || ' ' || {_list(nouns)}[1 + noun] AS name,
               {_list(categories)}[1 + noun // {n_nouns // len(categories)}] AS category, {_price('i')} AS price
        FROM (SELECT range + 1 AS i, range * 7919 % {combinations} AS k, range * 7919 % {n_nouns} AS noun
              FROM range({n}))"""


def _orders(n: int, customers: int, products: int, anchor: date) -> str:
    return f"""
        SELECT i AS order_id, customer_id, product_id, quantity,
               CAST(quantity * {_price('product_id')} AS DECIMAL(12,2)) AS amount,
               TIMESTAMP '{anchor.isoformat()}' - to_seconds(CAST({_h('i', 33)} % 31536000 AS BIGINT)) AS ordered_at,
               {_city('customer_id', 2)} AS region
        FROM (SELECT range + 1 AS i, CAST(1 + {_h('range + 1', 31)} % {customers} AS BIGINT) AS customer_id,
                     CAST(1 + {_h('range + 1', 32)} % {products} AS BIGINT) AS product_id,
                     CAST(1 + {_h('range + 1', 34)} % 5 AS INTEGER) AS quantity
              FROM range({n}))"""


def generate(root: Path, orders: int, *, anchor: date | None = None,
             step: Callable[[str], None] = lambda message: None) -> dict:
    """Write `root/retail/{customers,products,orders}.parquet` and the marker; returns the marker.

    Files are written to a hidden directory beside the collection and renamed into place, so an
    interrupted run never leaves half a demo (a previous collection is replaced whole). Callers
    hold the demo's lock (see `install`)."""
    if orders < 1:
        raise SyscallError("EINVAL", f"orders: must be at least 1, not {orders}", field="orders")
    import duckdb
    anchor = anchor or datetime.now(timezone.utc).date()
    started = time.perf_counter()
    staging = None
    try:
        root.mkdir(parents=True, exist_ok=True)
        for leftover in root.glob(f".{COLLECTION}-*"):  # from a run that was killed
            shutil.rmtree(leftover, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{COLLECTION}-", dir=root))
        with duckdb.connect() as con:
            for name, sql, rows in (("customers", _customers(CUSTOMERS), CUSTOMERS),
                                    ("products", _products(PRODUCTS), PRODUCTS),
                                    ("orders", _orders(orders, CUSTOMERS, PRODUCTS, anchor), orders)):
                step(f"generating {name} ({rows:,} rows)")
                path = str(staging / f"{name}.parquet").replace("'", "''")
                con.execute(f"COPY ({sql}) TO '{path}' (FORMAT parquet, COMPRESSION zstd)")
        marker = {"collection": COLLECTION, "anchor": anchor.isoformat(),
                  "rows": {"customers": CUSTOMERS, "products": PRODUCTS, "orders": orders},
                  "seconds": round(time.perf_counter() - started, 2)}
        (staging / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
        _swap(staging, root / COLLECTION)
    except (duckdb.Error, OSError) as e:
        raise SyscallError("EIO", f"generating the demo data in {root} failed: {e}") from None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    return marker


def _swap(new: Path, target: Path) -> None:
    """Rename `new` to `target`, replacing a previous `target` whole."""
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}-old-", dir=target.parent))
        target.rename(old / target.name)
    new.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def installed(root: Path) -> dict | None:
    """The marker of the data under `root`, or None when there is none (or it is unreadable)."""
    try:
        return json.loads((root / COLLECTION / MARKER).read_text())
    except (OSError, ValueError):
        return None
