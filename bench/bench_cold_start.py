"""CLI cold start: `dataos version` (goal ≤ 75 ms median), against `python -c pass` in the same run.

    .venv/bin/python bench/bench_cold_start.py [--runs 30] [--json]
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import arguments, report, sample, summary  # noqa: E402


def timed(cmd: list[str], runs: int, env: dict[str, str]) -> list[float]:
    """Milliseconds per run of a whole command (one warm-up run fills the page cache)."""
    return [us / 1000 for us in sample(lambda: subprocess.run(cmd, env=env, capture_output=True, check=True),
                                       runs, warmup=1)]


def main() -> None:
    args = arguments(__doc__, "runs", 30)
    dataos = shutil.which("dataos", path=str(Path(sys.executable).parent)) or "dataos"
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "DATAOS_HOME": home, "NO_COLOR": "1"}
        python = summary(timed([sys.executable, "-c", "pass"], args.runs, env))
        version = summary(timed([dataos, "version"], args.runs, env))
        helptext = summary(timed([dataos, "--help"], max(5, args.runs // 3), env))
        subprocess.run([dataos, "kernel", "start"], env=env, capture_output=True, check=True)
        try:
            whoami = summary(timed([dataos, "whoami"], max(5, args.runs // 3), env))
        finally:
            subprocess.run([dataos, "kernel", "stop"], env=env, capture_output=True)
    rows = [
        ("python -c pass (baseline)", "-", f"{python['p50']:.1f} ms"),
        ("dataos version", "≤ 75 ms", f"{version['p50']:.1f} ms"),
        ("dataos version − python", "-", f"{version['p50'] - python['p50']:.1f} ms"),
        ("dataos --help (Typer loaded)", "-", f"{helptext['p50']:.1f} ms"),
        ("dataos whoami (kernel running)", "-", f"{whoami['p50']:.1f} ms"),
    ]
    report("CLI cold start (median of runs)", rows, args.json,
           {"python": python, "version": version, "help": helptext, "whoami": whoami})


if __name__ == "__main__":
    main()
