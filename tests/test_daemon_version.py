"""A client meeting a daemon of another version restarts it and says so; tokens never reach
the kernel's log."""
from __future__ import annotations

import pytest

import syscalls.daemon
from syscalls import connect
from syscalls.daemon import LocalKernel


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DATAOS_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("DATAOS_TOKEN", raising=False)
    monkeypatch.delenv("DATAOS_CONTEXT", raising=False)
    yield tmp_path / "home"
    LocalKernel().stop()


def test_a_daemon_of_another_version_is_restarted_with_a_notice(home, monkeypatch):
    with connect("local://") as c:
        first = c.call("kernel.info")["pid"]
        token = c.token
    running = syscalls.__version__
    monkeypatch.setattr(syscalls.daemon, "__version__", "9.9.9")
    with connect("local://") as c:
        assert any(f"restarting the local kernel ({running} -> 9.9.9)" in n for n in c.notices)
        assert c.call("kernel.info")["pid"] != first
        assert c.token == token  # the credential survives the restart


def test_tokens_never_reach_the_kernel_log(home):
    with connect("local://") as c:
        c.user.create(name="ana")
        token = c.user.apikey.create(user="ana")["token"]
        with pytest.raises(Exception):
            connect("local://", token="dos_" + "x" * 43).auth.whoami()
        operator = c.token
    LocalKernel().stop()
    log = (home / "logs" / "kernel.log").read_text()
    assert "kernel stopped" in log
    assert token not in log and operator not in log and "x" * 43 not in log
