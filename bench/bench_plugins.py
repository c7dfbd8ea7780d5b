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
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import arguments, report, summary  # noqa: E402

PLUGINS = 20


def _install(site: Path, src: Path) -> None:
    """PLUGINS small plugins, each with a real entry point and an import that costs ~5 ms."""
    packages = []
    for i in range(PLUGINS):
        pkg = src / f"p{i}"
        (pkg / f"dataos_p{i}").mkdir(parents=True)
        (pkg / f"dataos_p{i}" / "__init__.py").write_text(textwrap.dedent(f"""\
            import time
            time.sleep(0.005)

            def register(host):
                @host.command("p{i}")
                def run() -> None:
                    print("p{i}")
        """))
        (pkg / "pyproject.toml").write_text(textwrap.dedent(f"""\
            [build-system]
            requires = ["setuptools>=69"]
            build-backend = "setuptools.build_meta"
            [project]
            name = "dataos-p{i}"
            version = "1.0"
            [project.entry-points."dataos.plugins"]
            p{i} = "dataos_p{i}"
            [tool.setuptools]
            packages = ["dataos_p{i}"]
        """))
        packages.append(str(pkg))
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
                    "--target", str(site), *packages], check=True)


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
