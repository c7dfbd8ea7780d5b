"""The audit log is evidence: every answered call is on disk before its answer, denied and refused
calls included, and no input — malformed text, a full disk, a kill -9 — stops the writer or erases
a record.

Attacks written before the fix: a lone surrogate (valid JSON) in any request killed the writer
thread for good; a full disk did the same; a kill -9 lost the last 200 ms of records; the REST API
read a whole body before looking at the token.
"""
from __future__ import annotations

import errno
import os
import signal
import socket
import time

import httpx
import pytest

import syscalls
from syscalls.client import Client
from syscalls.errors import SyscallError


@pytest.fixture
def k(tmp_path):
    with syscalls.connect(f"embedded://{tmp_path / 'state'}") as c:
        c.user.create(name="eve", tags=["roles:id:user"])
        yield c


def eve(k) -> Client:
    return Client(k.transport, k.user.apikey.create(user="eve")["token"])


@pytest.mark.parametrize("field, value, problem", [
    ("name", "\udc80", "lone surrogate"),
    ("name", "a\0b", "NUL"),
    ("name", "x" * (2**20 + 1), "longer than"),
    ("workspace", "pub\udfffic", "lone surrogate"),
], ids=["surrogate", "nul", "oversize", "surrogate-in-workspace"])
def test_malformed_text_is_einval_at_decoding(k, field, value, problem):
    with pytest.raises(SyscallError) as e:
        k.resource.get(**{"type": "workflow", "name": "x", field: value})
    assert e.value.code == "EINVAL" and problem in e.value.message and e.value.details.get("field") == field


def test_malformed_text_deep_in_a_manifest_names_its_place(k):
    with pytest.raises(SyscallError) as e:
        k.resource.apply(manifests=[{"name": "w", "version": "v1", "type": "workflow", "workflow": {
            "dag": [{"name": "a", "spec": {"stack": "python", "stackSpec": {"script": "print('\udc80')"}}}]}}])
    assert e.value.code == "EINVAL" and e.value.details["field"] == "manifests[0].workflow.dag[0].spec.stackSpec.script"


def test_a_lone_surrogate_does_not_stop_the_audit_writer(k):
    with pytest.raises(SyscallError):
        eve(k).resource.get(type="workflow", name="\udc80")
    with pytest.raises(SyscallError):  # a syscall name is not decoded as a request: it reaches the writer
        eve(k).transport.call("resource.\udc80", {}, eve(k).token)
    for _ in range(3):
        eve(k).auth.whoami()
    time.sleep(0.5)  # more than a writer cycle
    log = k.audit.list(user="eve", limit=50)
    assert [e["syscall"] for e in log[:3]] == ["auth.whoami"] * 3
    assert any(e["errno"] == "EINVAL" and e["syscall"] == "resource.get" for e in log)
    assert any(e["errno"] == "ENOSYS" for e in k.audit.list(limit=50))


def test_denied_and_unauthenticated_calls_are_audited(k):
    with pytest.raises(SyscallError):
        eve(k).user.delete(name="eve")
    with pytest.raises(SyscallError):
        Client(k.transport, "dos_not-a-token").auth.whoami()
    log = k.audit.list(limit=10)
    assert {"decision": "deny", "errno": "EACCES", "user": "eve", "syscall": "user.delete"}.items() <= \
        next(e for e in log if e["syscall"] == "user.delete").items()
    assert any(e["errno"] == "EAUTH" and e["user"] is None for e in log)


def test_a_full_disk_refuses_to_answer_and_loses_nothing(k, monkeypatch):
    """With the journal on a full disk (here /dev/full: every write is ENOSPC) nothing is answered;
    once there is room again, the log goes on, everything answered is in it."""
    audit = k.transport.kernel.audit
    k.auth.whoami()
    full = os.open("/dev/full", os.O_WRONLY)
    saved, audit._fd = audit._fd, full
    try:
        with pytest.raises(SyscallError) as e:
            k.auth.whoami()
        assert e.value.code == "ENOSPC" and "audit" in e.value.message and e.value.details["path"].endswith(".journal")
    finally:
        audit._fd = saved
        os.close(full)
    k.auth.whoami()
    assert [e["syscall"] for e in k.audit.list(limit=3)][:2] == ["auth.whoami", "auth.whoami"]


