"""The dataos TUI: one app, a mode per screen (each with its own screen stack), a command
palette, footer key hints, themes and mouse; `--readonly` hides every mutating action."""
from __future__ import annotations

from typing import Any, Callable

from textual import work
from textual.app import App
from textual.binding import Binding

from .link import Link
from .palette import DatasetsProvider, PluginsProvider, ResourcesProvider, ScreensProvider
from .workbench.saved import SavedQueriesProvider

SCREENS = ("operations", "workbench", "atlas")


def _mode(name: str) -> Callable[[], Any]:
    def make() -> Any:
        if name == "operations":
            from .operations.screen import OperationsScreen
            screen = OperationsScreen()
        elif name == "workbench":
            from .workbench.screen import WorkbenchScreen
            screen = WorkbenchScreen()
        else:
            from .atlas.screen import AtlasScreen
            screen = AtlasScreen()
        screen.title = f"dataos · {name.capitalize()}"  # the header names the screen you are on
        return screen
    return make


class DataOSApp(App):
    TITLE = "dataos"
    CSS_PATH = "app.tcss"
    MODES = {name: _mode(name) for name in SCREENS}
    COMMANDS = App.COMMANDS | {ScreensProvider, ResourcesProvider, DatasetsProvider, SavedQueriesProvider,
                               PluginsProvider}
    BINDINGS = [
        Binding("1", "switch_mode('operations')", "Operations"),
        Binding("2", "switch_mode('workbench')", "Workbench"),
        Binding("3", "switch_mode('atlas')", "Atlas"),
        Binding("ctrl+p", "command_palette", "Palette", show=False),  # the footer docks it right
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(self, connect: Callable[[], Any], screen: str = "operations", readonly: bool = False) -> None:
        super().__init__()
        self.first_screen = screen
        self.readonly = readonly
        self.link = Link(connect, self._health, readonly)

    def on_mount(self) -> None:
        self.switch_mode(self.first_screen)
        self._load_plugins()

    @work(thread=True, group="plugins")
    def _load_plugins(self) -> None:
        """Load plugins in the background; a broken one is one notification, the app goes on."""
        from plugins.loader import disabled, registry, unseen
        if not disabled():
            registry.load_all()
            for problem in unseen(registry.problems):
                self.call_from_thread(self.notify, f"{problem} (see `dataos plugins doctor`)",
                                      title="plugin", severity="warning", timeout=8)

    def _health(self, ok: bool, why: str) -> None:
        """From any thread: the current screen's banner shows the kernel's state."""
        import threading
        if threading.get_ident() == self._thread_id:
            self._show_health(ok, why)
        else:
            self.call_from_thread(self._show_health, ok, why)

    def _show_health(self, ok: bool, why: str) -> None:
        from .banner import KernelBanner
        for banner in self.screen.query(KernelBanner):
            banner.show_health(ok, why)

    def refused(self) -> bool:
        """True (after saying so) when `--readonly` forbids a change."""
        if self.readonly:
            self.notify("read-only: changes are off", severity="warning")
        return self.readonly

    def on_unmount(self) -> None:
        self.link.close()


def run(connect: Callable[[], Any], screen: str = "operations", readonly: bool = False) -> int:
    DataOSApp(connect, screen, readonly).run()
    return 0
