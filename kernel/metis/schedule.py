"""Scheduled scans: `depot.scan: {cron}` becomes a kernel-managed workflow `scan-DEPOT` in the
`system` workspace, whose one job (the `scan` stack) scans the depot as its owner. It shows,
runs and logs like any workflow; it goes when the schedule or the depot does."""
from __future__ import annotations

from typing import Any

WORKSPACE = "system"


def scan_workflow(depot: dict[str, Any]) -> dict[str, Any] | None:
    """The workflow a depot's `scan.cron` asks for (None: no schedule)."""
    schedule = depot["depot"].get("scan")
    if not schedule:
        return None
    return {
        "name": workflow_name(depot["name"]), "version": "v1", "type": "workflow", "workspace": WORKSPACE,
        "layer": "system", **({"owner": depot["owner"]} if depot.get("owner") else {}), "tags": ["dataos:scan"],
        "description": f"Scans depot {depot['name']} into the catalog ({schedule['cron']}).",
        "workflow": {"schedule": {"cron": schedule["cron"], "concurrencyPolicy": "Forbid",
                                  **({"timezone": schedule["timezone"]} if "timezone" in schedule else {})},
                     "dag": [{"name": "scan", "spec": {"stack": "scan", "stackSpec": {"depot": depot["name"]}}}]},
    }


def workflow_name(depot: str) -> str:
    return f"scan-{depot}"[:48].rstrip("-")
