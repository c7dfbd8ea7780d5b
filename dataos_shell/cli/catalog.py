"""`dataos catalog …`: scan depots, search, show, tag, describe, own, history and lineage.

Entries are named by address, `dataos://depot:collection/dataset[#column]`, or as in SQL,
`depot.collection.dataset[#column]`; resources as `resource://WORKSPACE/TYPE/NAME`.
"""
from __future__ import annotations

import sys
from typing import Any, Optional

import typer

from userlib.output import (Format, age, distinct_exact, emit, notice, paint, profile_summary, render, short,
                      shown_column_tags, sql_address, table)
from ..session import client
from .options import OUTPUT

app = typer.Typer(help="The catalog (Metis): find, describe, tag and trace datasets and resources.",
                  no_args_is_help=True)


def ref(text: str) -> str:
    """An address as users type it: `depot.collection.dataset[#column]` becomes a UDL."""
    name, hash_, column = text.partition("#")
    if "://" not in name and name.count(".") == 2:
        depot, collection, dataset = name.split(".")
        name = f"dataos://{depot}:{collection}/{dataset}"
    return name + hash_ + column


@app.command()
def scan(depot: str = typer.Argument(..., help="The depot to scan."), output: Format = OUTPUT) -> None:
    """Scan a depot: collections, datasets, columns, row counts and profiles (only what changed)."""
    counts = {"scanned": 0, "unchanged": 0, "failed": 0}
    failures: list[str] = []
    live = sys.stderr.isatty()
    last: dict[str, Any] = {}
    try:
        for item in client().catalog.scan(depot=depot):
            last = item
            if item["state"] in counts:
                counts[item["state"]] += 1
            if item["state"] == "failed":
                failures.append(f"{item['dataset']}: {item['error']}")
            if live:
                sys.stderr.write(f"\r\033[Kscanning {depot}: {_bar(item['done'], item['total'])} "
                                 f"{item['done']}/{item['total']} {item['dataset'] or ''}")
                sys.stderr.flush()
    finally:  # a failed or cut scan's error line (and a summary) start on a clean line
        if live and last:
            sys.stderr.write("\r\033[K")
    summary = {"depot": depot, **counts, "total": last.get("total", 0), "failures": failures}
    if output in (Format.json, Format.yaml):
        render(summary, output)
        return
    emit(f"depot {depot}: {counts['scanned']} scanned, {counts['unchanged']} unchanged, {counts['failed']} failed")
    for line in failures:
        notice(f"failed: {line}")


def _bar(done: int, total: int, width: int = 24) -> str:
    filled = width * done // total if total else 0
    return "[" + "#" * filled + "." * (width - filled) + "]"


@app.command()
def search(text: str = typer.Argument("", help="Words to find (prefixes work: 'cust')."),
           tag: Optional[str] = typer.Option(None, "--tag", help="Only entries with this tag."),
           depot: Optional[str] = typer.Option(None, "--depot", help="Only datasets of this depot."),
           type_: Optional[str] = typer.Option(None, "--type", help="dataset, or a resource type."),
           owner: Optional[str] = typer.Option(None, "--owner", help="Only entries this user owns."),
           tier: Optional[str] = typer.Option(None, "--tier", help="Only this tier (Tier.Gold …)."),
           limit: int = typer.Option(20, "--limit", help="At most this many results."),
           output: Format = OUTPUT) -> None:
    """Search datasets and resources by name, column, description and tag (what you may read)."""
    found = client().catalog.search(text=text, tag=tag, depot=depot, type=type_, owner=owner, tier=tier,
                                    limit=limit)
    rows = [[r["urn"], r["type"], ", ".join(r["tags"]), r["matched"], short(r["description"])]
            for r in found["results"]]
    render(found, output, ["name", "type", "tags", "matched", "description"], rows,
           (r["urn"] for r in found["results"]))
    if output in (Format.table, Format.wide):
        shown = len(found["results"])
        notice(f"{shown} of {found['total']}{'' if found.get('total_exact', True) else '+'} results" +
               "".join(f" · {name}: " + ", ".join(f"{v} ({n})" for v, n in list(values.items())[:5])
                       for name, values in found["facets"].items() if values and name in ("depot", "tag", "type")))


