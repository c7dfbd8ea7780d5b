"""A request is refused by its size before it is parsed: a body of ten million tiny values would
take the kernel ~900 MB to parse, so it is EINVAL at once and the kernel's memory stays flat."""
from __future__ import annotations

import re
from pathlib import Path

import httpx


def peak_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


def test_a_request_of_too_many_values_is_refused_before_it_is_parsed(kernel_server):
    server = kernel_server()
    token = (server.state / "operator.token").read_text().strip()
    before = peak_mib(server.proc.pid)
    body = b'{"manifests": [' + b",".join([b"{}"] * 10_000_000) + b"]}"  # 28 MiB, under the body cap
    r = httpx.post(server.url + "/api/v1/syscalls/resource.apply", content=body, timeout=60,
                   headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "EINVAL" and "more than 500,000 values" in error["message"]
    assert peak_mib(server.proc.pid) - before < 200  # the body, a copy or two; not the parse
    assert httpx.get(server.url + "/healthz").status_code == 200
