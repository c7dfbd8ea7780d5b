"""A new user's first commands: what they are told is told once."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from clitools import DATAOS, ok


@pytest.mark.slow
def test_the_no_keyring_notice_prints_once(tmp_path):
    """The first start stores two tokens (yours, and the demo analyst's): one notice says where."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DATAOS_") and k != "XDG_RUNTIME_DIR"}
    env.update(HOME=str(tmp_path), NO_COLOR="1", PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    try:
        first = ok(subprocess.run([*DATAOS, "whoami"], env=env, capture_output=True, text=True, timeout=120))
        again = ok(subprocess.run([*DATAOS, "whoami"], env=env, capture_output=True, text=True, timeout=60))
    finally:
        subprocess.run([*DATAOS, "kernel", "stop"], env=env, capture_output=True, timeout=60)
    assert "installing the demo lakehouse" in first.stderr  # so two tokens were stored
    assert first.stderr.count("no system keyring is available") == 1
    assert "keyring" not in again.stderr


def test_hints_name_the_command_as_the_user_runs_it(tmp_path):
    """From a clone the README's `./dataos` sets DATAOS_PROG: what a hint says to run works as printed."""
    env = {**os.environ, "DATAOS_HOME": str(tmp_path / "home"), "DATAOS_PROG": "./dataos"}
    r = ok(subprocess.run([*DATAOS, "plugins", "new", "hello", "-d", str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=60))
    assert r.stdout.rstrip().endswith("&&  ./dataos hello")
    wrapper = (Path(__file__).resolve().parents[2] / "dataos").read_text()
    assert 'export DATAOS_PROG="${DATAOS_PROG:-$0}"' in wrapper
