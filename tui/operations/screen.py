"""Operations (k9s-like): resources by type, their YAML/runtime/history, live pods, logs, actions.

source (link, one poller every POLL_SECONDS) → cache (last good answers) → model (rows, filter,
diff) → renderer (DiffTable patches cells) → view (this screen). When the kernel stops answering
the tables keep their last good rows (the banner says so) and the next tick recovers by itself.
"""
from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import DataTable, Header, Input, OptionList, TabbedContent
from textual.worker import get_current_worker

from .. import tabs
from ..banner import KernelBanner
from ..footer import FittingFooter
from ..link import error_text
from ..messages import OpenResource
from .confirm import ConfirmModal
from .details import EVENT_PODS, DetailsPane, events, events_text
from .logs import LogsView
from .menu import ResourceMenu
from .model import (POD_COLUMNS, POD_KEEP, RESOURCE_COLUMNS, RESOURCE_KEEP, Clock, PodRows, resource_key,
                    resource_row, utcnow)
from .table import DiffTable, phase_style

WORKLOADS = {"workflow", "service", "worker"}
YOUNG_GC = 20000  # allocations between young collections while thousands of pods are shown
MUTATING = {"delete", "rerun", "pause", "kill"}
LOG_PODS = 20  # a resource's most recent pods whose logs are followed together


def _let_ui_run() -> None:
    time.sleep(0)  # releases the GIL: a waiting UI thread takes it now, not at the next switch


