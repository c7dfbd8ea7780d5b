"""`dataos query "SQL"`: governed SQL, and `dataos query history`."""
from __future__ import annotations

import csv
import io
import sys
from typing import Optional

import typer

from ..output import Format, age, emit, paint, render, table, to_json
from ..session import client


def query(sql: str = typer.Argument(..., help='The SQL (any dialect: --dialect), or "history".'),
          dialect: str = typer.Option("duckdb", "--dialect", help="trino, postgres, duckdb, mysql, spark, …"),
          limit: int = typer.Option(1000, "--limit", help="At most this many rows (-1: all)."),
          depot: Optional[str] = typer.Option(None, "--depot", help="Resolve unqualified tables in this depot."),
          collection: Optional[str] = typer.Option(None, "--collection", help="… and this collection."),
          output: str = typer.Option("table", "--output", "-o", help="table, json or csv."),
          explain_policy: bool = typer.Option(False, "--explain-policy",
                                              help="Also show the policies applied and the rewritten SQL.")) -> None:
    """Run governed SQL: `select` is checked per dataset; masks and row filters apply."""
    if sql.strip().lower() == "history":
        _history(output)
        return
    result = client().query.execute(sql=sql, dialect=dialect, limit=limit, depot=depot, collection=collection)
    if output == "json":
        emit(to_json(result))
        return
    names = [c["name"] for c in result["columns"]]
    if output == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(names)
        writer.writerows(result["rows"])
        sys.stdout.write(buffer.getvalue())
    else:
        headers = [c["name"] + (f" [{c['masked']}]" if c["masked"] else "") for c in result["columns"]]
        emit(table(headers, result["rows"], upper=False) if result["rows"] else "(no rows)")
    more = " (more rows: raise --limit)" if result["truncated"] else ""
    print(paint(f"{result['row_count']} rows in {result['elapsed_ms']:.0f} ms{more}", "dim", sys.stderr),
          file=sys.stderr)
    governance = result["governance"]
    if explain_policy or governance["policies"]:
        policies = ", ".join(governance["policies"]) or "none"
        print(paint(f"policies applied: {policies}", "dim", sys.stderr), file=sys.stderr)
    if explain_policy:
        print(paint(f"datasets: {', '.join(governance['datasets']) or 'none'}", "dim", sys.stderr), file=sys.stderr)
        print(paint(f"rewritten SQL: {governance['sql']}", "dim", sys.stderr), file=sys.stderr)


def _history(output: str) -> None:
    records = client().query.history()
    fmt = Format.json if output == "json" else Format.table
    render(records, fmt, ["age", "user", "rows", "ms", "errno", "policies", "sql"],
           [[age(r["time"]), r["user"], r["rows"], r["elapsed_ms"], r["errno"], r["policies"],
             " ".join(r["sql"].split())[:60]] for r in records])