@app.command()
def show(entry: str = typer.Argument(..., help="dataos://depot:collection/dataset, depot.collection.dataset, "
                                      "or resource://WORKSPACE/TYPE/NAME."),
         output: Format = OUTPUT) -> None:
    """An entry: schema with tags, profile, owner, description, tier, last quality check, lineage."""
    found = client().catalog.get(ref=ref(entry))
    if output in (Format.json, Format.yaml, Format.name):
        render(found, output, names=[found["urn"]])
        return
    emit(_describe(found))


def _describe(entity: dict[str, Any]) -> str:
    a = entity["aspects"]
    tags = a.get("tags") or {}
    column_tags = tags.get("columns", {})
    tagged = shown_column_tags(tags)
    lines = [paint(entity["urn"], "bold")]
    descriptions = a.get("description") or {}
    if descriptions.get("dataset"):
        lines.append(descriptions["dataset"])
    owner = (a.get("ownership") or {}).get("owner") or (a.get("resource") or {}).get("owner")
    facts = [("owner", owner), ("tags", ", ".join(tags.get("dataset", [])) or None),
             ("tier", next((t for t in tags.get("dataset", []) if t.startswith("Tier.")), None))]
    props = a.get("properties") or {}
    if props:
        facts += [("rows", "(filtered for you)" if props.get("rows") is None and entity.get("filtered")
                   else f"{props['rows']:,}" if props.get("rows") is not None else None),
                  ("format", props.get("format")), ("scanned", props.get("scanned") and age(props["scanned"]) + " ago")]
    if entity.get("filtered"):
        facts.append(("row filters", ", ".join(entity["filtered"])))
    lines += [f"  {k + ':':<12} {v}" for k, v in facts if v]
    schema = (a.get("schema") or {}).get("columns", [])
    if schema:
        profile, exact = (a.get("profile") or {}).get("columns", {}), distinct_exact(a.get("profile"))
        masked = entity.get("masked", {})
        rows = [[c["name"], c["type"], "" if c.get("nullable", True) else "not null",
                 ", ".join(t if source is None else f"{t} (from {sql_address(source)})"
                           for t, source in tagged.get(c["name"], []))
                 + (f" [masked: {masked[c['name']]}]" if c["name"] in masked else ""),
                 profile_summary(profile.get(c["name"], {}), exact=exact),
                 short(descriptions.get("columns", {}).get(c["name"], ""), 40)]
                for c in schema]
        lines += ["", table(["column", "type", "null", "tags", "profile", "description"], rows).rstrip("\n")]
    suggestions = (a.get("suggestions") or {}).get("columns", {})
    pending = {c: [t for t in ts if t not in column_tags.get(c, [])] for c, ts in suggestions.items()}
    for column, suggested in pending.items():
        for tag in suggested:
            lines.append(paint(f"suggested: {tag} on {column} — dataos catalog tag '{entity['urn']}#{column}' {tag}",
                               "dim"))
    quality = a.get("quality")
    if quality:
        lines += ["", _quality(quality)]
    upstream = (a.get("lineage") or {}).get("upstream", [])
    if upstream:
        lines += ["", "upstream: " + ", ".join(sorted({u["urn"] for u in upstream}))]
    resource = a.get("resource")
    if resource:
        lines += [f"  {'type:':<12} {resource['type']}", f"  {'generation:':<12} {resource.get('generation')}"]
    return "\n".join(lines)


def _quality(run: dict[str, Any]) -> str:
    """The last quality check: a summary line, then each failed rule (with counts, unless hidden from you)."""
    failed = [r for r in run.get("results", []) if not r.get("passed")]
    passed = paint(f"{run.get('passed', 0)} passed", "green")
    failing = paint(f"{len(failed)} failed", "red") if failed else "0 failed"
    scope = f", over rows filtered by {', '.join(run['filtered'])}" if run.get("filtered") else ""
    head = f"quality: {passed}, {failing} (checked {age(run.get('time'))} ago by {run.get('by')}{scope})"
    lines = [head]
    for r in failed:
        counts = "" if r.get("failed_rows") is None else \
            f": {r['failed_rows']:,} of {r['total_rows']:,} rows" if r.get("total_rows") is not None \
            else f": {r['failed_rows']:,} rows"
        lines.append(f"  {paint('FAIL', 'red')} {r['rule']}{counts}" + (f" — {r['detail']}" if r.get("detail") else ""))
    return "\n".join(lines)


