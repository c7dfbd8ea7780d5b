"""Plugins cost nothing until used: a built-in command with 20 plugins installed vs none (same run,
interleaved), `dataos plugins list` (metadata only), and a plugin command's cold start.

    .venv/bin/python bench/bench_plugins.py [--runs 15] [--json]
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import arguments, report, summary  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from clitools import pip_install, plugin_package  # noqa: E402  (the tests' sample plugin package)

PLUGINS = 20


def _install(site: Path, src: Path) -> None:
    """PLUGINS small plugins, each with a real entry point and an import that costs ~5 ms."""
    code = "import time\ntime.sleep(0.005)\n\n\ndef register(host):\n    @host.command(\"{n}\")\n    def run() -> None:\n        print(\"{n}\")\n"
    packages = [str(plugin_package(src, f"p{i}", code.format(n=f"p{i}"))) for i in range(PLUGINS)]
    pip_install(site, *packages)


def _ms(cmd: list[str], env: dict[str, str]) -> float:
    import time
    start = time.perf_counter()
    subprocess.run(cmd, env=env, capture_output=True, check=True)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    args = arguments(__doc__, "runs", 15)
    dataos = shutil.which("dataos", path=str(Path(sys.executable).parent)) or "dataos"
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        _install(site, Path(tmp) / "src")
        base = {**os.environ, "DATAOS_HOME": str(Path(tmp) / "home"), "NO_COLOR": "1", "DATAOS_NO_DEMO": "1"}
        withp = {**base, "PYTHONPATH": str(site)}
        builtin = [dataos, "get", "depot"]
        subprocess.run(builtin, env=base, capture_output=True)  # starts the kernel daemon once
        for env in (base, withp):
            _ms(builtin, env)
        none, twenty, listing, command = [], [], [], []
        for _ in range(args.runs):  # interleaved: the machine's load falls on both alike
            none.append(_ms(builtin, base))
            twenty.append(_ms(builtin, withp))
            listing.append(_ms([dataos, "plugins", "list"], withp))
            command.append(_ms([dataos, "p7"], withp))
        subprocess.run([dataos, "kernel", "stop"], env=base, capture_output=True)
    s0, s20, sl, sc = map(summary, (none, twenty, listing, command))
    ratio = s20["p50"] / s0["p50"]
    report("Plugins (issue 8)", [
        ("`dataos get depot`, no plugins (ms p50)", "", f"{s0['p50']:.0f}"),
        (f"`dataos get depot`, {PLUGINS} plugins (ms p50)", "same", f"{s20['p50']:.0f} ({ratio:.2f}×)"),
        (f"`dataos plugins list`, {PLUGINS} plugins (ms p50)", "", f"{sl['p50']:.0f}"),
        (f"a plugin command, {PLUGINS} installed (ms p50)", "", f"{sc['p50']:.0f}"),
    ], args.json, {"builtin_none": s0, "builtin_20": s20, "list": sl, "plugin_command": sc, "ratio": ratio})


if __name__ == "__main__":
    main()
