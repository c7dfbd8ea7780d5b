"""The selected resource's details: its YAML, its runtime (jobs and pods) and its history."""
from __future__ import annotations

from typing import Any

import yaml
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static, TabbedContent, TabPane


def runtime_text(rt: dict) -> str:
    lines = [f"runtime: {rt.get('runtime') or '-'}   progress: {rt.get('progress') or '-'}"]
    if rt.get("message"):
        lines.append(f"message: {rt['message']}")
    run = rt.get("run") or {}
    jobs = run.get("jobs") or []
    if isinstance(jobs, dict):
        jobs = [{"name": k, **(v if isinstance(v, dict) else {"state": v})} for k, v in jobs.items()]
    if jobs:
        lines.append("jobs:")
        for j in jobs:
            lines.append(f"  {j.get('name', '?'):<20} {j.get('state') or j.get('phase') or ''}"
                         f"  attempts={j.get('attempts', j.get('attempt', ''))} exit={j.get('exit_code', '')}")
    for r in rt.get("replicas") or []:
        lines.append(f"  replica {r}")
    pods = rt.get("pods") or []
    if pods:
        lines.append("pods:")
        for p in pods:
            lines.append(f"  {p.get('name', '?'):<36} {p.get('phase', '')}  {p.get('job') or ''}")
    return "\n".join(lines)


def history_text(gens: list[dict]) -> str:
    return "\n".join(f"gen {g.get('generation')}  {g.get('action', ''):<10} {g.get('applied', '')}  by {g.get('by', '')}"
                     for g in gens) or "(no history)"


class DetailsPane(Vertical):
    DEFAULT_CSS = """
    DetailsPane { height: 1fr; }
    DetailsPane Static { padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        from .logs import LogsView
        with TabbedContent(id="ops-tabs"):
            with TabPane("YAML", id="tab-yaml"):
                yield VerticalScroll(Static("(select a resource)", id="yaml", markup=False))
            with TabPane("Runtime", id="tab-runtime"):
                yield VerticalScroll(Static("", id="runtime", markup=False))
            with TabPane("History", id="tab-history"):
                yield VerticalScroll(Static("", id="history", markup=False))
            with TabPane("Logs", id="tab-logs"):
                yield LogsView()

    def set_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def show(self, resource: dict | None, runtime: dict | None, history: list | None) -> None:
        self.query_one("#yaml", Static).update(
            yaml.safe_dump(resource, sort_keys=False) if resource else "(select a resource)")
        self.query_one("#runtime", Static).update(runtime_text(runtime) if runtime else "(no runtime)")
        self.query_one("#history", Static).update(history_text(history or []))

    def text(self, which: str) -> str:
        return str(self.query_one(f"#{which}", Static).render())

    def shown(self, which: str) -> Any:
        return self.query_one(f"#{which}", Static)
