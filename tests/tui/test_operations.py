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


@pytest.mark.asyncio
async def test_the_resource_table_shows_applied_resources_and_opens_one(kernel):
    app = DataOSApp(lambda: Shared(kernel), screen="operations")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, OperationsScreen) and app.screen.menu.option_count)
        screen = ops(app)
        assert "workflow" in screen.menu.counts
        screen.post_message(OpenResource({"type": "workflow", "name": "hello", "workspace": "public"}))
        await until(pilot, lambda: screen.resource_table.selected_key == "public/workflow/hello")
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
        assert screen.logs.pod == pod


@pytest.mark.asyncio
async def test_readonly_hides_and_refuses_delete(kernel):
    app = DataOSApp(lambda: Shared(kernel), screen="operations", readonly=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, OperationsScreen) and app.screen.menu.option_count)
        screen = ops(app)
        screen.post_message(OpenResource({"type": "policy", "name": "doomed", "workspace": None}))
        await until(pilot, lambda: screen.resource_table.selected_key
                    and screen.resource_table.selected_key.endswith("/policy/doomed"))
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
        await until(pilot, lambda: isinstance(app.screen, OperationsScreen) and app.screen.menu.option_count)
        screen = ops(app)
        screen.post_message(OpenResource({"type": "policy", "name": "doomed", "workspace": None}))
        await until(pilot, lambda: (screen.resource_table.selected_key or "").endswith("/policy/doomed"))
        key = screen.resource_table.selected_key
        screen.resource_table.focus()
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        await pilot.press("y")
        await until(pilot, lambda: key not in screen.resource_table.model.rows)
    assert not any(r["name"] == "doomed" for r in kernel.resource.list(type="policy"))


@pytest.mark.asyncio
async def test_filter_narrows_pods():
    app = fake_app(FakeLink(40))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, OperationsScreen) and app.screen.pod_table.row_count == 40)
        screen = ops(app)
        screen.pod_table.focus()
        await pilot.press("/", *"pod-0001")
        await until(pilot, lambda: screen.pod_table.row_count == 10)  # pod-00010 … pod-00019
        await pilot.press("enter")
        await pilot.pause(1.2)  # a poll keeps the filter
        assert screen.pod_table.row_count == 10


@pytest.mark.asyncio
async def test_5000_pods_stay_responsive():
    link = FakeLink(5000)
    app = fake_app(link)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, OperationsScreen) and app.screen.pod_table.row_count == 5000)
        screen = ops(app)
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


def test_snapshot(snap_compare, monkeypatch):
    monkeypatch.setattr(OperationsScreen, "clock", staticmethod(lambda: NOW))
    app = fake_app(FakeLink(12))

    async def settle(pilot):
        await until(pilot, lambda: isinstance(app.screen, OperationsScreen)
                    and app.screen.pod_table.row_count == 12 and app.screen.resource_table.row_count)
        app.screen.post_message(OpenResource({"type": "workflow", "name": "wf-1", "workspace": "public"}))
        await until(pilot, lambda: app.screen.resource_table.selected_key == "public/workflow/wf-1")
        await until(pilot, lambda: "wf-1" in str(app.screen.query_one("#yaml").render()))
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(120, 36), run_before=settle)
