"""An unknown command or sub-command is one ENOSYS line naming the nearest one (not a usage box)."""
from __future__ import annotations

import pytest

from clitools import error_line


@pytest.mark.parametrize("args, expected", [
    (["shel"], "shel: no such command (did you mean shell?); `dataos --help` lists them"),
    (["catalog", "serch"], "serch: no such command (did you mean search?); `dataos catalog --help` lists them"),
    (["user", "apikey", "nope"], "nope: no such command; `dataos user apikey --help` lists them"),
])
def test_unknown_commands_are_one_line(run_dataos, args, expected):
    assert error_line(run_dataos(*args), "ENOSYS", 8) == f"error: ENOSYS: {expected}"
