"""Operations against an embedded kernel (resources, a pod that prints, delete with confirmation,
read-only) and against a fake link serving thousands of pods (filter, responsiveness, snapshot)."""
from __future__ import annotations

import asyncio
import datetime as dt
import time

import pytest

from tui.app import DataOSApp
from tui.messages import OpenResource
from tui.operations.confirm import ConfirmModal
from tui.operations.details import DetailsPane, events, events_text
from tui.operations.screen import OperationsScreen
from pilotkit import until

NOW = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.timezone.utc)


class Shared:
    """One client on the module's kernel; the app closing its link leaves the kernel running."""

    def __init__(self, client) -> None:
        self.client = client

    def call(self, name, request=None):
        return self.client.call(name, request)

    def close(self) -> None:
        pass


class FakeLink:
    """The Link interface (async call, stream) over fixed data: `n` pods, a few resources."""

    readonly = False
    healthy = True

    def __init__(self, n: int = 20) -> None:
        phases = ("Running", "Pending", "Succeeded", "Failed")
        self.pods = {f"pod-{i:05d}": {
            "name": f"pod-{i:05d}", "workspace": "public", "resource": f"public/workflow/wf-{i % 7}",
            "job": f"job-{i % 3}", "phase": phases[i % 4], "labels": {},
            "created": (NOW - dt.timedelta(seconds=30 + 97 * i)).isoformat(), "started": None,
            "finished": None, "exit_code": None, "reason": None, "node": "local"} for i in range(n)}
        self.resources = [
            {"name": f"wf-{i}", "version": "v1", "type": "workflow", "workspace": "public", "owner": "op",
             "status": {"aggregateStatus": "active", "runtime": "running" if i % 2 else "succeeded",
                        "created": (NOW - dt.timedelta(hours=i + 1)).isoformat()}} for i in range(7)
        ] + [{"name": "default", "version": "v1", "type": "cluster", "workspace": "public", "owner": "system",
              "status": {"aggregateStatus": "active", "created": (NOW - dt.timedelta(days=3)).isoformat()}}]
        self.calls: list[str] = []

    def answer(self, name: str, req: dict):
        self.calls.append(name)
        if name == "resource.types":
            return [{"type": t, "level": "workspace", "versions": ["v1"], "summary": ""}
                    for t in ("cluster", "policy", "service", "workflow")]
        if name == "resource.list":
            return list(self.resources)
        if name == "pod.list":
            return [dict(p) for p in self.pods.values()]
        if name == "resource.get":
            return next(r for r in self.resources if r["name"] == req["name"])
        if name == "resource.history":
            return [{"uid": "u", "generation": 1, "applied": NOW.isoformat(), "by": "op", "action": "created",
                     "manifest": {}}]
        if name == "runtime.get":
            return {"type": "workflow", "name": req["name"], "workspace": "public", "runtime": "running",
                    "progress": "1/2", "run": {"jobs": [{"name": "job-0", "state": "running"}]},
                    "replicas": None, "message": None, "pods": []}
        return {}

    async def call(self, name: str, /, **req):
        return await asyncio.to_thread(self.answer, name, req)

    def stream(self, name: str, /, **req):
        yield from ("line one", "line two")

    def close(self) -> None:
        pass


def fake_app(link: FakeLink, readonly: bool = False) -> DataOSApp:
    app = DataOSApp(lambda: None, screen="operations", readonly=readonly)
    app.link = link
    return app


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    import syscalls
    tmp = tmp_path_factory.mktemp("ops")
    op = syscalls.connect(f"embedded://{tmp}/state")
    op.resource.apply(manifests=[
        {"name": "hello", "version": "v1", "type": "workflow", "workflow": {"dag": [
            {"name": "say", "spec": {"stack": "container",
                                     "stackSpec": {"command": ["sh", "-c", "echo hi; sleep 30"]}}}]}},
        {"name": "doomed", "version": "v1", "type": "policy", "policy": {"access": {
            "subjects": {"tags": [["roles:id:nobody"]]}, "predicates": ["read"],
            "objects": {"paths": ["/nothing/*"]}}}}])
    try:
        yield op
    finally:
        op.close()


def ops(app) -> OperationsScreen:
    assert isinstance(app.screen, OperationsScreen)
    return app.screen


async def with_pods(app, pilot, n: int) -> OperationsScreen:
    """Wait until Operations shows `n` pods."""
    await until(pilot, lambda: isinstance(app.screen, OperationsScreen) and app.screen.pod_table.row_count == n)
    return ops(app)


