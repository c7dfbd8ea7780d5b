"""A pip-installed plugin's palette command and screen appear in the TUI's command palette; a
plugin that raises from its palette command is a notification, not a crash."""
from __future__ import annotations

import sys

import pytest

import plugins.loader
from clitools import pip_install, plugin_package
from tui.app import DataOSApp
from pilotkit import until

CODE = '''
    calls = []

    def register(host):
        @host.palette("Wave hello", help="a palette command from a plugin")
        async def wave(app):
            me = await app.link.call("auth.whoami")
            calls.append(me["id"])
            app.notify("waved")

        @host.palette("Explode", help="raises")
        def explode(app):
            raise RuntimeError("kaboom")

        @host.screen("waves", title="Waves")
        def waves():
            from textual.screen import Screen
            from textual.widgets import Static

            class Waves(Screen):
                def compose(self):
                    yield Static("all the waves", id="waves")
            return Waves()
'''


class Client:
    def call(self, name, request=None):
        return {"id": "ana", "type": "person", "tags": []} if name == "auth.whoami" else []

    def close(self) -> None:
        pass


@pytest.fixture
def waving(tmp_path, monkeypatch):
    pkg = plugin_package(tmp_path, "waving", CODE, version="0.1")
    pip_install(tmp_path / "site", pkg)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setattr(plugins.loader, "registry", plugins.loader.Registry())
    monkeypatch.setenv("DATAOS_HOME", str(tmp_path / "home"))
    yield
    sys.modules.pop("dataos_waving", None)


async def palette(pilot, text: str) -> None:
    await pilot.press("ctrl+p")
    await pilot.press(*text)
    await pilot.pause(0.3)
    await pilot.press("enter")


@pytest.mark.asyncio
async def test_plugin_palette_commands_and_screens(waving):
    app = DataOSApp(lambda: Client(), screen="workbench")
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.current_mode == "workbench")
        await palette(pilot, "wave hello")
        await until(pilot, lambda: sys.modules["dataos_waving"].calls == ["ana"])
        await palette(pilot, "explode")
        await until(pilot, lambda: any("kaboom" in str(n.message) for n in app._notifications))
        await palette(pilot, "open waves")
        await until(pilot, lambda: app.screen.query("#waves"))
        assert app.is_running
