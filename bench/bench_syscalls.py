"""Syscall overhead: in-process (goal ≤ 30 µs), over the daemon's Unix socket (goal p50 ≤ 1 ms,
p99 ≤ 5 ms) and over TCP (`python -m kernel serve --listen 127.0.0.1:PORT`, plain HTTP on
loopback: what a remote kernel costs before TLS and the network), measured with `auth.whoami`,
the cheapest full syscall (authenticate, validate, authorize, run, audit). A bare HTTP round trip
to `/healthz` (no kernel work) is the baseline of each.

    .venv/bin/python bench/bench_syscalls.py [--calls 20000] [--json]
"""
from __future__ import annotations

import os
import socket as sockets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import arguments, report, sample, summary  # noqa: E402


def main() -> None:
    args = arguments(__doc__, "calls", 20000)
    from syscalls import connect
    with tempfile.TemporaryDirectory() as tmp:
        with connect(f"embedded://{tmp}/state") as c:
            embedded = summary(sample(c.auth.whoami, args.calls))
            types = summary(sample(lambda: c.call("resource.get", {"type": "policy", "name": "self-read"}),
                                   args.calls // 4))
        os.environ["DATAOS_HOME"] = f"{tmp}/home"
        with connect("local://") as c:
            try:
                socket = summary(sample(c.auth.whoami, args.calls // 4))
                bare = summary(sample(lambda: c.transport.request("GET", "/healthz"), args.calls // 4))
            finally:
                from syscalls.daemon import LocalKernel
                LocalKernel().stop()
        tcp, tcp_bare = over_tcp(Path(tmp) / "tcp", args.calls // 4)
    rows = [
        ("in-process auth.whoami p50", "≤ 30 µs", f"{embedded['p50']:.1f} µs"),
        ("in-process auth.whoami p99", "-", f"{embedded['p99']:.1f} µs"),
        ("in-process resource.get p50", "-", f"{types['p50']:.1f} µs"),
        ("daemon socket auth.whoami p50", "≤ 1 ms", f"{socket['p50'] / 1000:.3f} ms"),
        ("daemon socket auth.whoami p99", "≤ 5 ms", f"{socket['p99'] / 1000:.3f} ms"),
        ("daemon socket GET /healthz p50 (baseline)", "-", f"{bare['p50'] / 1000:.3f} ms"),
        ("TCP (HTTP, loopback) auth.whoami p50 / p99", "-", f"{tcp['p50'] / 1000:.3f} / {tcp['p99'] / 1000:.3f} ms"),
        ("TCP GET /healthz p50 (baseline)", "-", f"{tcp_bare['p50'] / 1000:.3f} ms"),
    ]
    report("Syscall overhead", rows, args.json, {"embedded_us": embedded, "resource_get_us": types,
                                                 "socket_us": socket, "healthz_us": bare, "tcp_us": tcp,
                                                 "tcp_healthz_us": tcp_bare})


def over_tcp(directory: Path, calls: int) -> tuple[dict[str, float], dict[str, float]]:
    """auth.whoami and GET /healthz against `python -m kernel serve --listen` on loopback."""
    import httpx

    from syscalls import connect
    with sockets.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "kernel", "serve", "--state", str(directory / "state"),
                               "--listen", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              cwd=Path(__file__).parent.parent)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the kernel server did not start") from None
                time.sleep(0.05)
        with connect(url, (directory / "state" / "operator.token").read_text().strip()) as c:
            return (summary(sample(c.auth.whoami, calls)),
                    summary(sample(lambda: c.transport.client.get("/healthz"), calls)))
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
