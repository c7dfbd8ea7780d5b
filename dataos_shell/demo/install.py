"""Install, inspect and remove the demo lakehouse: its data, resources, user and context."""
from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from syscalls.errors import SyscallError

from . import analyst, data, data_root, default_orders

if TYPE_CHECKING:
    from syscalls.client import Client

Say = Callable[[str], None]


def manifests(root: Path) -> list[dict[str, Any]]:
    """The demo's resources (`manifests.yaml`, `${DEMO_PATH}` set to `root`), workflow last."""
    from userlib.manifests import parse_manifests
    text = resources.files(__package__).joinpath("manifests.yaml").read_text()
    return [m.data for m in parse_manifests(text, "demo/manifests.yaml", env={"DEMO_PATH": str(root)})]


def install(c: "Client", url: str, orders: int | None = None, force: bool = False,
            say: Say = lambda message: None, step: Say = lambda message: None) -> list[str]:
    """Generate the data (unless present with the same order count, or `force`), apply the
    resources, make the analyst and its context (at `url`); one line per part."""
    root = data_root()
    with _locked(root):
        marker = data.installed(root)
        if marker is None or force or orders not in (None, marker["rows"]["orders"]):
            marker = data.generate(root, orders or default_orders(), step=step)
            say(f"generated {marker['rows']['orders']:,} orders in {marker['seconds']:.1f} s")
            action = "generated"
        else:
            action = "unchanged"
        lines = [f"data {root / data.COLLECTION} {action}: {summary(marker)}"]
        results = c.resource.apply(manifests=manifests(root))["results"]
        lines += [f"{r['type']}/{r['name']} {r['action']}" for r in results]
        if action == "generated":
            _rebuild(c, [r for r in results if r["type"] == "workflow" and r["action"] == "unchanged"])
        lines += analyst.ensure(c, url, say)
    return lines


def status(c: "Client") -> dict[str, Any]:
    """What is installed: the data (its marker), each resource's status, the analyst."""
    root = data_root()
    found = {}
    for m in manifests(root):
        try:
            r = c.resource.get(type=m["type"], name=m["name"], workspace=m.get("workspace"))
            found[f"{m['type']}/{m['name']}"] = r["status"].get("runtime") or r["status"].get("aggregateStatus")
        except SyscallError as e:
            if e.code != "ENOENT":
                raise
            found[f"{m['type']}/{m['name']}"] = None
    return {"path": str(root), "data": data.installed(root), "resources": found, "analyst": analyst.state(c)}


def uninstall(c: "Client") -> list[str]:
    """Delete the resources (workflow first), the analyst and its context, and the data."""
    root = data_root()
    lines = []
    with _locked(root):
        for m in reversed(manifests(root)):
            try:
                c.resource.delete(type=m["type"], name=m["name"], workspace=m.get("workspace"))
                lines.append(f"{m['type']}/{m['name']} deleted")
            except SyscallError as e:
                if e.code != "ENOENT":
                    raise
        lines += analyst.remove(c)
        if root.exists():
            try:
                shutil.rmtree(root)
            except OSError as e:
                raise SyscallError("EIO", f"cannot delete the demo data {root}: {e}") from None
            lines.append(f"data {root} deleted")
    return lines


def _rebuild(c: "Client", workflows: list[dict[str, Any]]) -> None:
    """New data under an unchanged workflow: run it again (a running one will read the new data anyway)."""
    for r in workflows:
        try:
            c.runtime.control(type="workflow", name=r["name"], workspace=r.get("workspace"), action="rerun")
        except SyscallError as e:
            if e.code != "EINVAL":
                raise


def summary(marker: dict[str, Any]) -> str:
    """'50,000 customers, 1,000 products, 1,000,000 orders'."""
    return ", ".join(f"{n:,} {name}" for name, n in marker["rows"].items())


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    """One install or uninstall at a time (two shells starting a new kernel at once): a lock on
    the directory that holds the data root, so no lock file is left behind."""
    root.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(root.parent, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
