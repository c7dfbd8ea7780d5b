"""The fuzz suites' figures: one line per suite at the end of the run (examples, outcomes,
violations by class), gathered from every xdist worker."""
from __future__ import annotations

from collections import Counter

import pytest

import fuzzkit


def pytest_sessionfinish(session) -> None:
    if hasattr(session.config, "workeroutput"):  # an xdist worker: hand the counts to the controller
        session.config.workeroutput["fuzz"] = {suite: dict(c) for suite, c in fuzzkit.TALLIES.items()}


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    for suite, counts in (getattr(node, "workeroutput", {}) or {}).get("fuzz", {}).items():
        fuzzkit.TALLIES.setdefault(suite, Counter()).update(counts)


def pytest_terminal_summary(terminalreporter) -> None:
    for suite, counts in sorted(fuzzkit.TALLIES.items()):
        terminalreporter.write_line(f"fuzz {suite}: {fuzzkit.summary(counts)}")
