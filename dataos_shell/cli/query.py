"""`dataos query "SQL"`: governed SQL, and `dataos query history`."""
from __future__ import annotations

import csv
import io
import sys
from pathlib import Path
from typing import Optional

import typer

from syscalls.errors import SyscallError

from userlib import export
from userlib.output import Format, age, emit, paint, render, table, to_json
from ..session import client


def query(sql: str = typer.Argument(..., help='The SQL (any dialect: --dialect), or "history".'),
          dialect: str = typer.Option("duckdb", "--dialect", help="trino, postgres, duckdb, mysql, spark, …"),
          limit: Optional[int] = typer.Option(None, "--limit",
                                              help="At most this many rows (default 1000 shown; all with --out; "
                                                   "-1: all)."),
          cluster: Optional[str] = typer.Option(None, "--cluster", "-c", help="Run on this cluster (default: "
                                                "the built-in default, which serves every depot)."),
          workspace: Optional[str] = typer.Option(None, "--workspace", "-w", help="The cluster's workspace."),
          depot: Optional[str] = typer.Option(None, "--depot", help="Resolve unqualified tables in this depot."),
          collection: Optional[str] = typer.Option(None, "--collection", help="… and this collection."),
          output: str = typer.Option("table", "--output", "-o", help="table, json, csv, or a plugin's format "
                                     "(`dataos plugins info NAME` lists them)."),
          out: Optional[Path] = typer.Option(None, "--out", help="Write every row to FILE.parquet, .csv or .json "
                                             "(streamed: memory stays flat)."),
          explain_policy: bool = typer.Option(False, "--explain-policy",
                                              help="Also show the policies applied and the rewritten SQL.")) -> None:
    """Run governed SQL: `select` is checked per dataset; masks and row filters apply."""
    if sql.strip().lower() == "history":
        _history(output)
        return
    where = {"sql": sql, "dialect": dialect, "depot": depot, "collection": collection, "cluster": cluster,
             "workspace": workspace}
    if out is not None:
        _export(where, out, -1 if limit is None else limit, explain_policy)
        return
    plugin_format = _plugin_format(output)
    result = client().query.execute(**where, limit=1000 if limit is None else limit)
    if output == "json":
        emit(to_json(result))
        return
    names = [c["name"] for c in result["columns"]]
    if plugin_format is not None:
        emit(plugin_format(names, result["rows"]))
    elif output == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(names)
        writer.writerows(result["rows"])
        sys.stdout.write(buffer.getvalue())
    else:
        headers = [c["name"] + (f" [{c['masked']}]" if c["masked"] else "") for c in result["columns"]]
        emit(table(headers, result["rows"], upper=False) if result["rows"] else "(no rows)")
    more = " (more rows: raise --limit, or --out FILE)" if result["truncated"] else ""
    _note(f"{_rows(result['row_count'])} in {result['elapsed_ms']:.0f} ms{more}")
    _governance(result["governance"], explain_policy)


def _plugin_format(output: str):
    """The plugin function printing `-o NAME` (None for the built-in formats); EINVAL if unknown."""
    if output in ("table", "json", "csv"):
        return None
    from plugins.loader import disabled, registry
    formats = {} if disabled() else registry.formats()
    if output not in formats:
        known = ", ".join(["table", "json", "csv", *sorted(formats)])
        raise SyscallError("EINVAL", f"unknown output format {output!r} (known: {known})", field="--output")
    return formats[output][1]


def _export(where: dict, out: Path, limit: int, explain_policy: bool) -> None:
    export.check(out)  # a bad suffix or directory fails before the query runs
    progress = export.Progress(str(out))
    with export.cleanup_on_signals():
        try:
            header, footer = export.write(client().query.stream(**where, limit=limit), out, progress)
        finally:
            progress.done()
    _note(f"{_rows(footer.get('row_count', 0))} to {out} in {footer.get('elapsed_ms', 0):.0f} ms")
    _governance(header.get("governance") or {"policies": [], "datasets": [], "sql": ""}, explain_policy)


def _rows(n: int) -> str:
    return f"{n:,} row" + ("" if n == 1 else "s")


def _note(text: str) -> None:
    print(paint(text, "dim", sys.stderr), file=sys.stderr)


def _governance(governance: dict, explain_policy: bool) -> None:
    if explain_policy or governance["policies"]:
        _note(f"policies applied: {', '.join(governance['policies']) or 'none'}")
    if explain_policy:
        _note(f"datasets: {', '.join(governance['datasets']) or 'none'}")
        _note(f"rewritten SQL: {governance['sql']}")


def _history(output: str) -> None:
    records = client().query.history()
    fmt = Format.json if output == "json" else Format.table
    render(records, fmt, ["age", "user", "rows", "ms", "errno", "policies", "sql"],
           [[age(r["time"]), r["user"], r["rows"], r["elapsed_ms"], r["errno"], r["policies"],
             " ".join(r["sql"].split())[:60]] for r in records])
