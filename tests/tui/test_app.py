"""The TUI's shell: one key per screen, the palette finds screens, and a kernel that stops
answering shows a banner that goes away by itself when it answers again."""
from __future__ import annotations


import pytest

from syscalls.errors import SyscallError
from tui.app import DataOSApp
from tui.banner import KernelBanner
from tui.link import Link
from pilotkit import until


class FlakyClient:
    """A syscalls client whose kernel can be switched off."""

    def __init__(self) -> None:
        self.up = True

    def call(self, name, request=None):
        if not self.up:
            raise SyscallError("EUNAVAIL", "cannot reach the kernel at unix:///test")
        return []

    def close(self) -> None:
        pass


@pytest.mark.asyncio
async def test_one_key_per_screen_and_the_palette_finds_screens():
    app = DataOSApp(lambda: FlakyClient(), screen="operations")
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.current_mode == "operations")
        for key, mode in (("2", "workbench"), ("3", "atlas"), ("1", "operations")):
            app.set_focus(None)
            await pilot.press(key)
            await until(pilot, lambda: app.current_mode == mode)
        await pilot.press("ctrl+p")
        await pilot.press(*"screen atlas")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: app.current_mode == "atlas")


@pytest.mark.asyncio
async def test_the_banner_shows_while_the_kernel_is_down_and_recovers():
    client = FlakyClient()
    app = DataOSApp(lambda: client, screen="operations")
    async with app.run_test(size=(100, 30)) as pilot:
        banner = app.screen.query_one(KernelBanner)
        client.up = False
        with pytest.raises(SyscallError):
            await app.link.call("pod.list")
        await until(pilot, lambda: banner.has_class("-down"))
        client.up = True
        await app.link.call("pod.list")
        await until(pilot, lambda: not banner.has_class("-down"))


def test_the_link_reports_health_changes_once():
    seen = []
    client = FlakyClient()
    link = Link(lambda: client, lambda ok, why: seen.append(ok))
    link.call_sync("pod.list")
    client.up = False
    for _ in range(3):
        with pytest.raises(SyscallError):
            link.call_sync("pod.list")
    client.up = True
    link.call_sync("pod.list")
    assert seen == [False, True]
