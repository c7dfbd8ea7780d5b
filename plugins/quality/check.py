"""Running a check: the rules' one SELECT through `query.execute` as the user (so their masks and row
filters apply: nobody checks data they cannot read), then `catalog.quality` records the run."""
from __future__ import annotations

from typing import Any, Sequence

from syscalls.errors import SyscallError

from . import rules as R


def run(client: Any, dataset: str, texts: Sequence[str]) -> dict[str, Any]:
    """Check `dataset` against the rules: {dataset, results, policies} (nothing recorded)."""
    parsed = R.parse_all(texts)
    udl, table = R.table_name(dataset)
    shape = client.query.execute(sql=f"SELECT * FROM {table} LIMIT 0", limit=1)  # the columns, as the user sees them
    parsed = R.resolve(parsed, [c["name"] for c in shape["columns"]])
    try:
        answer = client.query.execute(sql=R.query(table, parsed), limit=1)
    except SyscallError as e:
        if e.code != "EINVAL" or len(parsed) == 1:
            raise _named(e, parsed[0]) if e.code == "EINVAL" else e
        for rule in parsed:  # which rule the engine refused: try each alone
            try:
                client.query.execute(sql=R.query(table, [rule]), limit=1)
            except SyscallError as alone:
                if alone.code == "EINVAL":
                    raise _named(alone, rule) from None
                raise
        raise
    names = [c["name"] for c in answer["columns"]]
    results = R.results(parsed, names, answer["rows"][0])
    masked = {c["name"]: c["masked"] for c in shape["columns"] if c.get("masked")}
    for result in results:  # say so when a rule saw masked values, not the data
        hidden = [c for c in result["columns"] if c in masked]
        if hidden:
            result["detail"] += " (checked on masked values: " + ", ".join(f"{c} ({masked[c]})" for c in hidden) + ")"
    return {"dataset": udl, "results": results, "policies": list(answer["governance"].get("policies", []))}


def _named(e: SyscallError, rule: R.Rule) -> SyscallError:
    return rule.fail(e.message)


def record(client: Any, dataset: str, results: list[dict[str, Any]]) -> dict[str, Any]:
    """Record a run in the catalog (`update` on the dataset); the dataset's entry as the user sees it."""
    udl, _ = R.table_name(dataset)
    return client.catalog.quality(ref=udl, results=results)


def check(client: Any, dataset: str, texts: Sequence[str], save: bool = True) -> dict[str, Any]:
    """Run and (unless `save` is false) record: {dataset, results, policies, recorded, passed, failed}."""
    found = run(client, dataset, texts)
    if save:
        record(client, found["dataset"], found["results"])
    passed = sum(1 for r in found["results"] if r["passed"])
    return {**found, "recorded": save, "passed": passed, "failed": len(found["results"]) - passed}


def last(client: Any, dataset: str) -> dict[str, Any] | None:
    """The last recorded run of a dataset (as the user may see it), or None."""
    udl, _ = R.table_name(dataset)
    return (client.catalog.get(ref=udl)["aspects"].get("quality")) or None


def rows(results: list[dict[str, Any]]) -> list[list[Any]]:
    """Table rows: RULE, STATUS, FAILED, ROWS ('-' where counts are hidden from the viewer)."""
    return [[r["rule"], "pass" if r["passed"] else "FAIL", _n(r.get("failed_rows")), _n(r.get("total_rows"))]
            for r in results]


def _n(value: Any) -> str:
    return "-" if value is None else f"{value:,}"


def markdown(columns: list[str], data: list[list[Any]]) -> str:
    """A GitHub-flavoured Markdown table (pipes and newlines in cells escaped)."""
    def cell(value: Any) -> str:
        text = "" if value is None else str(value)
        return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", "<br>")

    lines = ["| " + " | ".join(cell(c) for c in columns) + " |", "|" + "|".join(" --- " for _ in columns) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in data]
    return "\n".join(lines) + "\n"
