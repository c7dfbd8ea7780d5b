"""Process checks shared by the client (the daemon it started) and the kernel (pods it runs)."""
from __future__ import annotations

import os
from pathlib import Path


def alive(pid: int) -> bool:
    """Is the process running? A zombie (exited, not yet reaped by its parent) is not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"


def runs(pid: int, marker: str) -> bool:
    """Is `pid` alive and is `marker` in its command line? (Guards against reused pids.)"""
    if not alive(pid):
        return False
    try:
        return marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
