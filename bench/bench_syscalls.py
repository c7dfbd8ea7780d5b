"""Syscall overhead: in-process (goal ≤ 30 µs) and over the daemon's Unix socket
(goal p50 ≤ 1 ms, p99 ≤ 5 ms), measured with `auth.whoami`, the cheapest full syscall
(authenticate, validate, authorize, run, audit). Over the socket, a bare HTTP round trip
to `/healthz` (no kernel work) is the baseline.

    .venv/bin/python bench/bench_syscalls.py [--calls 20000] [--json]
"""
from __future__ import annotations

import os
import sys
import tempfile
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
    rows = [
        ("in-process auth.whoami p50", "≤ 30 µs", f"{embedded['p50']:.1f} µs"),
        ("in-process auth.whoami p99", "-", f"{embedded['p99']:.1f} µs"),
        ("in-process resource.get p50", "-", f"{types['p50']:.1f} µs"),
        ("daemon socket auth.whoami p50", "≤ 1 ms", f"{socket['p50'] / 1000:.3f} ms"),
        ("daemon socket auth.whoami p99", "≤ 5 ms", f"{socket['p99'] / 1000:.3f} ms"),
        ("daemon socket GET /healthz p50 (baseline)", "-", f"{bare['p50'] / 1000:.3f} ms"),
    ]
    report("Syscall overhead", rows, args.json, {"embedded_us": embedded, "resource_get_us": types,
                                                 "socket_us": socket, "healthz_us": bare})


if __name__ == "__main__":
    main()