def test_the_writer_survives_a_failing_database_and_catches_up(k, monkeypatch):
    audit = k.transport.kernel.audit
    real = audit._store
    failures = []

    def broken(rows, segment, offset):
        if len(failures) < 3:
            failures.append(len(rows))
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(rows, segment, offset)

    monkeypatch.setattr(audit, "_store", broken)
    for _ in range(5):
        eve(k).auth.whoami()
    deadline = time.monotonic() + 10
    while len(failures) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(failures) == 3 and audit._thread.is_alive()
    assert len([e for e in k.audit.list(user="eve", limit=50) if e["syscall"] == "auth.whoami"]) == 5


def test_journals_rotate_without_losing_or_repeating(k, monkeypatch):
    import kernel.audit as audit_module
    monkeypatch.setattr(audit_module, "ROTATE_AT", 2000)
    audit = k.transport.kernel.audit
    first = audit.segment
    for _ in range(60):
        eve(k).auth.whoami()
        audit.flush()
    assert audit.segment > first
    assert len(list(audit.dir.glob("audit.*.journal"))) == 1
    assert len([e for e in k.audit.list(user="eve", limit=500) if e["syscall"] == "auth.whoami"]) == 60


def test_every_answered_call_survives_a_kill_9(kernel_server):
    """A real kernel server is killed -9 right after its last answer; the restarted kernel has a
    record of every call that was answered (allowed, denied and unauthenticated)."""
    server = kernel_server()
    op = syscalls.connect(server.url, (server.state / "operator.token").read_text().strip())
    op.user.create(name="eve", tags=["roles:id:user"])
    bad = syscalls.connect(server.url, "dos_forged")
    answered = 0
    for _ in range(40):
        op.auth.whoami()
        with pytest.raises(SyscallError):
            bad.auth.whoami()
        answered += 2
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait(10)
    with syscalls.connect(f"embedded://{server.state}") as k:
        log = k.audit.list(since="1h", limit=1000)
    assert len([e for e in log if e["syscall"] == "auth.whoami"]) == answered
    assert len([e for e in log if e["errno"] == "EAUTH"]) == answered // 2


def test_the_rest_api_checks_the_token_before_reading_the_body(kernel_server):
    """A caller without a valid token gets EAUTH at once, however big a body it announces."""
    server = kernel_server()
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"POST /api/v1/syscalls/auth.whoami HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer dos_forged\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 30000000\r\n\r\n{")
        s.settimeout(5)
        answer = ""
        while "EAUTH" not in answer and (chunk := s.recv(65536)):  # no body was needed to answer
            answer += chunk.decode(errors="replace")
    assert " 401 " in answer.splitlines()[0] and "EAUTH" in answer
    r = httpx.post(server.url + "/api/v1/syscalls/auth.whoami", content=b'{"x": "\\udc80"}',
                   headers={"Authorization": "Bearer " + (server.state / "operator.token").read_text().strip()})
    assert r.status_code == 400 and r.json()["error"]["code"] == "EINVAL"
    server.proc.terminate()
    server.proc.wait(10)
    with syscalls.connect(f"embedded://{server.state}") as k:
        errnos = [e["errno"] for e in k.audit.list(limit=10)]
    assert "EAUTH" in errnos and "EINVAL" in errnos


def test_a_megabyte_name_makes_a_small_record_that_still_says_who_did_what(k):
    """The object of a record is cut to 1 KiB: a caller cannot grow the log a megabyte a call."""
    with pytest.raises(SyscallError):
        eve(k).user.get(name="x" * 2**20)
    journal = sum(p.stat().st_size for p in k.transport.kernel.audit.dir.glob("audit.*.journal"))
    record = next(e for e in k.audit.list(user="eve", limit=10) if e["syscall"] == "user.get")
    assert record["object"].startswith("/heimdall/users/xxx") and len(record["object"]) <= 1024
    assert record["decision"] == "deny" and record["errno"] == "EACCES"
    assert journal < 64 * 1024
