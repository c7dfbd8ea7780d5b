"""Helpers of the shell's tests: the environment of a `dataos` process, and `dataos` on a pty."""
from __future__ import annotations

import os
from pathlib import Path

from clitools import DATAOS

CLEAN = ("DATAOS_TOKEN", "DATAOS_CONTEXT", "DATAOS_DEBUG", "DATAOS_PROG", "PAGER")


def shell_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a `dataos` process in `home`: no colour, no pager, no CPR requests."""
    env = {k: v for k, v in os.environ.items() if k not in CLEAN}
    env.update({"DATAOS_HOME": str(home), "NO_COLOR": "1", "DATAOS_NO_PAGER": "1", "PROMPT_TOOLKIT_NO_CPR": "1",
                "TERM": "xterm", **extra})
    return env


def spawn(home: Path, *args: str, columns: int = 120, **env: str):
    """`dataos ARGS` on a pty (pexpect) of 40 lines."""
    import pexpect
    return pexpect.spawn(DATAOS[0], [*DATAOS[1:], *args], env=shell_env(home, **env), encoding="utf-8",
                         timeout=20, dimensions=(40, columns))
