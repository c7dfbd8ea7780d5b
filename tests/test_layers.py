"""The layering of DESIGN.md, enforced: import-linter contracts in pyproject.toml, plus a
check that a contract really fails when the rule is broken (so the guard can fail)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    return subprocess.run([exe, "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_import_contracts_hold():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "7 kept, 0 broken" in result.stdout


@pytest.mark.parametrize("module, imports, broken", [
    ("dataos_shell/sneaky.py", "import kernel.kernel", "dataos_shell.sneaky -> kernel"),
    ("userlib/sneaky.py", "import dataos_shell.cli.app", "userlib.sneaky -> dataos_shell"),
    ("userlib/sneaky.py", "import prompt_toolkit", "userlib.sneaky -> prompt_toolkit"),
    ("tui/sneaky.py", "from dataos_shell.shell import repl", "tui.sneaky -> dataos_shell"),
    ("kernel/metis/sneaky.py", "from kernel.gateway import policies", "kernel.metis.sneaky -> kernel.gateway.policies"),
    ("kernel/gateway/sneaky.py", "from kernel.metis import store", "kernel.gateway.sneaky -> kernel.metis.store"),
])
def test_a_broken_layer_is_caught(tmp_path, module, imports, broken):
    copy = tmp_path / "repo"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".venv", ".git", "*.egg-info", "__pycache__",
                                                              ".hypothesis", ".pytest_cache"))
    (copy / module).write_text(imports + "\n")
    result = subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command;"
                             " sys.exit(lint_imports_command(['--no-cache']))"],
                            cwd=copy, capture_output=True, text=True, timeout=120,
                            env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"})
    assert result.returncode != 0
    assert broken in result.stdout