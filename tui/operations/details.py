"""The selected resource's details: its YAML, its runtime (jobs and pods), its history and its
events (a kubectl-describe-like list out of generations and pods' phase histories)."""
from __future__ import annotations

import datetime as dt
from typing import Any

import yaml
from textual.app import ComposeResult
from textual.containers import ScrollableContainer, Vertical, VerticalScroll
from textual.widgets import Static, TabbedContent, TabPane

from .model import age, parse_time

EVENT_PODS = 20  # the most recent pods whose phase histories are fetched (one pod.get each)


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
                         f"  attempts={j.get('attempts', j.get('attempt', ''))} exit={'' if j.get('exitCode') is None else j['exitCode']}")
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


Event = tuple[str, str, str, str]  # time (ISO), kind, object, message


def events(resource: dict, history: list[dict] | None, pods: list[dict] | None) -> list[Event]:
    """What happened to a resource, oldest first: each generation applied (or the deletion), and
    for each pod (as `pod.get` returns it: with `history`, its phase changes) its creation,
    each phase it entered (exit code and reason when it ended) and restarts: a later pod of the
    same job in the same run, or of the same service replica."""
    kind = resource.get("type", "")
    out: list[Event] = []
    for g in history or []:
        action = g.get("action") or "applied"
        if action == "deleted":
            out.append((g.get("applied") or "", "Deleted", f"{kind}/{resource.get('name', '')}",
                        f"generation {g.get('generation')} deleted by {g.get('by') or '?'}"))
        else:
            out.append((g.get("applied") or "", "Applied", f"{kind}/{resource.get('name', '')}",
                        f"generation {g.get('generation')} {action} by {g.get('by') or '?'}"))
    seen: dict[tuple, int] = {}
    for pod in sorted(pods or [], key=lambda p: (p.get("created") or "", p.get("name", ""))):
        name, labels = pod.get("name", ""), pod.get("labels") or {}
        obj = f"pod/{name}"
        job, replica = pod.get("job") or labels.get("dataos.io/job"), labels.get("dataos.io/replica")
        what = f"job {job}" if job else f"replica {replica}" if replica is not None else ""
        out.append((pod.get("created") or "", "Created", obj, what or "pod created"))
        if job or replica is not None:
            slot = (labels.get("dataos.io/run"), job, replica)
            seen[slot] = seen.get(slot, 0) + 1
            if seen[slot] > 1:
                out.append((pod.get("created") or "", "Restarted", obj, f"{what} attempt {seen[slot]}"))
        for h in pod.get("history") or []:
            phase = h.get("phase") or "Unknown"
            message = f"{h.get('previous')} → {phase}" if h.get("previous") else phase
            if h.get("exit_code") is not None:
                message += f", exit code {h['exit_code']}"
            if h.get("reason"):
                message += f" ({h['reason']})"
            out.append((h.get("time") or "", phase, obj, message))
    order = {"Applied": 0, "Deleted": 0, "Created": 1, "Restarted": 2}
    return sorted(out, key=lambda e: (_instant(e[0]), order.get(e[1], 3)))


def _instant(value: str) -> float:
    t = parse_time(value)
    return t.timestamp() if t else 0.0


def events_text(items: list[Event], now: dt.datetime, more: int = 0) -> str:
    """Events as a table, newest last (a terminal's bottom line is where eyes land)."""
    if not items:
        return "(no events)"
    width = min(48, max(len("OBJECT"), *(len(obj) for _, _, obj, _ in items)))
    lines = [f"{'TIME':<8}  {'AGE':>4}  {'KIND':<10} {'OBJECT':<{width}}  MESSAGE"]
    if more:
        lines.append(f"({more} older pods not shown)")
    for time, kind, obj, message in items:
        t = parse_time(time)
        clock = t.astimezone().strftime("%H:%M:%S") if t else "-"
        lines.append(f"{clock:<8}  {age(time, now) or '-':>4}  {kind:<10} {obj:<{width}}  {message}")
    return "\n".join(lines)


class DetailsPane(Vertical):
    DEFAULT_CSS = """
    DetailsPane { height: 1fr; }
    DetailsPane Static { padding: 0 1; }
    DetailsPane #events { width: auto; }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._texts: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        from .logs import LogsView
        with TabbedContent(id="ops-tabs"):
            with TabPane("YAML", id="tab-yaml"):
                yield VerticalScroll(Static("(select a resource)", id="yaml", markup=False))
            with TabPane("Runtime", id="tab-runtime"):
                yield VerticalScroll(Static("", id="runtime", markup=False))
            with TabPane("History", id="tab-history"):
                yield VerticalScroll(Static("", id="history", markup=False))
            with TabPane("Events", id="tab-events"):  # wide lines scroll sideways, never wrap
                yield ScrollableContainer(Static("", id="events", markup=False, expand=False))
            with TabPane("Logs", id="tab-logs"):
                yield LogsView()

    def set_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def show(self, resource: dict | None, runtime: dict | None, history: list | None,
             events_shown: str = "(no events)") -> None:
        self._set("yaml", yaml.safe_dump(resource, sort_keys=False) if resource else "(select a resource)")
        self._set("runtime", runtime_text(runtime) if runtime else "(no runtime)")
        self._set("history", history_text(history or []))
        self._set("events", events_shown)

    def _set(self, which: str, text: str) -> None:
        """Update a tab only when its text changed (a refresh keeps its scroll and costs nothing)."""
        if self._texts.get(which) != text:
            self._texts[which] = text
            self.query_one(f"#{which}", Static).update(text)

    def text(self, which: str) -> str:
        return str(self.query_one(f"#{which}", Static).render())

    def shown(self, which: str) -> Any:
        return self.query_one(f"#{which}", Static)
