"""`logs`: a pod's output, or a resource's pods' — a workflow's latest run's, every job's,
each line prefixed `[JOB/POD]` as `kubectl logs --prefix` does; with -f, followed until the run ends."""
from __future__ import annotations

import sys
from typing import Any, Optional

import typer

from syscalls.errors import SyscallError

from userlib.output import terminal_safe
from ..session import client
from . import identifiers as ids
from .options import WORKSPACE


def logs(pod: Optional[str] = typer.Argument(None, help="A pod name (see `dataos pods`), or TYPE/NAME."),
         type_opt: Optional[str] = ids.TYPE, name_opt: Optional[str] = ids.NAME,
         workspace: Optional[str] = WORKSPACE,
         follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing until the pods (the run) end."),
         tail: Optional[int] = typer.Option(None, "--tail", help="Only the last N lines (of each pod)."),
         container: Optional[str] = typer.Option(None, "--container", "-c",
                                                 help="For a workflow: the job whose pods to show."),
         prefix: Optional[bool] = typer.Option(None, "--prefix/--no-prefix",
                                               help="Start each line with [JOB/POD] (default: when several pods "
                                                    "may show).")) -> None:
    """A pod's output, or a resource's (TYPE/NAME or -t TYPE -n NAME): a workflow's latest run's
    pods, every job's, oldest first (or a service's pods); with -f, all of them until the run ends."""
    if pod and "/" not in pod:
        label = _label(client().pod.get(name=pod)) if prefix else ""
        _write(client().pod.logs(name=pod, tail=tail, follow=follow), label, flush=follow)
        return
    if not pod and not (type_opt and name_opt):
        raise SyscallError("EINVAL", "logs: give a pod name, TYPE/NAME or -t TYPE -n NAME", field="pod")
    ref = ids.require(ids.resolve(pod, type_opt=type_opt, name_opt=name_opt, workspace=workspace), "logs")
    source = LogSource(ref.type, ref.name, ref.workspace, container)
    if follow:
        _follow(source, tail, prefix)
        return
    found, _ = source.look()
    if not found:
        raise source.none()
    labelled = source.several(found) if prefix is None else prefix
    for p in found:
        _write(client().pod.logs(name=p["name"], tail=tail), _label(p) if labelled else "")


class LogSource:
    """The pods `logs TYPE/NAME` shows, oldest first: a workflow's latest run's (the one seen
    first, while following), else all the resource's; of one job, if given."""

    def __init__(self, type_name: str, name: str, workspace: str | None, job: str | None) -> None:
        self.type, self.name, self.workspace, self.job = type_name, name, workspace, job
        self.run: dict[str, Any] | None = None

    def look(self) -> tuple[list[dict[str, Any]], bool]:
        """The pods now, and whether no more will come (the run has ended)."""
        if self.type != "workflow":
            found, done = client().pod.list(workspace=self.workspace or "public", type=self.type, name=self.name), False
        else:
            rt = client().runtime.get(type=self.type, name=self.name, workspace=self.workspace)
            latest = rt.get("run")
            if self.run is None or (latest and latest["id"] == self.run["id"]):
                self.run = latest
            if self.run is None:
                return [], False
            found = [p for p in rt["pods"] if p["labels"].get("dataos.io/run") == str(self.run["id"])]
            done = bool(self.run["finished"]) or latest["id"] != self.run["id"]
        found = [p for p in found if self.job is None or p["job"] == self.job]
        return sorted(found, key=lambda p: p["created"]), done

    def several(self, found: list[dict[str, Any]], following: bool = False) -> bool:
        """May lines of more than one pod show? (A service's, followed, restart in new pods.)"""
        return len(found) > 1 or (self.job is None and self.run is not None and len(self.run["jobs"]) > 1) \
            or (following and self.type != "workflow")

    def none(self) -> SyscallError:
        return SyscallError("ENOENT", f"{self.type} {self.name!r} has no pods"
                            + (f" for job {self.job!r}" if self.job else "")
                            + (f" in run {self.run['id']}" if self.run else "") + " yet")


FOLLOW_EVERY = 0.5  # seconds between looks for new pods while following


def _follow(source: LogSource, tail: int | None, labelled: bool | None) -> None:
    """Print the pods' lines as they come, each pod's from its own stream, new pods' as they
    appear, until no more will come and every stream has ended (a service's: never). A workflow
    may have no pods yet: they are waited for. `labelled` None: when several pods may show."""
    import queue
    import threading
    import time
    lines: queue.Queue = queue.Queue()
    seen: set[str] = set()
    streams = 0

    def pump(p: dict[str, Any]) -> None:
        label = _label(p) if labelled else ""
        try:
            for line in client().pod.logs(name=p["name"], tail=tail, follow=True):
                lines.put(_prefixed(label, line))
        except SyscallError as e:
            lines.put(e)
        finally:
            lines.put(None)

    first = True
    while True:
        found, done = source.look()
        if (first and not found and source.type != "workflow") or (done and not found and not seen):
            raise source.none()
        if labelled is None and found:
            labelled = source.several(found, following=True)
        for p in found:
            if p["name"] in seen:
                continue
            seen.add(p["name"])
            if first and source.type != "workflow" and p["phase"] in ("Succeeded", "Failed", "Stopped", "Unknown"):
                continue  # a service's pods that ended before: not followed
            streams += 1
            threading.Thread(target=pump, args=(p,), daemon=True).start()
        first = False
        until = time.monotonic() + FOLLOW_EVERY
        while (left := until - time.monotonic()) > 0:
            try:
                item = lines.get(timeout=left)
            except queue.Empty:
                break
            if item is None:
                streams -= 1
            elif isinstance(item, SyscallError):
                raise item
            else:
                sys.stdout.write(item)
                sys.stdout.flush()
        if done and streams == 0 and lines.empty():
            return


def _label(pod: dict[str, Any]) -> str:
    return f"{pod['job'] or pod['labels'].get('dataos.io/replica') or '-'}/{pod['name']}"


def _prefixed(label: str, line: str) -> str:
    """A line of a pod's output as shown: terminal-safe on a terminal, prefixed `[label] ` if labelled."""
    shown = terminal_safe(line) if sys.stdout.isatty() else line  # a pod's output must not drive the terminal
    if not label:
        return shown
    return f"[{label}] {shown}" + ("" if shown.endswith("\n") else "\n")


def _write(stream: Any, label: str, flush: bool = False) -> None:
    for line in stream:
        sys.stdout.write(_prefixed(label, line))
        if flush:
            sys.stdout.flush()