async def opened(app, pilot, kind: str, name: str, workspace: str | None = "public") -> OperationsScreen:
    """Wait for Operations, open a resource in it (as Atlas or the palette does) and wait until
    its row is selected."""
    await until(pilot, lambda: isinstance(app.screen, OperationsScreen) and app.screen.menu.option_count)
    screen = ops(app)
    screen.post_message(OpenResource({"type": kind, "name": name, "workspace": workspace}))
    await until(pilot, lambda: (screen.resource_table.selected_key or "").endswith(f"/{kind}/{name}"))
    return screen


@pytest.mark.asyncio
async def test_the_resource_table_shows_applied_resources_and_opens_one(kernel):
    app = DataOSApp(lambda: Shared(kernel), screen="operations")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await opened(app, pilot, "workflow", "hello")
        assert "workflow" in screen.menu.counts
        assert screen.resource_table.selected_key == "public/workflow/hello"
        assert screen.resource_table.model.rows["public/workflow/hello"][:3] == ("hello", "workflow", "public")
        await until(pilot, lambda: "name: hello" in screen.query_one("#yaml").render().plain
                    if hasattr(screen.query_one("#yaml").render(), "plain") else
                    "name: hello" in str(screen.query_one("#yaml").render()))


@pytest.mark.asyncio
async def test_following_logs_shows_a_line_the_pod_prints(kernel):
    app = DataOSApp(lambda: Shared(kernel), screen="operations")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, OperationsScreen)
                    and any(k.startswith("hello-say") for k in app.screen.pod_table.model.rows))
        screen = ops(app)
        pod = next(k for k in screen.pod_table.model.rows if k.startswith("hello-say"))
        screen.pod_table.focus()
        screen.pod_table.select_key(pod)
        await pilot.press("l")
        await until(pilot, lambda: "hi" in screen.logs.lines_buffer)
        assert screen.logs.source == pod


@pytest.mark.asyncio
async def test_readonly_hides_and_refuses_delete(kernel):
    app = DataOSApp(lambda: Shared(kernel), screen="operations", readonly=True)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await opened(app, pilot, "policy", "doomed", None)
        assert screen.check_action("delete", ()) is False
        shown = {b.binding.action for b in app.active_bindings.values() if b.enabled}
        assert "delete" not in shown and "kill" not in shown
        screen.resource_table.focus()
        await pilot.press("d")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, ConfirmModal)
        screen.action_delete()  # called directly, it is refused too
        await pilot.pause(0.2)
        assert not isinstance(app.screen, ConfirmModal)
    assert any(r["name"] == "doomed" for r in kernel.resource.list(type="policy"))


@pytest.mark.asyncio
async def test_delete_with_confirmation_removes_a_resource(kernel):
    app = DataOSApp(lambda: Shared(kernel), screen="operations")
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await opened(app, pilot, "policy", "doomed", None)
        key = screen.resource_table.selected_key
        screen.resource_table.focus()
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("y")
        await until(pilot, lambda: key not in screen.resource_table.model.rows)
    assert not any(r["name"] == "doomed" for r in kernel.resource.list(type="policy"))


def test_events_list_generations_pods_phases_and_restarts_newest_last():
    resource = {"type": "workflow", "name": "wf"}
    history = [{"generation": 1, "applied": "2026-01-01T11:00:00Z", "by": "op", "action": "created"},
               {"generation": 2, "applied": "2026-01-01T11:30:00Z", "by": "ana", "action": "configured"}]
    labels = {"dataos.io/run": "1", "dataos.io/job": "say"}
    pods = [
        {"name": "wf-say-1-2", "job": "say", "labels": labels, "created": "2026-01-01T11:51:00Z",
         "history": [{"time": "2026-01-01T11:51:01Z", "phase": "Running", "previous": None}]},
        {"name": "wf-say-1-1", "job": "say", "labels": labels, "created": "2026-01-01T11:50:00Z",
         "history": [{"time": "2026-01-01T11:50:00Z", "phase": "Pending", "previous": None},
                     {"time": "2026-01-01T11:50:02Z", "phase": "Running", "previous": "Pending"},
                     {"time": "2026-01-01T11:50:30Z", "phase": "Failed", "previous": "Running",
                      "exit_code": 3, "reason": "Error"}]}]
    got = events(resource, history, pods)
    assert [(kind, obj) for _, kind, obj, _ in got] == [
        ("Applied", "workflow/wf"), ("Applied", "workflow/wf"),
        ("Created", "pod/wf-say-1-1"), ("Pending", "pod/wf-say-1-1"), ("Running", "pod/wf-say-1-1"),
        ("Failed", "pod/wf-say-1-1"), ("Created", "pod/wf-say-1-2"), ("Restarted", "pod/wf-say-1-2"),
        ("Running", "pod/wf-say-1-2")]
    assert got[1][3] == "generation 2 configured by ana"
    assert got[5][3] == "Running → Failed, exit code 3 (Error)"
    assert got[7][3] == "job say attempt 2"
    text = events_text(got, NOW, more=5)
    lines = text.splitlines()
    assert lines[0].split() == ["TIME", "AGE", "KIND", "OBJECT", "MESSAGE"]
    assert lines[1] == "(5 older pods not shown)"
    assert lines[-1].split()[1:4] == ["8m", "Running", "pod/wf-say-1-2"]
    deleted = events(resource, [{"generation": 2, "applied": "2026-01-01T12:00:00Z", "by": "op",
                                 "action": "deleted"}], [])
    assert deleted[0][1:] == ("Deleted", "workflow/wf", "generation 2 deleted by op")
    assert events_text([], NOW) == "(no events)"