class OperationsScreen(Screen):
    POLL_SECONDS = 0.5  # a change is on screen within one tick plus one fetch: ≤ 1 s at 10,000 pods (bench)
    DETAILS_EVERY = 6  # ticks between refreshes of the selected resource's details (3 s)
    clock: Clock = staticmethod(utcnow)

    NARROW = 160  # columns below which the details go under the tables, not beside them
    DEFAULT_CSS = """
    OperationsScreen #ops-body { height: 1fr; }
    OperationsScreen #ops-work { width: 1fr; }
    OperationsScreen #ops-center { width: 1fr; }
    OperationsScreen #ops-right { width: 40%; }
    OperationsScreen.-narrow #ops-work { layout: vertical; }
    OperationsScreen.-narrow #ops-center { height: 3fr; }
    OperationsScreen.-narrow #ops-right { width: 1fr; height: 2fr; }
    OperationsScreen #ops-filter { dock: bottom; display: none; }
    OperationsScreen #ops-filter.-shown { display: block; }
    """
    BINDINGS = [  # most used first: a narrow footer shows the first that fit
        Binding("l", "logs", "Logs"),
        Binding("/", "filter", "Filter"),
        *tabs.BINDINGS,
        Binding("d", "delete", "Delete"),
        Binding("r", "rerun", "Rerun"),
        Binding("p", "pause", "Pause/Resume"),
        Binding("k", "kill", "Kill pod"),
        Binding("w", "wrap", "Wrap"),
        Binding("escape", "close_filter", "Close", show=False),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.types: list[str] = []
        self.resources: list[dict] = []   # last good resource.list
        self.by_key: dict[str, dict] = {}
        self.selected: str | None = None  # resource key in the details pane
        self.pending_open: dict | None = None
        self.filter_target: Any = None
        self._polling = False
        self._tick = 0
        self._pod_rows = PodRows()
        self._gc_threshold: tuple[int, ...] | None = None  # what to restore when the screen goes
        self._pod_history: dict[str, tuple[tuple, dict]] = {}  # pod → (what it looked like, pod.get)
        self._followed: set[str] = set()  # the pods whose logs are followed into the Logs tab

    # --- view -------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        yield KernelBanner()
        with Horizontal(id="ops-body"):
            yield ResourceMenu(id="ops-menu")
            with Horizontal(id="ops-work"):
                with Vertical(id="ops-center"):
                    resources = DiffTable(RESOURCE_COLUMNS, keep=RESOURCE_KEEP, id="ops-resources")
                    resources.border_title = "resources"
                    yield resources
                    pods = DiffTable(POD_COLUMNS, style=phase_style, threaded=True, keep=POD_KEEP, id="ops-pods")
                    pods.border_title = "pods"
                    yield pods
                with Vertical(id="ops-right"):
                    yield DetailsPane(id="ops-details")
        yield Input(placeholder="filter (substring); enter keeps it, escape clears", id="ops-filter")
        yield FittingFooter()

    def on_resize(self, event: Resize) -> None:
        self.set_class(event.size.width < self.NARROW, "-narrow")

    @property
    def menu(self) -> ResourceMenu:
        return self.query_one(ResourceMenu)

    @property
    def resource_table(self) -> DiffTable:
        return self.query_one("#ops-resources", DiffTable)

    @property
    def pod_table(self) -> DiffTable:
        return self.query_one("#ops-pods", DiffTable)

    @property
    def logs(self) -> LogsView:
        return self.query_one(LogsView)

    def on_mount(self) -> None:
        self.set_interval(self.POLL_SECONDS, self.poll)
        self.poll()
        self.resource_table.focus()

    def on_unmount(self) -> None:
        if self._gc_threshold:
            gc.set_threshold(*self._gc_threshold)

    # --- source: one poller -----------------------------------------------------------------
    def poll(self) -> None:
        if not self._polling:
            self._polling = True
            self.run_worker(self._poll(), group="poll")

    async def _poll(self) -> None:
        """One tick: fetch, then patch. The next tick is skipped (not queued) until this one's
        patch is on screen, so a slow kernel or a big patch never piles up work."""
        try:
            await self._fetch_and_show()
        except NoMatches:  # the screen is being taken down while this tick ran
            pass
        finally:
            self._polling = False

    async def _fetch_and_show(self) -> None:
        link = self.app.link
        try:
            if not self.types or self._tick % 10 == 0:
                self.types = sorted(t["type"] for t in await link.call("resource.types"))
            self._tick += 1
            resources, pods = await asyncio.gather(link.call("resource.list"), link.call("pod.list"))
        except Exception:  # noqa: BLE001 — keep the last good rows; the banner tells why
            return
        self.resources = resources or []
        now = self.clock()
        self.render_resources(now)
        if self.selected and self._tick % self.DETAILS_EVERY == 0 and not self._details_running():
            self._load_details(self.selected)  # the selected resource's details stay live, gently
        table, pod_rows = self.pod_table, self._pod_rows
        before = table.row_count
        # Rows and their diff are built in a thread (which lets go of the GIL every 1,000 pods so
        # a key press is not kept waiting); this task only applies the patch, in slices.
        await table.patch(lambda model: model.set_rows(pod_rows.rows(pods or [], now, pause=_let_ui_run)))
        if self.logs.source in self.by_key:
            self._follow_new_pods()
        if table.row_count - before > 1000:
            # Thousands of rows are long-lived objects: a full GC walking them every poll stalls
            # the UI ~100 ms (10,000 pods); park what exists now outside the collector. And each
            # tick's pod.list (10,000 dicts, freed by reference counts when the tick ends) must
            # not be promoted by young collections while it is alive: promoted objects are what
            # triggers full collections. A young generation larger than one tick does that.
            gc.freeze()
            if gc.get_threshold()[0] < YOUNG_GC:
                self._gc_threshold = self._gc_threshold or gc.get_threshold()
                gc.set_threshold(YOUNG_GC, *gc.get_threshold()[1:])

    # --- model → renderer ---------------------------------------------------------------------
    def render_resources(self, now=None) -> None:
        now = now or self.clock()
        counts: dict[str, int] = {}
        self.by_key = {}
        for r in self.resources:
            counts[r.get("type", "")] = counts.get(r.get("type", ""), 0) + 1
            self.by_key[resource_key(r)] = r
        types = sorted(set(self.types) | set(counts))
        self.menu.show(types, counts)
        if self.pending_open and self.pending_open.get("type") in types:
            self.menu.select_type(self.pending_open["type"])
        kind = self.menu.selected_type
        table = self.resource_table
        table.border_title = f"resources: {kind or '-'}"
        table.set_rows((resource_key(r), resource_row(r, now)) for r in self.resources if r.get("type") == kind)
        if self.pending_open and table.select_key(resource_key(self.pending_open)):
            self.pending_open = None
        if self.selected is None and table.selected_key:
            self.show_details(table.selected_key)

    @on(OptionList.OptionHighlighted, "#ops-menu")
    def _type_changed(self) -> None:
        self.render_resources()

    @on(DataTable.RowHighlighted, "#ops-resources")
    def _resource_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key is not None and event.row_key.value != self.selected:
            self.show_details(event.row_key.value)

    def on_open_resource(self, message: OpenResource) -> None:
        self.pending_open = dict(message.resource)
        self.render_resources()

    # --- details ------------------------------------------------------------------------------
    def show_details(self, key: str) -> None:
        self.selected = key
        self._load_details(key)

    @work(exclusive=True, group="details")
    async def _load_details(self, key: str) -> None:
        r = self.by_key.get(key)
        if r is None:
            return
        link, req = self.app.link, {"type": r["type"], "name": r["name"], "workspace": r.get("workspace")}
        resource = runtime = history = None
        pods: list[dict] = []
        more = 0
        try:
            resource = await link.call("resource.get", **req)
            history = await link.call("resource.history", **req)
            if r["type"] in WORKLOADS:
                runtime = await link.call("runtime.get", **req)
                every = sorted((runtime or {}).get("pods") or [], key=lambda p: (p.get("created") or "", p["name"]))
                recent, more = every[-EVENT_PODS:], max(0, len(every) - EVENT_PODS)
                pods = await self._pods_with_history(recent)
        except Exception:  # noqa: BLE001
            pass
        if self.selected == key:
            shown = events_text(events(resource or r, history, pods), self.clock(), more)
            self.query_one(DetailsPane).show(resource or r, runtime, history, shown)

    async def _pods_with_history(self, pods: list[dict]) -> list[dict]:
        """`pod.get` (the pod with its phase history) for each pod, asked again only for a pod
        whose phase or times changed since it was last asked: a refresh usually asks nothing."""
        def seen(p: dict) -> tuple:
            return tuple(p.get(k) for k in ("phase", "started", "finished", "exit_code", "reason"))
        cache = self._pod_history
        stale = [p for p in pods if p["name"] not in cache or cache[p["name"]][0] != seen(p)]
        got = await asyncio.gather(*(self.app.link.call("pod.get", name=p["name"]) for p in stale),
                                   return_exceptions=True)
        for p, answer in zip(stale, got):
            if isinstance(answer, dict):  # a pod gone meanwhile is left out
                cache[p["name"]] = (seen(p), answer)
        names = {p["name"] for p in pods}
        for name in [n for n in cache if n not in names]:
            del cache[name]
        return [cache[p["name"]][1] for p in pods if p["name"] in cache]

    def _details_running(self) -> bool:
        return any(w.node is self and w.group == "details" and w.is_running for w in self.workers)

    # --- logs ---------------------------------------------------------------------------------
    @on(DataTable.RowSelected, "#ops-pods")
    def _pod_selected(self, event: DataTable.RowSelected) -> None:
        self.follow(event.row_key.value)

    def action_logs(self) -> None:
        """The pod under the cursor's logs when the pods table has the focus, else the selected
        resource's: all its pods', each line prefixed with job/pod."""
        pod = self.pod_table.selected_key
        if self.focused is self.pod_table and pod:
            self.follow(pod)
        elif (r := self._selected_resource()) is not None:
            self.follow_resource(r)
        else:
            self.query_one(DetailsPane).set_tab("tab-logs")

    def follow(self, pod: str) -> None:
        self._cancel_logs()
        self.logs.reset(pod, f"pod {pod}")
        self.logs.hint(f"no output from {pod} yet")
        self.query_one(DetailsPane).set_tab("tab-logs")
        self._follow(pod, pod, "")

    def follow_resource(self, r: dict) -> None:
        key = resource_key(r)
        self._cancel_logs()
        self.logs.reset(key, f"{r['type']} {r['name']}")
        self.query_one(DetailsPane).set_tab("tab-logs")
        pods = self._follow_new_pods()
        if pods > LOG_PODS:
            self.logs.border_title += f" (its latest {LOG_PODS} of {pods} pods)"
        self.logs.hint(f"no output yet from its {pods} pod{'' if pods == 1 else 's'}" if pods else
                       f"no pods yet: {r['type']} {r['name']} has not run" if r.get("type") in WORKLOADS else
                       f"no pods: a {r['type']} runs none")

    def _follow_new_pods(self) -> int:
        """Follow the pods of the resource whose logs are shown that are not followed yet (a new
        run's pods join as they come); how many pods it has."""
        key = self.logs.source
        if key not in self.by_key:
            return 0
        pods = [(name, row[4]) for name, row in self.pod_table.model.rows.items() if row[3] == key]
        for name, job in pods[-LOG_PODS:]:
            if name not in self._followed:
                self._followed.add(name)
                self._follow(key, name, f"{job}/{name} " if job else f"{name} ")
        return len(pods)

    def _cancel_logs(self) -> None:
        self._followed = set()
        self.workers.cancel_group(self, "logs")

    @work(thread=True, group="logs")
    def _follow(self, source: str, pod: str, prefix: str) -> None:
        worker = get_current_worker()
        try:
            for line in self.app.link.stream("pod.logs", name=pod, follow=True, tail=1000):
                if worker.is_cancelled:
                    return
                self.app.call_from_thread(self._log_lines, source, [prefix + str(line).rstrip("\n")])
        except Exception as e:  # noqa: BLE001
            if not worker.is_cancelled:
                self.app.call_from_thread(self._log_lines, source, [f"{prefix}-- logs ended: {e}"])

    def _log_lines(self, source: str, lines: list[str]) -> None:
        if self.logs.source == source:
            self.logs.add_lines(lines)

    def action_tab(self, by: int) -> None:
        """The details' next (or previous) tab: YAML, Runtime, History, Events, Logs."""
        tabs.step(self.query_one("#ops-tabs", TabbedContent), by)

    def action_wrap(self) -> None:
        self.logs.toggle_wrap()

    # --- filter -------------------------------------------------------------------------------
    def action_filter(self) -> None:
        focused = self.focused
        target = focused if isinstance(focused, (DiffTable, LogsView)) else self.resource_table
        self.filter_target = target
        box = self.query_one("#ops-filter", Input)
        box.value = target.needle
        box.add_class("-shown")
        box.focus()

    @on(Input.Changed, "#ops-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        target = self.filter_target
        if isinstance(target, DiffTable):
            target.set_filter(event.value)
        elif isinstance(target, LogsView):
            target.search(event.value)

    @on(Input.Submitted, "#ops-filter")
    def _filter_done(self) -> None:
        self.query_one("#ops-filter", Input).remove_class("-shown")
        if self.filter_target is not None:
            self.filter_target.focus()

    def action_close_filter(self) -> None:
        box = self.query_one("#ops-filter", Input)
        if box.has_class("-shown"):
            box.value = ""
            self._filter_done()

    # --- actions ------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action in MUTATING and self.app.readonly:
            return False  # hidden from the footer and not run
        return True

    def _selected_resource(self) -> dict | None:
        key = self.resource_table.selected_key
        return self.by_key.get(key) if key else None

    def _confirm_then(self, what: str, verb: str, done: str, syscall: str, /, **req: Any) -> None:
        """Ask "`Verb` `what`?"; on yes run the syscall and say `done` `what` (or why not)."""
        async def answered(yes: bool | None) -> None:
            if not yes:
                return
            try:
                await self.app.link.call(syscall, **req)
                self.notify(f"{done} {what}")
            except Exception as e:  # noqa: BLE001
                self.notify(f"Could not {verb.lower()} {what}: {error_text(e)}", severity="error")
            self.poll()
        self.app.push_screen(ConfirmModal(f"{verb} {what}?"), answered)

    def action_delete(self) -> None:
        r = self._selected_resource()
        if self.app.refused() or r is None:
            return
        self._confirm_then(f"{r['type']} {r['name']} ({r.get('workspace') or 'instance'})", "Delete", "Deleted",
                           "resource.delete", type=r["type"], name=r["name"], workspace=r.get("workspace"))

    def action_rerun(self) -> None:
        r = self._selected_resource()
        if self.app.refused() or r is None or r.get("type") not in WORKLOADS:
            return
        self._confirm_then(f"{r['type']} {r['name']}", "Rerun", "Started a new run of", "runtime.control",
                           type=r["type"], name=r["name"], action="rerun", workspace=r.get("workspace"))

    def action_pause(self) -> None:
        r = self._selected_resource()
        if self.app.refused() or r is None or r.get("type") not in WORKLOADS:
            return
        runtime = str((r.get("status") or {}).get("runtime") or "")
        verb, done = ("Resume", "Resumed") if "pause" in runtime else ("Pause", "Paused")
        self._confirm_then(f"{r['type']} {r['name']}", verb, done, "runtime.control",
                           type=r["type"], name=r["name"], action=verb.lower(), workspace=r.get("workspace"))

    def action_kill(self) -> None:
        pod = self.pod_table.selected_key
        if self.app.refused() or not pod:
            return
        self._confirm_then(f"pod {pod}", "Kill", "Killed", "pod.kill", name=pod)
