"""Shell start: `dataos shell` spawned on a pty until its prompt is on the screen (goal ≤ 300 ms
median), the kernel already running; against `dataos version` spawned the same way.

    .venv/bin/python bench/bench_shell.py [--runs 15] [--json]
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pexpect

sys.path.insert(0, str(Path(__file__).parent))
from common import arguments, report, summary  # noqa: E402

PROMPT = "dataos://>"


def spawn_until(cmd: list[str], env: dict[str, str], expect: str | type) -> float:
    """Milliseconds from spawn until `expect` is seen on the pty (the process is then ended)."""
    start = time.perf_counter()
    child = pexpect.spawn(cmd[0], cmd[1:], env=env, encoding="utf-8", timeout=30, dimensions=(40, 120))
    child.expect(expect)
    elapsed = (time.perf_counter() - start) * 1000
    if expect is not pexpect.EOF:
        child.sendcontrol("d")
        child.expect(pexpect.EOF)
    child.close()
    return elapsed


def main() -> None:
    args = arguments(__doc__, "runs", 15)
    dataos = shutil.which("dataos", path=str(Path(sys.executable).parent)) or "dataos"
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "DATAOS_HOME": home, "NO_COLOR": "1", "DATAOS_NO_DEMO": "1",
               "PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "xterm"}
        subprocess.run([dataos, "kernel", "start"], env=env, capture_output=True, check=True)
        try:
            spawn_until([dataos, "shell"], env, PROMPT)  # warm-up: page cache, history file
            shell = summary([spawn_until([dataos, "shell"], env, PROMPT) for _ in range(args.runs)])
            version = summary([spawn_until([dataos, "version"], env, pexpect.EOF) for _ in range(args.runs)])
        finally:
            subprocess.run([dataos, "kernel", "stop"], env=env, capture_output=True)
    rows = [
        ("dataos version on a pty (baseline)", "-", f"{version['p50']:.0f} ms"),
        ("dataos shell: spawn → prompt, median", "≤ 300 ms", f"{shell['p50']:.0f} ms"),
        ("dataos shell: spawn → prompt, max", "-", f"{shell['max']:.0f} ms"),
    ]
    report("Shell start (kernel running)", rows, args.json, {"shell": shell, "version": version})


if __name__ == "__main__":
    main()