@pytest.mark.asyncio
async def test_events_tab_shows_the_applied_generation_and_a_pods_phase(kernel):
    app = DataOSApp(lambda: Shared(kernel), screen="operations")
    async with app.run_test(size=(160, 40)) as pilot:
        screen = await opened(app, pilot, "workflow", "hello")
        screen.query_one(DetailsPane).set_tab("tab-events")

        def shown() -> str:
            return str(screen.query_one("#events").render())
        await until(pilot, lambda: "generation 1 created" in shown()
                    and any("pod/hello-say" in line and "Running" in line and "Running" in line.split()[2]
                            for line in shown().splitlines()))
        assert shown().splitlines()[0].split()[:3] == ["TIME", "AGE", "KIND"]


@pytest.mark.asyncio
async def test_filter_narrows_pods_keeps_the_cursor_on_its_pod_and_clearing_restores_the_order():
    app = fake_app(FakeLink(40))
    async with app.run_test(size=(120, 40)) as pilot:
        table = (await with_pods(app, pilot, 40)).pod_table
        table.focus()
        table.select_key("pod-00015")
        await pilot.press("/", *"pod-0001")
        await until(pilot, lambda: table.row_count == 10 and table.model.needle == "pod-0001")  # pod-00010 … 19
        assert table.selected_key == "pod-00015"
        await pilot.press("enter")
        await pilot.pause(1.2)  # a poll keeps the filter
        assert table.row_count == 10
        await pilot.press("/", "escape")  # clears it: the 30 other rows come back where they were
        await until(pilot, lambda: table.row_count == 40 and not table.model.needle)
        order = [table.coordinate_to_cell_key((i, 0)).row_key.value for i in range(40)]
        assert order == sorted(order)
        assert table.selected_key == "pod-00015"


@pytest.mark.asyncio
async def test_a_phase_change_is_drawn_in_its_row():
    link = FakeLink(40)
    app = fake_app(link)
    async with app.run_test(size=(120, 40)) as pilot:
        table = (await with_pods(app, pilot, 40)).pod_table

        def drawn(row: int) -> str:  # the line as the screen gets it (cached renders included)
            return table.render_line(row + 1 - int(table.scroll_y)).text
        assert "Pending" in drawn(1)
        link.pods["pod-00001"]["phase"] = "Failed"
        await until(pilot, lambda: "Failed" in drawn(1))
        assert "pod-00001" in drawn(1) and "Succeeded" in drawn(2)
        link.pods["pod-00003"]["phase"] = "Terminating"  # longer than any phase shown: the column grows
        await until(pilot, lambda: "Terminating" in drawn(3))


@pytest.mark.asyncio
async def test_5000_pods_stay_responsive():
    link = FakeLink(5000)
    app = fake_app(link)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await with_pods(app, pilot, 5000)
        screen.pod_table.focus()
        polls = link.calls.count("pod.list")
        for i in range(0, 5000, 50):  # 100 pods change phase while we type
            link.pods[f"pod-{i:05d}"]["phase"] = "Failed"
        start = time.monotonic()
        await pilot.press("/", *"pod-0499")
        await until(pilot, lambda: screen.pod_table.row_count == 10, timeout=5)
        assert time.monotonic() - start < 3
        await until(pilot, lambda: link.calls.count("pod.list") > polls + 1)
        assert screen.pod_table.model.rows["pod-04950"][1] == "Failed"


SIZES = [(80, 24), (120, 40), (200, 60)]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot(snap_compare, monkeypatch, size):
    monkeypatch.setattr(OperationsScreen, "clock", staticmethod(lambda: NOW))
    app = fake_app(FakeLink(12))

    async def settle(pilot):
        await until(pilot, lambda: isinstance(app.screen, OperationsScreen)
                    and app.screen.pod_table.row_count == 12 and app.screen.resource_table.row_count)
        app.screen.post_message(OpenResource({"type": "workflow", "name": "wf-1", "workspace": "public"}))
        await until(pilot, lambda: app.screen.resource_table.selected_key == "public/workflow/wf-1")
        await until(pilot, lambda: "wf-1" in str(app.screen.query_one("#yaml").render()))
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=size, run_before=settle)
