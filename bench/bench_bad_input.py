"""Hostile manifests are refused before the work: time and peak memory of `dataos apply -f`
on a 10 KB alias bomb, a 10 MB one-line flow list and a 40 MB file (goal: each refused within
1 s and 100 MB), against a small valid manifest (`--dry-run`) in the same run.

    .venv/bin/python bench/bench_bad_input.py [--runs 5] [--json]
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
from common import arguments, report  # noqa: E402


NAMES = ("valid manifest, --dry-run (baseline)", "alias bomb (10 KB)", "one-line flow list (10 MB)",
         "one 40 MB file")


def write_inputs(folder: Path) -> None:
    """(Run in a child process: a large parent would lift every child's peak-memory reading.)"""
    head = "name: x\nversion: v1\ntype: workflow\n"
    bomb = [head + "a0: &a0 [" + ",".join(["x" * 10] * 100) + "]"]
    bomb += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    texts = (head + "workflow:\n  dag:\n  - name: a\n"
                                                "    spec: {stack: python, stackSpec: {module: m}}\n",
             "\n".join(bomb) + "\n",
             head + "workflow: {dag: [" + ",".join(["{name: a}"] * 1_000_000) + "]}\n",
             head + "description: " + "a" * 40 * 2**20 + "\n")
    for i, text in enumerate(texts):
        (folder / f"m{i}.yaml").write_text(text)


def run(cmd: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Seconds, peak resident MiB and exit code of one command."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - started, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def main() -> None:
    if sys.argv[1:2] == ["--write"]:
        return write_inputs(Path(sys.argv[2]))
    args = arguments(__doc__, "runs", 5)
    dataos = shutil.which("dataos", path=str(Path(sys.executable).parent)) or "dataos"
    rows, data = [], {}
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "DATAOS_HOME": home, "NO_COLOR": "1"}
        subprocess.run([dataos, "kernel", "start"], env=env, capture_output=True, check=True)
        try:
            subprocess.run([sys.executable, __file__, "--write", home], check=True)
            for i, name in enumerate(NAMES):
                path = Path(home) / f"m{i}.yaml"
                extra = ["--dry-run"] if "baseline" in name else []
                runs = [run([dataos, "apply", "-f", str(path), *extra], env) for _ in range(args.runs)]
                seconds = statistics.median(r[0] for r in runs)
                mib = statistics.median(r[1] for r in runs)
                codes = sorted({r[2] for r in runs})
                data[name] = {"seconds": seconds, "peak_mib": mib, "exit": codes}
                goal = "-" if "baseline" in name else "≤ 1 s, ≤ 100 MB"
                over = f" (+{seconds - data[NAMES[0]]['seconds']:.2f} s)" if "baseline" not in name else ""
                rows.append((f"{name} (exit {','.join(map(str, codes))})", goal,
                             f"{seconds:.2f} s{over}, {mib:.0f} MiB"))
        finally:
            subprocess.run([dataos, "kernel", "stop"], env=env, capture_output=True)
    report("Hostile manifests: `dataos apply -f` (median of runs)", rows, args.json, data)


if __name__ == "__main__":
    main()
