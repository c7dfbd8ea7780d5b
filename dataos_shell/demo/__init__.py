"""The demo lakehouse: generated retail data, a `lakehouse` depot, policies, a workflow and an
`analyst` user with a `demo-analyst` context (`dataos demo install|status|uninstall`).

A new local kernel installs it on its first start, unless `dataos kernel start --no-demo` or
`DATAOS_NO_DEMO=1`; `DATAOS_DEMO_ORDERS` sets how many orders are generated (1,000,000).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from syscalls.errors import SyscallError
from syscalls.locations import Locations

if TYPE_CHECKING:
    from syscalls.client import Client

ORDERS = 1_000_000


def data_root(locations: Locations | None = None) -> Path:
    """`$DATAOS_HOME/demo`, else `demo` in the platform's data dir for dataos."""
    loc = locations or Locations.current()
    return (loc.data.parent if loc.isolated else loc.data) / "demo"


def default_orders() -> int:
    """How many orders to generate: `$DATAOS_DEMO_ORDERS`, else 1,000,000."""
    value = os.environ.get("DATAOS_DEMO_ORDERS", "").strip()
    if not value:
        return ORDERS
    if not value.isdigit() or int(value) < 1:
        raise SyscallError("EINVAL", f"DATAOS_DEMO_ORDERS: expected a positive number of orders, not {value!r}")
    return int(value)


def wanted() -> bool:
    """False when `$DATAOS_NO_DEMO` is set (to anything but 0)."""
    return os.environ.get("DATAOS_NO_DEMO", "0").strip() in ("", "0")


def new_state(locations: Locations) -> bool:
    """True when the local kernel has no state yet: its next start is its first."""
    state = locations.state
    return not state.is_dir() or not any(state.iterdir())


def pending() -> bool:
    """Will connecting to the current context start a new local kernel, which gets the demo?"""
    if not wanted() or os.environ.get("DATAOS_URL"):
        return False
    from syscalls.contexts import Contexts
    try:
        contexts = Contexts()
        url = contexts.get().url
    except SyscallError:
        return False  # connecting will say what is wrong
    return url == "local://" and new_state(contexts.locations)


def first_start(c: "Client", url: str) -> None:
    """Install the demo on a new kernel's first start: a notice, progress on stderr, and a
    failure reported as a notice (the command that started the kernel goes on)."""
    from userlib.output import notice
    from ..session import prog
    from .install import install
    from .progress import Progress
    try:
        notice(f"installing the demo lakehouse ({default_orders():,} orders); "
               f"`{prog()} demo uninstall` removes it")
        with Progress() as progress:
            install(c, url, say=progress.say, step=progress)
    except SyscallError as e:
        notice(f"notice: the demo lakehouse was not installed ({e}); `dataos demo install` retries")
        return
    notice(f'try: {prog()} --context demo-analyst query "select * from lakehouse.retail.customers limit 5"')
