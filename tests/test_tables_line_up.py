"""Tables line up with their headers however their cells are painted or how wide their characters
are: colours and East Asian wide characters are measured as the terminal draws them."""
from __future__ import annotations

import re

from userlib.output import table, visible_width

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def starts(line: str) -> list[int]:
    """The terminal columns where the words of a line start."""
    line = ANSI.sub("", line)
    out, col, prev = [], 0, " "
    for ch in line:
        if ch != " " and prev == " ":
            out.append(col)
        col += visible_width(ch)
        prev = ch
    return out


def test_painted_cells_line_up_with_the_header():
    rows = [["pod", "orders-daily-run-1", "\x1b[32mRunning\x1b[0m", "3s"],
            ["pod", "x", "\x1b[31mFailed\x1b[0m", "12m"]]
    lines = table(["kind", "name", "phase", "age"], rows).splitlines()
    assert starts(lines[0]) == starts(lines[1]) == starts(lines[2])


def test_wide_characters_take_two_columns():
    lines = table(["name", "city"], [["東京都", "x"], ["ab", "y"]]).splitlines()
    assert visible_width("東京都") == 6
    assert starts(lines[0]) == starts(lines[1]) == starts(lines[2])
