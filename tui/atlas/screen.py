"""Atlas: the catalog in the terminal. Left, the tree (depots → collections → datasets → columns,
loaded as nodes expand) under a search box with facets; right, the selected dataset's page.
`t` tags and `e` describes the selected dataset or column, `o` sets the dataset's owner (hidden and
refused when read-only); `[` and `]` go through the page's tabs."""
from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Header, Input, TabbedContent

from .. import tabs
from ..banner import KernelBanner
from ..footer import FittingFooter
from ..link import error_text
from ..messages import OpenDataset
from .common import DatasetChosen
from .edit import EditModal
from .page import DatasetPage
from .search import SearchPane
from .tree import CatalogTree

EDITS = ("tag", "describe", "owner")


class AtlasScreen(Screen):
    NARROW = 120  # columns below which the tree takes less of the width
    DEFAULT_CSS = """
    AtlasScreen #atlas { height: 1fr; }
    AtlasScreen #atlas-left { width: 46; height: 1fr; border-right: solid $primary-background; }
    AtlasScreen.-narrow #atlas-left { width: 40%; min-width: 28; }
    """
    BINDINGS = [
        Binding("slash", "search", "Search"),
        Binding("t", "tag", "Tag"),
        Binding("e", "describe", "Describe"),
        Binding("o", "owner", "Owner"),
        Binding("r", "refresh", "Refresh"),
        *tabs.BINDINGS,
    ]
    AUTO_FOCUS = "#catalog-tree"  # keys typed while it starts go to the tree, not into the search box

    def compose(self) -> ComposeResult:
        yield Header()
        yield KernelBanner()
        with Horizontal(id="atlas"):
            with Vertical(id="atlas-left"):
                yield SearchPane(id="search-pane")
                yield CatalogTree(id="catalog-tree")
            yield DatasetPage(id="page")
        yield FittingFooter()

    def on_mount(self) -> None:
        self.query_one(CatalogTree).focus()

    def on_resize(self, event: Resize) -> None:
        self.set_class(event.size.width < self.NARROW, "-narrow")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in EDITS and self.app.readonly:
            return False  # hidden from the footer, and not run
        return True

    # --- opening pages ---------------------------------------------------------------------------

    def on_dataset_chosen(self, message: DatasetChosen) -> None:
        message.stop()
        self.open(message.urn, message.column)

    def on_open_dataset(self, message: OpenDataset) -> None:
        message.stop()
        self.open(message.urn)

    def open(self, urn: str, column: str | None = None) -> None:
        self.query_one(DatasetPage).open(urn, column)

    # --- actions -----------------------------------------------------------------------------------

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_tab(self, by: int) -> None:
        """The page's next (or previous) tab: Schema, Profile, Lineage, Sample, History."""
        tabs.step(self.query_one("#tabs", TabbedContent), by)

    def action_refresh(self) -> None:
        tree = self.query_one(CatalogTree)
        tree.cache.clear()
        self.run_worker(tree.reload(), group="tree")
        page = self.query_one(DatasetPage)
        if page.urn:
            page.open(page.urn)

    def _target(self) -> tuple[str, str | None] | None:
        """The dataset (and column) an edit applies to: the schema row or tree node under focus,
        else the open page's dataset."""
        page = self.query_one(DatasetPage)
        tree = self.query_one(CatalogTree)
        if self.focused is tree and tree.selected_column():
            return tree.selected_column()
        if page.urn:
            return page.urn, page.selected_column()
        return None

    def _edit_target(self) -> tuple[str, str | None, DatasetPage] | None:
        """What an edit applies to (urn, column, the page), or None after saying why not."""
        if self.app.refused():
            return None
        target = self._target()
        if not target:
            self.notify("select a dataset or column first", severity="warning")
            return None
        return (*target, self.query_one(DatasetPage))

    def action_tag(self) -> None:
        edit = self._edit_target()
        if edit is None:
            return
        urn, column, page = edit
        suggestions: list[str] = []
        current: list[str] = []
        if page.urn == urn and page.entity:
            a = page.entity.get("aspects", {})
            tags = a.get("tags") or {}
            current = list(tags.get("columns", {}).get(column, []) if column else tags.get("dataset", []))
            if column:
                suggestions = [t for t in (a.get("suggestions") or {}).get("columns", {}).get(column, [])
                               if t not in current]
        ref = f"{urn}#{column}" if column else urn
        self._editor("catalog.tag", ref, urn, EditModal(f"Tag {ref}", suggestions[0] if suggestions else "",
                                                        suggestions, current))

    def action_describe(self) -> None:
        edit = self._edit_target()
        if edit is None:
            return
        urn, column, page = edit
        current = ""
        if page.urn == urn and page.entity:
            d = page.entity.get("aspects", {}).get("description") or {}
            current = (d.get("columns", {}).get(column, "") if column else d.get("dataset")) or ""
        ref = f"{urn}#{column}" if column else urn
        self._editor("catalog.describe", ref, urn, EditModal(f"Describe {ref}", current, kind="text"))

    def action_owner(self) -> None:
        edit = self._edit_target()
        if edit is None:
            return
        urn, _, page = edit  # a column has no owner of its own: the dataset's
        current = ""
        if page.urn == urn and page.entity:
            current = ((page.entity.get("aspects") or {}).get("ownership") or {}).get("owner") or ""
        self.run_worker(self._owner_editor(urn, current), group="edit")

    async def _owner_editor(self, urn: str, current: str) -> None:
        try:  # who there is to choose from: the users the caller may read (maybe none)
            users = sorted(u["id"] for u in await self.app.link.call("user.list"))
        except Exception:
            users = []
        self._editor("catalog.owner", urn, urn, EditModal(f"Owner of {urn}", current, [u for u in users if u != current],
                                                          kind="owner"))

    def _editor(self, syscall: str, ref: str, urn: str, modal: EditModal) -> None:
        """Open the modal; it runs the syscall and stays open if the kernel refuses."""
        modal.submit = lambda answer: self._edit(syscall, ref, answer)
        self.app.push_screen(modal, lambda answer: self._edited(syscall, ref, urn, answer))

    async def _edit(self, syscall: str, ref: str, answer: dict) -> None:
        if self.app.readonly:
            raise PermissionError("read-only: editing is off")
        if syscall == "catalog.tag":
            request = {"ref": ref, "tag": answer["text"], "remove": answer["remove"]}
        elif syscall == "catalog.owner":
            request = {"ref": ref, "user": answer["text"]}
        else:
            request = {"ref": ref, "text": answer["text"]}
        await self.app.link.call(syscall, **request)

    def _edited(self, syscall: str, ref: str, urn: str, answer: dict | None) -> None:
        if answer is None:
            return
        if syscall == "catalog.tag":
            self.notify(f"{ref}: tag {answer['text']} {'removed' if answer['remove'] else 'added'}")
        elif syscall == "catalog.owner":
            self.notify(f"{ref}: owner set to {answer['text']}")
        else:
            self.notify(f"{ref}: described")
        self.query_one(CatalogTree).forget(urn)
        page = self.query_one(DatasetPage)
        if page.urn == urn:
            self.run_worker(self._refresh_page(page), group="edit")

    async def _refresh_page(self, page: DatasetPage) -> None:
        try:
            await page.refresh_entity()
        except Exception as e:
            self.notify(error_text(e), severity="error")
