"""Runtime verbs: `pods` (and `get pods`, `describe pod`), `logs`, `top`, `runtime pause|resume|stop|rerun|run`,
`get runtime`."""
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


def _pod_rows(pods: list[dict[str, Any]], wide: bool) -> tuple[list[str], list[list[Any]]]:
    headers = ["name", "phase", "exit", "resource", "job", "age"]
    if wide:
        headers += ["workspace", "started", "finished", "reason", "node"]
    rows = []
    for p in pods:
        phase = paint(p["phase"], PHASE_STYLE.get(p["phase"], "dim"))
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
        headers = None
        for pod in client().pod.watch(workspace=ws, type=type_name, name=name):
            if output in (Format.json, Format.yaml):
                print(__import__("json").dumps(pod), flush=True)  # NDJSON, one pod a line
                continue
            h, rows = _pod_rows([pod], output is Format.wide)
            lines = table(h, rows).splitlines()
            if headers is None:
                headers = lines[0]
                print(headers)
            print(lines[1], flush=True)
        return
    show_pods(client().pod.list(workspace=ws, type=type_name, name=name), output)


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
    emit("\n".join(out))


def logs(pod: Optional[str] = typer.Argument(None, help="A pod name (see `dataos pods`), or TYPE/NAME."),
         type_opt: Optional[str] = ids.TYPE, name_opt: Optional[str] = ids.NAME,
         workspace: Optional[str] = WORKSPACE,
         follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing until the pod ends."),
         tail: Optional[int] = typer.Option(None, "--tail", help="Only the last N lines (of each pod)."),
         container: Optional[str] = typer.Option(None, "--container", "-c",
                                                 help="For a workflow: the job whose pods to show.")) -> None:
    """A pod's output, or a resource's (TYPE/NAME or -t TYPE -n NAME): its pods' output, oldest
    first (with -f, its latest pod's)."""
    names = [pod] if pod and "/" not in pod else _resource_pods(pod, type_opt, name_opt, workspace, container)
    if follow:
        names = names[-1:]
    shown = terminal_safe if sys.stdout.isatty() else str  # a pod's output must not drive the terminal
    for name in names:
        for line in client().pod.logs(name=name, tail=tail, follow=follow):
            sys.stdout.write(shown(line))
            if follow:
                sys.stdout.flush()


def _resource_pods(kind: str | None, type_opt: str | None, name_opt: str | None, workspace: str | None,
                   job: str | None) -> list[str]:
    """The names of a resource's pods (of one job, if given), oldest first; ENOENT when none."""
    if not kind and not (type_opt and name_opt):
        raise SyscallError("EINVAL", "logs: give a pod name, TYPE/NAME or -t TYPE -n NAME", field="pod")
    ref = ids.require(ids.resolve(kind, type_opt=type_opt, name_opt=name_opt, workspace=workspace), "logs")
    found = client().pod.list(workspace=ref.workspace or "public", type=ref.type, name=ref.name)
    found = [p for p in found if job is None or p["job"] == job]
    if not found:
        raise SyscallError("ENOENT", f"{ref.type} {ref.name!r} has no pods"
                           + (f" for job {job!r}" if job else "") + " yet")
    return [p["name"] for p in sorted(found, key=lambda p: p["created"])]


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
