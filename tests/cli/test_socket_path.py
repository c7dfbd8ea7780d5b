"""Something that is not a socket at the kernel's socket path (a file left there, a directory):
the client that starts the kernel moves it aside in its private run directory and says where;
a daemon told to listen there itself refuses in one line. Never "Address already in use"."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from clitools import ok

ROOT = Path(__file__).resolve().parents[2]


def occupy(path, what: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if what == "file":
        path.write_text("not a socket\n")
    else:
        path.mkdir()
        (path / "kept").write_text("not a socket\n")


@pytest.mark.parametrize("what, command", [("file", "whoami"), ("directory", "whoami"), ("file", "kernel start")])
def test_the_kernel_starts_with_something_else_at_its_socket_path(run_dataos, what, command):
    sock = run_dataos.locations.socket
    occupy(sock, what)
    r = ok(run_dataos(*command.split(), *(["-o", "json"] if command == "whoami" else [])))
    assert command != "whoami" or json.loads(r.stdout)["id"]
    aside = sock.with_name(sock.name + ".stale")
    assert r.stderr.splitlines() == [f"notice: {sock} was a {'regular file' if what == 'file' else what}, "
                                     f"not the kernel's socket: moved it to {aside}"]
    kept = aside if what == "file" else aside / "kept"
    assert kept.read_text() == "not a socket\n"  # nothing lost
    r = ok(run_dataos("whoami", "-o", "json"))
    assert r.stderr == ""


def test_a_daemon_refuses_a_socket_path_that_is_a_file(tmp_path):
    sock = tmp_path / "k.sock"
    occupy(sock, "file")
    r = subprocess.run([sys.executable, "-m", "kernel", "serve", "--state", str(tmp_path / "state"),
                        "--socket", str(sock)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 7 and "Traceback" not in r.stderr
    assert r.stderr.splitlines()[-1] == (f"dataos kernel: EUNAVAIL: {sock} is a regular file, not a socket: "
                                         "move it away, then start the kernel again")
    assert sock.read_text() == "not a socket\n"
