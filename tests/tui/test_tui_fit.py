"""The TUI at the size of a terminal: at 80×24 table columns are left out whole rather than cut, the
footer shows the keys that fit, the header names the screen, the kernel-down banner wraps; `l` on a
resource follows all its pods' logs; an action's toast says what happened in words."""
from __future__ import annotations

import pytest
from pilotkit import until
from test_operations import NOW, FakeLink, fake_app

from syscalls.errors import SyscallError
from tui.app import DataOSApp
from tui.banner import KernelBanner
from tui.footer import FittingFooter
from tui.messages import OpenResource
from tui.operations.confirm import ConfirmModal
from tui.operations.details import DetailsPane
from tui.operations.screen import OperationsScreen


class LongNames(FakeLink):
    """Names as long as real ones: workflows `orders-daily-N`, pods named after their workflow."""

    def __init__(self) -> None:
        super().__init__(12)
        for r in self.resources:
            if r["type"] == "workflow":
                r["name"] = r["name"].replace("wf-", "orders-daily-")
        for p in self.pods.values():
            p["resource"] = p["resource"].replace("wf-", "orders-daily-")
            p["name"] = p["name"].replace("pod-", "orders-daily-build-5881cbf7-")
        self.pods = {p["name"]: p for p in self.pods.values()}


def drawn(widget) -> list[str]:
    """The widget's lines as the screen shows them."""
    return [widget.render_line(y).text for y in range(widget.size.height)]


async def settled(app, pilot, name: str = "orders-daily-1") -> OperationsScreen:
    await until(pilot, lambda: isinstance(app.screen, OperationsScreen) and app.screen.pod_table.row_count == 12
                and app.screen.resource_table.row_count)
    app.screen.post_message(OpenResource({"type": "workflow", "name": name, "workspace": "public"}))
    await until(pilot, lambda: app.screen.resource_table.selected_key == f"public/workflow/{name}")
    await pilot.pause(0.2)
    return app.screen


@pytest.mark.asyncio
async def test_at_80_columns_tables_leave_columns_out_rather_than_cut_names_or_states(monkeypatch):
    monkeypatch.setattr(OperationsScreen, "clock", staticmethod(lambda: NOW))
    app = fake_app(LongNames())
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await settled(app, pilot)
        resources = "\n".join(drawn(screen.resource_table))
        assert "orders-daily-0 " in resources and "succeeded" in resources and "RUNTIME" in resources
        assert "TYPE" not in resources  # the menu says it: the first column to go
        pods = "\n".join(drawn(screen.pod_table))
        assert "orders-daily-build-5881cbf7-00002 " in pods and "Succeeded" in pods and "AGE" in pods
        assert "RESOURCE" not in pods
        assert "dataos · Operations" in app.screen.query_one("HeaderTitle").render().plain
        footer = app.screen.query_one(FittingFooter)
        keys = [k.key for k in footer.children]
        assert keys[:2] == ["l", "slash"] and "ctrl+p" in keys
        assert sum(k.outer_size.width for k in footer.children) <= 80  # every hint shown is whole
        await pilot.resize_terminal(200, 60)
        await until(pilot, lambda: "RESOURCE" in "\n".join(drawn(screen.pod_table)))
        assert "public/workflow/orders-daily-2" in "\n".join(drawn(screen.pod_table))


@pytest.mark.asyncio
async def test_l_on_a_resource_follows_all_its_pods_logs_each_line_prefixed_with_job_and_pod():
    app = fake_app(FakeLink(12))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, OperationsScreen) and app.screen.pod_table.row_count == 12)
        screen = app.screen
        screen.query_one(DetailsPane).set_tab("tab-logs")
        await until(pilot, lambda: "press l" in "\n".join(drawn(screen.logs)))  # never an empty box
        app.screen.post_message(OpenResource({"type": "workflow", "name": "wf-1", "workspace": "public"}))
        await until(pilot, lambda: screen.resource_table.selected_key == "public/workflow/wf-1")
        screen.resource_table.focus()
        await pilot.press("l")
        await until(pilot, lambda: len(screen.logs.lines_buffer) == 4)  # wf-1's pods: pod-00001 and pod-00008
        assert sorted(screen.logs.lines_buffer) == ["job-1/pod-00001 line one", "job-1/pod-00001 line two",
                                                    "job-2/pod-00008 line one", "job-2/pod-00008 line two"]
        assert screen.logs.border_title == "logs workflow wf-1"


@pytest.mark.asyncio
async def test_l_on_a_workflow_that_has_not_run_says_so():
    link = FakeLink(12)
    link.resources.append({"name": "fresh", "version": "v1", "type": "workflow", "workspace": "public",
                           "owner": "op", "status": {"created": NOW.isoformat()}})
    app = fake_app(link)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, OperationsScreen) and app.screen.pod_table.row_count == 12)
        screen = app.screen
        screen.post_message(OpenResource({"type": "workflow", "name": "fresh", "workspace": "public"}))
        await until(pilot, lambda: screen.resource_table.selected_key == "public/workflow/fresh")
        await pilot.press("l")
        await until(pilot, lambda: "no pods yet" in "\n".join(drawn(screen.logs)))


@pytest.mark.asyncio
async def test_pausing_says_what_was_paused_in_words():
    app = fake_app(FakeLink(12))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, OperationsScreen) and app.screen.resource_table.row_count)
        screen = app.screen
        screen.post_message(OpenResource({"type": "workflow", "name": "wf-1", "workspace": "public"}))
        await until(pilot, lambda: screen.resource_table.selected_key == "public/workflow/wf-1")
        screen.resource_table.focus()
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, ConfirmModal))
        assert app.screen.question == "Pause workflow wf-1?"
        await pilot.press("y")
        await until(pilot, lambda: any(n.message == "Paused workflow wf-1" for n in app._notifications))


class DownClient:
    def call(self, name, request=None):
        raise SyscallError("EUNAVAIL", "cannot reach the kernel at http://127.0.0.1:61234 (connection refused)")

    def close(self) -> None:
        pass


@pytest.mark.asyncio
async def test_the_kernel_down_banner_wraps_at_80_columns():
    app = DataOSApp(lambda: DownClient(), screen="atlas")
    async with app.run_test(size=(80, 24)) as pilot:
        banner = None

        def shown() -> bool:
            nonlocal banner
            banner = next(iter(app.screen.query(KernelBanner)), None)
            return banner is not None and banner.has_class("-down")
        await until(pilot, shown)
        await pilot.pause(0.1)
        text = " ".join(line.strip() for line in drawn(banner))
        assert "connection refused). Showing the last good data; retrying." in text
        assert banner.size.height >= 2 and banner.size.width <= 80
        assert "dataos · Atlas" in app.screen.query_one("HeaderTitle").render().plain



@pytest.mark.asyncio
async def test_atlas_history_columns_line_up_with_their_headers():
    from test_atlas_snapshot import FixedClient, _open_people

    from tui.atlas.page import DatasetPage
    app = DataOSApp(lambda: FixedClient(), screen="atlas")
    async with app.run_test(size=(120, 40)) as pilot:
        await _open_people(pilot)
        await pilot.press("left_square_bracket")  # Schema → History
        history = app.screen.query_one(DatasetPage).query_one("#history")
        await until(pilot, lambda: history.size.height > 0)
        header, row = drawn(history)[:2]
        for title, value in (("when", "2026-01-02 03:04"), ("by", "root"), ("change", "schema recorded")):
            assert header.index(title) == row.index(value), (header, row)
        assert "ago" in row
