"""`dataos query "SQL"`: governed SQL (the group's default command), and `dataos query history`."""
from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import typer

from syscalls.errors import SyscallError
from userlib import export
from userlib.output import Format, age, emit, error_line, paint, render, table, to_json

from ..session import client
from ..shell.sql import caret
from .groups import OneLineGroup
from .options import OUTPUT

RUN = "run"


class QueryGroup(OneLineGroup):
    """`dataos query …`: the SQL runs (the hidden `run` command) unless the first word is a
    sub-command; the group's help is `run`'s, which lists the sub-commands."""
    default_command = RUN  # (completion reads it too)

    def parse_args(self, ctx, args):
        if not args or (args[0] not in self.commands and args[0] not in ctx.help_option_names):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)

    def format_help(self, ctx, formatter):
        self.commands[RUN].format_help(ctx, formatter)


app = typer.Typer(no_args_is_help=False, help="Run governed SQL; `dataos query history`: past queries.")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="query", cls=QueryGroup)


@app.command(RUN, hidden=True, epilog="Also: dataos query history [--limit N] [--user U] [-o table|wide|json|yaml]"
                                      " — past queries (`dataos query history --help`).")
def query(sql: str = typer.Argument(..., metavar="SQL", help="The SQL (any dialect: --dialect); also DESCRIBE t, SHOW TABLES, "
                                               "SUMMARIZE t, \\d NAME."),
          dialect: str = typer.Option("duckdb", "--dialect", help="trino, postgres, duckdb, mysql, spark, …"),
          limit: int | None = typer.Option(None, "--limit",
                                              help="At most this many rows (default 1000 shown; all with --out; "
                                                   "-1: all)."),
          cluster: str | None = typer.Option(None, "--cluster", "-c", help="Run on this cluster (default: "
                                                "the built-in default, which serves every depot)."),
          workspace: str | None = typer.Option(None, "--workspace", "-w", help="The cluster's workspace."),
          depot: str | None = typer.Option(None, "--depot", help="Resolve unqualified tables in this depot."),
          collection: str | None = typer.Option(None, "--collection", help="… and this collection."),
          output: str = typer.Option("table", "--output", "-o", help="table, json, csv, or a plugin's format "
                                     "(`dataos plugins info NAME` lists them)."),
          out: Path | None = typer.Option(None, "--out", help="Write every row to FILE.parquet, .csv or .json "
                                             "(streamed: memory stays flat)."),
          explain_policy: bool = typer.Option(False, "--explain-policy",
                                              help="Also show the policies applied and the rewritten SQL.")) -> None:
    """Run governed SQL: `select` is checked per dataset; masks and row filters apply."""
    where = {"sql": sql, "dialect": dialect, "depot": depot, "collection": collection, "cluster": cluster,
             "workspace": workspace}
    if out is not None:
        _export(where, out, -1 if limit is None else limit, explain_policy)
        return
    plugin_format = _plugin_format(output)
    try:
        result = client().query.execute(**where, limit=1000 if limit is None else limit)
    except SyscallError as e:
        if not e.details.get("position"):
            raise
        print(error_line(e), file=sys.stderr)  # the SQL's line, a caret under where it went wrong
        print(caret(sql, *e.details["position"]), file=sys.stderr)
        raise typer.Exit(e.exit_code) from None
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


@app.command("history")
def history(limit: int = typer.Option(50, "--limit", "-n", help="At most this many queries, newest first."),
            user: str | None = typer.Option(None, "--user", "-u", help="This user's queries (someone else's "
                                               "takes read on /gateway/history)."),
            output: Format = OUTPUT) -> None:
    """Past queries, newest first: yours, or everyone's with read on /gateway/history. `-o wide` adds
    the rewritten (governed) SQL the engine ran and the datasets read; `-o name` prints query ids."""
    records = client().query.history(limit=limit, user=user)
    headers = ["id", "age", "user", "rows", "ms", "errno", "policies", "sql"]
    rows = [[r["id"], age(r["time"]), r["user"], r["rows"], r["elapsed_ms"], r["errno"],
             ",".join(r["policies"]) or None, _one_line(r["sql"], 60)] for r in records]
    if output is Format.wide:
        headers = [*headers[:-1], "datasets", "sql", "rewritten"]
        rows = [[*row[:-1], ",".join(r["datasets"]) or None, _one_line(r["sql"]), _one_line(r["rewritten"] or "")]
                for row, r in zip(rows, records)]
    render(records, output, headers, rows, [r["id"] for r in records])


def _one_line(sql: str, width: int | None = None) -> str:
    text = " ".join(sql.split())
    return text if width is None or len(text) <= width else text[:width - 1] + "…"
