"""The kernel's log as a pipeline reads it: `--log-format json`, one object a line, each record
written during a call carrying that call's request id, which the answer carries back in
X-Request-Id (the caller's, when it is a plain token; else a new one)."""
from __future__ import annotations

import asyncio
import io
import json
import logging

import httpx
import pytest


def post(app, name: str, headers: dict[str, str]) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://kernel") as client:
            return await client.post(f"/api/v1/syscalls/{name}", json={}, headers=headers)
    return asyncio.run(go())


@pytest.fixture(autouse=True)
def root_logger():
    """configure() replaces the root logger's handlers, as the daemon does: put pytest's back."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def kernel(tmp_path):
    from kernel.kernel import Kernel
    k = Kernel(tmp_path / "state", operator="ops")
    yield k
    k.close()


def test_records_of_a_call_carry_its_request_id_as_json_lines(kernel, monkeypatch):
    from kernel.api import create_app
    from kernel.logs import configure
    out = io.StringIO()
    configure("json", out)
    whoami = kernel.handlers["auth.whoami"]

    def logged(call):
        logging.getLogger("dataos.test").warning("answering %s", call.caller.id)
        return whoami(call)
    monkeypatch.setitem(kernel.handlers, "auth.whoami", logged)
    app, token = create_app(kernel), kernel.session_token()
    try:
        mine = post(app, "auth.whoami", {"Authorization": f"Bearer {token}", "X-Request-Id": "trace-42.a:b"})
        made = post(app, "auth.whoami", {"Authorization": f"Bearer {token}"})
        odd = post(app, "auth.whoami", {"Authorization": f"Bearer {token}", "X-Request-Id": "x" * 65})
        refused = post(app, "auth.whoami", {"X-Request-Id": "no-token-7"})
    finally:
        logging.getLogger().handlers.clear()
    assert mine.status_code == 200 and mine.headers["X-Request-Id"] == "trace-42.a:b"
    generated = made.headers["X-Request-Id"]
    assert len(generated) == 16 and generated != odd.headers["X-Request-Id"] != "x" * 65
    assert refused.status_code == 401 and refused.headers["X-Request-Id"] == "no-token-7"
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    answering = [r for r in records if r["logger"] == "dataos.test"]
    assert [r["request"] for r in answering] == ["trace-42.a:b", generated, odd.headers["X-Request-Id"]]
    assert answering[0]["message"] == "answering ops" and answering[0]["level"] == "WARNING"
    assert answering[0]["time"].endswith("+00:00")


def test_an_internal_error_names_its_request(kernel, monkeypatch):
    from kernel.api import create_app
    from kernel.logs import configure
    out = io.StringIO()
    configure("json", out)

    def broken(call):
        call.decisions += 1
        raise ZeroDivisionError("a bug")
    monkeypatch.setitem(kernel.handlers, "auth.whoami", broken)
    try:
        answer = post(create_app(kernel), "auth.whoami", {"Authorization": f"Bearer {kernel.session_token()}",
                                                          "X-Request-Id": "bug-1"})
    finally:
        logging.getLogger().handlers.clear()
    assert answer.status_code == 500
    assert answer.json()["error"]["message"] == ("auth.whoami: internal error (ZeroDivisionError, request bug-1); "
                                                 "see `dataos kernel logs`")
    [failed] = [json.loads(line) for line in out.getvalue().splitlines() if "failed" in line]
    assert failed["request"] == "bug-1" and "ZeroDivisionError: a bug" in failed["exception"]


def test_the_daemon_writes_json_lines(kernel_server, monkeypatch):
    monkeypatch.setenv("DATAOS_LOG_FORMAT", "json")
    server = kernel_server()
    server.proc.terminate()
    server.proc.wait(15)
    lines = [json.loads(line) for line in server.log.read_text().splitlines()]
    assert any(r["message"].startswith("created operator user") for r in lines)
    assert lines[-1]["message"] == "kernel stopped" and all(r["request"] is None for r in lines)
