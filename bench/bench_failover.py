"""Fail-over: two kernels (`python -m kernel serve`) over one PostgreSQL database; kill -9 the one
that leads (holds the reconciler's lease) and time until the other says it leads (`kernel.info`,
polled every 20 ms). The killed one is started again as the follower, `--kills` times. Also: how
soon an API key made on one replica authenticates on the other (a new client's first call).

    .venv/bin/python bench/bench_failover.py --database postgresql://postgres@127.0.0.1:5432/scratch
        [--kills 7] [--json]
"""
from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))
from common import report  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def start(state: Path, database: str) -> tuple[subprocess.Popen, str]:
    import httpx
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "kernel", "serve", "--state", str(state), "--listen",
                             f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
                            env={**os.environ, "DATAOS_DATABASE": database})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.05)
    raise SystemExit(f"the kernel in {state} did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", required=True, help="an empty PostgreSQL database (its schemas are dropped)")
    parser.add_argument("--kills", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    import psycopg

    import syscalls
    with psycopg.connect(args.database, autocommit=True) as conn:
        for schema in ("audit", "caretaker", "gateway", "heimdall", "metis", "poros", "runtime"):
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    with tempfile.TemporaryDirectory() as tmp:
        states = [Path(tmp) / name / "state" for name in ("a", "b")]
        keys = {"vault.key": os.urandom(64), "gateway.key": os.urandom(32)}
        for state in states:
            state.mkdir(parents=True, mode=0o700)
            for name, value in keys.items():
                (state / name).write_bytes(value)
        kernels = {states[0]: start(states[0], args.database)}
        token = (states[0] / "operator.token").read_text().strip()
        kernels[states[1]] = start(states[1], args.database)
        clients = {state: syscalls.connect(url, token) for state, (_, url) in kernels.items()}
        takeovers, heard = [], []
        try:
            for n in range(args.kills):
                leader = next(s for s in states if clients[s].kernel.info()["leader"])
                other = states[1] if leader == states[0] else states[0]
                user = f"u{n}"
                clients[leader].user.create(name=user)
                key = clients[leader].user.apikey.create(user=user)["token"]
                made = time.monotonic()
                with syscalls.connect(kernels[other][1], key) as them:
                    while True:
                        try:
                            them.auth.whoami()
                            break
                        except syscalls.SyscallError:
                            time.sleep(0.002)
                heard.append((time.monotonic() - made) * 1000)
                proc, _ = kernels[leader]
                clients[leader].close()
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                killed = time.monotonic()
                while not clients[other].kernel.info()["leader"]:
                    time.sleep(0.02)
                takeovers.append(time.monotonic() - killed)
                kernels[leader] = start(leader, args.database)
                clients[leader] = syscalls.connect(kernels[leader][1], token)
        finally:
            for client in clients.values():
                client.close()
            for proc, _ in kernels.values():
                proc.terminate()
                proc.wait(15)
    rows = [("leader killed (kill -9) → the other leads, median / max", "≤ 5 s",
             f"{statistics.median(takeovers):.2f} / {max(takeovers):.2f} s"),
            ("a key made on one replica → a new client's first call on the other, median / max", "-",
             f"{statistics.median(heard):.1f} / {max(heard):.1f} ms")]
    report("Fail-over", rows, args.json, {"takeover_s": takeovers, "heard_ms": heard})


if __name__ == "__main__":
    main()