@app.command()
def tag(entry: str = typer.Argument(..., help="A dataset, or a column: UDL#column."),
        tag_: str = typer.Argument(..., metavar="TAG", help="PII.Email, Tier.Gold, …"),
        remove: bool = typer.Option(False, "--remove", help="Remove the tag instead."),
        output: Format = OUTPUT) -> None:
    """Tag a dataset or column (a PII.* tag masks the column for users without roles:id:pii-reader)."""
    found = client().catalog.tag(ref=ref(entry), tag=tag_, remove=remove)
    _changed(found, output, f"{entry}: tag {tag_} {'removed' if remove else 'added'}")


@app.command()
def describe(entry: str = typer.Argument(..., help="A dataset, or a column: UDL#column."),
             text: str = typer.Argument(..., help="The description."), output: Format = OUTPUT) -> None:
    """Describe a dataset or a column."""
    _changed(client().catalog.describe(ref=ref(entry), text=text), output, f"{entry}: described")


@app.command()
def owner(entry: str = typer.Argument(..., help="A dataset."), user: str = typer.Argument(..., help="Its owner."),
          output: Format = OUTPUT) -> None:
    """Set a dataset's owner."""
    _changed(client().catalog.owner(ref=ref(entry), user=user), output, f"{entry}: owner {user}")


def _changed(found: dict[str, Any], output: Format, line: str) -> None:
    if output in (Format.json, Format.yaml):
        render(found, output)
    else:
        emit(line)


@app.command()
def history(entry: str = typer.Argument(..., help="A dataset or resource."), output: Format = OUTPUT) -> None:
    """Every change to an entry, oldest first: schema changes, tags, descriptions, owners."""
    records = client().catalog.history(ref=ref(entry))
    render(records, output, ["age", "aspect", "version", "by", "changes"],
           [[age(r["time"]), r["aspect"], r["version"], r["by"], "; ".join(r["changes"])] for r in records])


@app.command()
def lineage(entry: str = typer.Argument(..., help="A dataset (or UDL#column)."),
            upstream: bool = typer.Option(False, "--upstream", help="Only where it comes from."),
            downstream: bool = typer.Option(False, "--downstream", help="Only what depends on it."),
            depth: int = typer.Option(3, "--depth", help="How many hops."), output: Format = OUTPUT) -> None:
    """Where a dataset comes from and what depends on it (with column mappings)."""
    direction = "upstream" if upstream and not downstream else "downstream" if downstream and not upstream else "both"
    graph = client().catalog.lineage(ref=ref(entry), direction=direction, depth=depth)
    if output in (Format.json, Format.yaml):
        render(graph, output)
        return
    column = ref(entry).partition("#")[2] or None
    emit(_tree(graph, direction, column))


def _tree(graph: dict[str, Any], direction: str, column: str | None) -> str:
    root = graph["urn"]
    lines = [paint(root + (f"#{column}" if column else ""), "bold")]
    for label, near, far in (("upstream", "to", "from"), ("downstream", "from", "to")):
        if direction not in (label, "both"):
            continue
        lines.append(f"{label}:")
        seen: set[str] = set()

        def walk(urn: str, prefix: str) -> None:
            edges = [e for e in graph["edges"] if e[near] == urn]
            for i, edge in enumerate(edges):
                last = i == len(edges) - 1
                other = edge[far]
                via = f"  (via {edge['via']})" if edge.get("via") else ""
                mapping = ""
                if column and label == "upstream" and edge["to"] == root:
                    sources = edge.get("columns", {}).get(column, [])
                    mapping = "  ← " + ", ".join(f"{c}" for _u, c in sources) if sources else ""
                lines.append(f"{prefix}{'└─' if last else '├─'} {other}{via}{mapping}")
                if other not in seen:
                    seen.add(other)
                    walk(other, prefix + ("   " if last else "│  "))

        walk(root, "  ")
        if lines[-1] == f"{label}:":
            lines.append("  (none)")
    return "\n".join(lines)
