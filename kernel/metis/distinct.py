"""Distinct counts of a dataset's columns, over every row (a sample says little of them):
exact (`count(DISTINCT)`) up to a number of rows, a HyperLogLog estimate past it.

DuckDB's own `approx_count_distinct` keeps few registers: 1,232 for 1,000 values, 45,031 for a
50,000-row key. The estimate here keeps 2^16 registers per column (0.4 % standard error) in one
grouped query over every column's 64-bit `hash()`, with linear counting for small counts.
"""
from __future__ import annotations

import math
from typing import Callable

from ..depot.attached import ident

P = 16  # register index bits
M = 1 << P


def distinct_counts(rows: Callable[[str], list[tuple]], relation: str, names: list[str], total: int,
                    exact_rows: int) -> tuple[str, dict[str, int]]:
    """("exact" | "estimate", column name -> distinct non-null values) of `relation`'s `total` rows."""
    if not names:
        return "exact", {}
    if total <= exact_rows:
        row = rows(f"SELECT {', '.join(f'count(DISTINCT {ident(n)})' for n in names)} FROM {relation}")[0]
        return "exact", dict(zip(names, row))
    hashes = ", ".join(f"if({ident(n)} IS NULL, NULL, hash({ident(n)}))" for n in names)
    rank = f"if(h >> {P} = 0, {65 - P}, {64 - P} - floor(log2((h >> {P})::DOUBLE))::INT)"
    registers = rows(
        f"SELECT i, count(*), sum(pow(2.0, -r)) FROM (SELECT i, h & {M - 1} AS b, max({rank}) AS r FROM "
        f"(SELECT unnest(range({len(names)})) AS i, unnest([{hashes}]) AS h FROM {relation}) "
        f"WHERE h IS NOT NULL GROUP BY ALL) GROUP BY i")
    found = {names[i]: _estimate(filled, total_weight) for i, filled, total_weight in registers}
    return "estimate", {n: found.get(n, 0) for n in names}


def _estimate(filled: int, weights: float) -> int:
    """HyperLogLog's estimate from the registers set and the sum of 2^-register over all M."""
    empty = M - filled
    raw = 0.7213 / (1 + 1.079 / M) * M * M / (weights + empty)
    return round(M * math.log(M / empty) if raw <= 2.5 * M and empty else raw)
