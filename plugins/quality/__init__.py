"""The data quality plugin: rules checked over a dataset as you, the run recorded in the catalog.

    dataos quality check lakehouse.retail.customers --rule "not_null(email)" --rule "unique(customer_id)"
    dataos quality show lakehouse.retail.customers

A check is one governed SELECT through `query.execute` (your masks and row filters apply), recorded
with `catalog.quality` (which takes `update` on the dataset) unless --no-record; it exits 1 when a
rule fails. Also: a TUI palette command and screen, the `markdown` output format for `dataos query`,
and (plugins/quality/kernel.py) a `quality` stack, so checks run on a schedule as a workflow.
Rules: see plugins/quality/rules.py.
"""
from __future__ import annotations

from typing import Any, List

DATAOS_API = 1  # the host API this plugin is written for
RULES_HELP = ("not_null(col), unique(col[, col…]), accepted_values(col, 'a', 'b'), between(col, lo, hi), "
              "matches(col, 'regex'), row_count(min[, max]), expression('sql boolean'); repeat --rule.")


def register(host: Any) -> None:
    import typer

    group = host.group("quality", help="Data quality: check rules over a dataset, record the results in the catalog.")

    @group.command()
    def check(dataset: str = typer.Argument(..., help="dataos://depot:collection/dataset or depot.collection.dataset."),
              rule: List[str] = typer.Option(..., "--rule", "-r", help=RULES_HELP),
              no_record: bool = typer.Option(False, "--no-record", help="Only check; record nothing in the catalog."),
              output: str = typer.Option("table", "--output", "-o", help="table or json.")) -> None:
        """Check a dataset against rules as you (your masks and row filters apply); exit 1 if a rule fails."""
        from .check import check as run_check
        if output not in ("table", "json"):
            raise _einval(f"--output {output!r}: use table or json", "output")
        from syscalls.errors import SyscallError

        from .check import record
        found = run_check(host.client(), dataset, rule, save=False)
        refused = None
        if not no_record:  # the results are shown even when recording them is refused
            try:
                record(host.client(), found["dataset"], found["results"])
                found["recorded"] = True
            except SyscallError as e:
                refused = e
        _print(found, output)
        if refused is not None:
            raise refused
        if found["failed"]:
            raise typer.Exit(1)

    @group.command()
    def show(dataset: str = typer.Argument(..., help="dataos://depot:collection/dataset or depot.collection.dataset."),
             output: str = typer.Option("table", "--output", "-o", help="table or json.")) -> None:
        """The last recorded check of a dataset: when, by whom, each rule's result."""
        from .check import last
        if output not in ("table", "json"):
            raise _einval(f"--output {output!r}: use table or json", "output")
        found = last(host.client(), dataset)
        if output == "json":
            from userlib.output import emit, to_json
            emit(to_json(found))
            return
        if found is None:
            from userlib.output import notice
            notice(f"{dataset}: no quality check recorded yet (dataos quality check {dataset} --rule …)")
            return
        _print({**found, "dataset": dataset}, output, header=True)

    @host.palette("Quality: check this dataset",
                  help="The dataset open in Atlas (or one you type): its last recorded check, and rules to run.")
    async def quality_here(app: Any) -> None:
        from .screen import QualityScreen, current_dataset
        urn = current_dataset(app)
        if urn:
            run = (await app.link.call("catalog.get", ref=urn))["aspects"].get("quality")
            app.notify(f"{urn}: last check {run['passed']} passed, {run['failed']} failed" if run
                       else f"{urn}: no quality check recorded yet", severity="error" if run and run["failed"]
                       else "information")
        app.push_screen(QualityScreen(urn))

    @host.screen("quality", title="Data quality")
    def screen() -> Any:
        from .screen import QualityScreen
        return QualityScreen()

    @host.output_format("markdown", help="A GitHub-flavoured Markdown table.")
    def markdown(columns: list[str], rows: list[list[Any]]) -> str:
        from .check import markdown as render
        return render(columns, rows)


def _einval(message: str, field: str) -> Exception:
    from syscalls.errors import SyscallError
    return SyscallError("EINVAL", message, field=field)


def _print(found: dict[str, Any], output: str, header: bool = False) -> None:
    import sys
    from userlib.output import age, emit, notice, paint, table, to_json
    from .check import rows
    if output == "json":
        emit(to_json(found))
        return
    data = rows(found["results"])
    lines = table(["rule", "status", "failed", "rows"], data).split("\n")
    at = max(len("rule"), *(len(r[0]) for r in data)) + 3  # where STATUS starts (colour after alignment)
    for i, row in enumerate(data, 1):
        lines[i] = lines[i][:at] + paint(row[1], "green" if row[1] == "pass" else "red", sys.stdout) + lines[i][at + len(row[1]):]
    if header:
        lines.insert(0, f"{found['dataset']}: checked {age(found.get('time'))} ago by {found.get('by')}")
    emit("\n".join(lines))
    summary = f"{found['passed']} passed, {found['failed']} failed"
    if found.get("filtered"):
        summary += f" (over the rows row filters {', '.join(found['filtered'])} let {found.get('by')} see)"
    if found.get("policies"):
        summary += f" · policies applied: {', '.join(found['policies'])}"
    if "recorded" in found:
        summary += " · recorded in the catalog" if found["recorded"] else " · not recorded"
    notice(summary)
