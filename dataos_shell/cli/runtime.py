"""Runtime verbs: `pods` (and `get pods`, `describe pod`), `logs`, `top`, `runtime pause|resume|stop|rerun|run`,
`get runtime`; and what `describe` tells of a runtime: why it failed, its events."""
from __future__ import annotations

import sys
from collections import Counter
from typing import Any, Optional

import typer

from syscalls.errors import SyscallError

from userlib.output import Format, age, emit, paint, render, table, terminal_safe
from ..session import client
from . import identifiers as ids
from .options import OUTPUT, WORKSPACE
from .groups import OneLineGroup

PHASE_STYLE = {"Running": "green", "Succeeded": "dim", "Failed": "red", "Unknown": "yellow", "Pending": "yellow"}

runtime_app = typer.Typer(help="Control a workload: pause, resume, stop, rerun, run now.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    from .logs import logs
    app.command()(pods)
    app.command()(logs)
    app.command()(top)
    app.add_typer(runtime_app, name="runtime", cls=OneLineGroup)


def _resource_filter(resource: str | None) -> tuple[str | None, str | None]:
    if not resource:
        return None, None
    type_name, _, name = resource.partition("/")
    if not name:
        raise SyscallError("EINVAL", f"-r: {resource!r} is not TYPE/NAME", field="-r")
    return ids.singular(type_name), name


def _pod_rows(pods: list[dict[str, Any]], wide: bool, painted: bool = True) -> tuple[list[str], list[list[Any]]]:
    headers = ["name", "phase", "exit", "resource", "job", "age"]
    if wide:
        headers += ["workspace", "started", "finished", "reason", "node"]
    rows = []
    for p in pods:
        phase = paint(p["phase"], PHASE_STYLE.get(p["phase"], "dim")) if painted else p["phase"]
        resource = "/".join((p["resource"] or "-").split("/")[1:]) or p["resource"]
        row = [p["name"], phase, p["exit_code"], resource, p["job"] or p["labels"].get("dataos.io/replica"),
               age(p["created"])]
        if wide:
            row += [p["workspace"] or "-", p["started"], p["finished"], p["reason"], p["node"]]
        rows.append(row)
    return headers, rows


def pods(workspace: Optional[str] = WORKSPACE,
         all_workspaces: bool = typer.Option(False, "--all-workspaces", "-A", help="Every workspace."),
         resource: Optional[str] = typer.Option(None, "--resource", "-r", help="Only the pods of TYPE/NAME."),
         watch: bool = typer.Option(False, "--watch", help="Keep printing pods as they change."),
         output: Format = OUTPUT) -> None:
    """Pods (the processes or Kubernetes pods that run workloads), now or as they change."""
    type_name, name = _resource_filter(resource)
    ws = None if all_workspaces else (workspace or "public")
    if watch:
        watch_pods(ws, type_name, name, output)
        return
    show_pods(client().pod.list(workspace=ws, type=type_name, name=name), output)


WATCH_WIDTHS = (26, 9, 4, 14, 7, 4, 9, 24, 24, 9, 5)  # at least, per column: NAME … AGE in 80 columns


def watch_pods(workspace: str | None, type_name: str | None, name: str | None, output: Format) -> None:
    """`pods --watch`: as kubectl -w, the header once, in widths that fit the pods there are (and
    at least `WATCH_WIDTHS`), then each change as a row in those widths; -o json: NDJSON."""
    import json
    wide = output is Format.wide
    headers, rows = _pod_rows(client().pod.list(workspace=workspace, type=type_name, name=name), wide, False)
    widths = [max(len(h), least, *(len(_text(r[i])) for r in rows)) for i, (h, least) in
              enumerate(zip(headers, WATCH_WIDTHS))]
    header = "   ".join(h.upper().ljust(w) for h, w in zip(headers, widths)).rstrip()
    for pod in client().pod.watch(workspace=workspace, type=type_name, name=name):
        if output in (Format.json, Format.yaml):
            print(json.dumps(pod), flush=True)  # one pod a line
            continue
        if header:  # with the first row: once the watch is there
            print(header)
            header = ""
        cells = [_text(v).ljust(w) for v, w in zip(_pod_rows([pod], wide, False)[1][0], widths)]
        cells[1] = paint(cells[1], PHASE_STYLE.get(pod["phase"], "dim"))
        print("   ".join(cells).rstrip(), flush=True)


def _text(value: Any) -> str:
    return "-" if value is None or value == "" else str(value)


def show_pods(found: list[dict[str, Any]], output: Format, one: bool = False) -> None:
    """Pods as a table (or json/yaml/name); `one`: a single pod (`get pod NAME`), not a list."""
    headers, rows = _pod_rows(found, output is Format.wide)
    if not found and output in (Format.table, Format.wide):
        print("no pods found", file=sys.stderr)
        return
    render(found[0] if one else found, output, headers, rows, (p["name"] for p in found))


def describe_pod(name: str) -> None:
    """`describe pod NAME`: its phase, times, exit code, reason, what it runs for, its phase history."""
    p = client().pod.get(name=name)
    when = lambda t: f"{t} ({age(t)} ago)" if t else "-"  # noqa: E731
    meta = [("Name", p["name"]), ("Workspace", p["workspace"] or "-"),
            ("Resource", "/".join((p["resource"] or "-").split("/")[1:]) or "-"), ("Job", p["job"] or "-"),
            ("Phase", paint(p["phase"], PHASE_STYLE.get(p["phase"], "dim"))),
            ("Exit code", "-" if p["exit_code"] is None else p["exit_code"]), ("Reason", p["reason"] or "-"),
            ("Node", p["node"] or "-"), ("Created", when(p["created"])), ("Started", when(p["started"])),
            ("Finished", when(p["finished"]))]
    out = [f"{paint(k + ':', 'bold')}{' ' * (11 - len(k))}{v}" for k, v in meta]
    out.append(paint("History:", "bold"))
    hist = table(["time", "phase", "previous", "exit", "reason"],
                 [[h["time"], h["phase"], h["previous"], h["exit_code"], h["reason"]] for h in p.get("history", [])])
    out += ["  " + line for line in hist.splitlines()]
    out += event_lines("pod", name)
    emit("\n".join(out))


def event_lines(type_name: str, name: str, workspace: str | None = None) -> list[str]:
    """`describe`'s last section, as kubectl's: the latest events, oldest first."""
    found = client().event.list(type=type_name, name=name, workspace=workspace)
    if not found:
        return [f"{paint('Events:', 'bold')} <none>"]
    rows = [[paint(e["type"], "yellow") if e["type"] == "Warning" else e["type"], e["reason"], age(e["time"]),
             e["source"], e["message"]] for e in found]
    return [paint("Events:", "bold")] + ["  " + line for line in table(["type", "reason", "age", "from", "message"],
                                                                       rows).splitlines()]


LOG_LINES = 5  # of a failed pod's output, in `describe`


def failure(type_name: str, name: str, workspace: str | None) -> list[tuple[str, str]]:
    """`describe`'s Reason and Message of a failed workload: which job or replica failed, in which
    pod, with what exit code, and the last lines of its output (a sandbox's error among them)."""
    rt = client().runtime.get(type=type_name, name=name, workspace=workspace)
    run = rt.get("run") or {}
    pods = {p["name"]: p for p in rt["pods"]}
    if run.get("state") == "failed":
        job = next((j for j in run["jobs"] if j["state"] in ("failed", "lost", "unstartable")), None)
        if job is not None and job["pod"] in pods:
            return [("Reason", "JobFailed"),
                    ("Message", f"job {job['name']} {job['state']}: {_ended(pods[job['pod']])}")]
        why = [e["message"] for e in client().event.list(type=type_name, name=name, workspace=workspace)
               if e["reason"] == "FailedCreate"]
        return [("Reason", "JobFailed"), ("Message", run.get("message") or "-")] + ([("Error", why[-1])] if why else [])
    if rt.get("message") and rt.get("replicas"):  # a crash loop
        ended = [p for p in rt["pods"] if p["phase"] in ("Failed", "Unknown")]
        last = f"; last: {_ended(ended[-1])}" if ended else ""
        return [("Reason", "CrashLoopBackOff"), ("Message", rt["message"] + last)]
    return [("Message", rt["message"])] if rt.get("message") else []


def _ended(pod: dict[str, Any]) -> str:
    """How a pod ended: its name, exit code and reason, then its output's last lines, indented."""
    told = f"pod {pod['name']}: exit code {_text(pod['exit_code'])}" + (f" ({pod['reason']})" if pod["reason"] else "")
    try:
        tail = "".join(client().pod.logs(name=pod["name"], tail=LOG_LINES)).rstrip("\n")
    except SyscallError:
        tail = ""
    shown = terminal_safe if sys.stdout.isatty() else str  # a pod's output must not drive the terminal
    return told + "".join(f"\n  {shown(line)}" for line in tail.splitlines())


def top(workspace: Optional[str] = WORKSPACE,
        all_workspaces: bool = typer.Option(True, "--all-workspaces/--workspace-only", "-A",
                                            help="Every workspace (default) or only -w."),
        output: Format = OUTPUT) -> None:
    """Pods by phase, the most restarted and the busiest resources."""
    found = client().pod.list(workspace=None if all_workspaces else (workspace or "public"))
    phases = Counter(p["phase"] for p in found)
    by_resource = Counter(p["resource"] for p in found if p["resource"])
    running = Counter(p["resource"] for p in found if p["resource"] and p["phase"] == "Running")
    failed = Counter(p["resource"] for p in found if p["resource"] and p["phase"] == "Failed")
    summary = {"pods": len(found), "phases": dict(phases),
               "resources": [{"resource": r, "pods": n, "running": running[r], "failed": failed[r]}
                             for r, n in by_resource.most_common(10)]}
    if output in (Format.json, Format.yaml):
        render(summary, output)
        return
    out = [f"{len(found)} pods: " + ", ".join(f"{paint(k, PHASE_STYLE.get(k, 'dim'))} {v}"
                                              for k, v in sorted(phases.items()))]
    if by_resource:
        out += ["", table(["resource", "pods", "running", "failed"],
                          [[r["resource"], r["pods"], r["running"], r["failed"]] for r in summary["resources"]])]
    emit("\n".join(out))


def show_runtime(rt: dict[str, Any], output: Format) -> None:
    """`get runtime -t TYPE -n NAME`: the state, the run's jobs or the replicas, the pods."""
    if output in (Format.json, Format.yaml):
        render(rt, output)
        return
    out = [f"{paint(rt['type'] + '/' + rt['name'], 'bold')}  runtime {rt['runtime'] or '-'}"
           + (f"  progress {rt['progress']}" if rt.get("progress") else "")
           + (f"  runs as {rt['runAs']}" if rt.get("runAs") else "")]
    if rt.get("message"):
        out.append(paint(rt["message"], "red"))
    run = rt.get("run")
    if run:
        out.append(f"run {run['id']} (generation {run['generation']}, {run['trigger']}) {run['state']}, "
                   f"started {run['started']}" + (f", finished {run['finished']}" if run["finished"] else ""))
        out.append(table(["job", "state", "attempts", "exit", "pod"],
                         [[j["name"], j["state"], j["attempts"], j["exitCode"], j["pod"]] for j in run["jobs"]]))
    if rt.get("replicas"):
        out.append(table(["replica", "phase", "restarts", "generation", "pod"],
                         [[r["slot"], r["phase"], r["restarts"], r["generation"], r["pod"]] for r in rt["replicas"]]))
    if rt["pods"]:
        headers, rows = _pod_rows(rt["pods"], False)
        out += ["", table(headers, rows)]
    emit("\n".join(out))


def _control(action: str, help_text: str):
    def command(kind: Optional[str] = typer.Argument(None, help="workflow, service or worker."),
                name: Optional[str] = typer.Argument(None), workspace: Optional[str] = WORKSPACE,
                type_opt: Optional[str] = ids.TYPE, name_opt: Optional[str] = ids.NAME,
                output: Format = OUTPUT) -> None:
        ref = ids.require(ids.resolve(kind, name, type_opt=type_opt, name_opt=name_opt, workspace=workspace),
                          f"runtime {action}")
        rt = client().runtime.control(type=ref.type, name=ref.name, action=action, workspace=ref.workspace)
        if output in (Format.json, Format.yaml):
            render(rt, output)
        else:
            emit(f"{ref.type}/{ref.name} {action}: runtime {rt['runtime'] or '-'}")
    command.__doc__ = help_text
    runtime_app.command(action)(command)


for _action, _help in (("pause", "Pause: no new runs (workflows), no pods (services)."),
                       ("resume", "Resume a paused workload."),
                       ("stop", "Stop: abort the current run, or take a service's pods down (until resume)."),
                       ("rerun", "Run a workflow's current generation again."),
                       ("run", "Run a scheduled workflow now.")):
    _control(_action, _help)
