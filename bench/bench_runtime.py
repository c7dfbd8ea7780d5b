"""The runtime under load: the local driver, the Caretaker and `dataos logs -f`.

1. Local driver throughput: one workflow whose DAG has `--jobs` independent jobs (`true`), on
   an embedded kernel: pods started per second (from the pods' `created`/`started` times), how
   long until `pod.list` shows them all Running or later, and until the run has succeeded. Then
   the reconcile latency of `--single` one-job workflows applied one at a time: from the apply's
   return until `pod.list` shows the pod Running or later (polled every 5 ms), and until the
   process really started (its `started` time). All of it twice: with the bubblewrap sandbox (the
   default) and without (DATAOS_BWRAP naming no program), to show what the sandbox costs.
2. The Caretaker with `--pods` synthetic pods (observed directly on a kernel without reconcilers):
   `pod.list` p50 (goal ≤ 20 ms) for every pod and for one resource's; then a `pod.watch`
   keeping up with `--rate` phase changes a second (distinct pods) for `--seconds`: the share
   of changes seen (goal ≥ 95%) and the lag from observe() to the watch yielding the pod.
3. `dataos logs POD -f` (the real CLI, on a real daemon) on a worker printing `--lines` lines a
   second for `--log-seconds`, a timestamp on each: lag from print to read (goal ≤ 1 s), lines
   received, and memory (the CLI's peak RSS and its growth while streaming; the daemon's RSS).

    .venv/bin/python bench/bench_runtime.py [--jobs 1000] [--single 50] [--pods 10000] [--rate 200]
        [--seconds 5] [--lines 10000] [--log-seconds 5] [--only driver,caretaker,logs] [--json]
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).parent))
from common import report, sample, summary  # noqa: E402

DONE_PHASES = ("Running", "Succeeded", "Failed")
STAMP = "2026-01-01T00:00:00.000Z"


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1000, help="jobs of the one wide workflow")
    parser.add_argument("--single", type=int, default=50, help="one-job workflows applied one at a time")
    parser.add_argument("--pods", type=int, default=10000, help="synthetic pods in the Caretaker")
    parser.add_argument("--rate", type=int, default=200, help="pod changes a second for the watch")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long the watch is fed")
    parser.add_argument("--lines", type=int, default=10000, help="lines a second the worker prints")
    parser.add_argument("--log-seconds", type=float, default=5.0, help="how long the worker prints")
    parser.add_argument("--only", default="driver,caretaker,logs", help="which parts to run (comma-separated)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    return parser.parse_args()


def epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def job(command: list[str]) -> dict[str, Any]:
    return {"stack": "container", "stackSpec": {"command": command}}


def sweep(root: str) -> list[int]:
    """SIGKILL every process whose command line names `root` (shims, pods, a daemon we started)."""
    killed, marker, me = [], root.encode(), os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if marker not in f.read():
                    continue
            os.kill(int(entry), signal.SIGKILL)
            killed.append(int(entry))
        except OSError:
            continue
    return killed


def wait_until(predicate: Callable[[], Any], timeout: float, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)


# --- 1. the local driver --------------------------------------------------------------------

def bench_driver(root: str, jobs: int, single: int) -> dict[str, Any]:
    from syscalls import connect
    out: dict[str, Any] = {"jobs": jobs, "single": single}
    with connect(f"embedded://{root}/wide") as c:
        manifest = {"name": "wide", "version": "v1", "type": "workflow",
                    "workflow": {"dag": [{"name": f"j{i}", "spec": job(["true"])} for i in range(jobs)]}}
        wall, t0 = time.time(), time.monotonic()
        c.resource.apply(manifests=[manifest])
        applied = time.monotonic() - t0
        listed = running = None
        state = None
        while time.monotonic() - t0 < 600:
            pods = c.pod.list(workspace="public", type="workflow", name="wide")
            if listed is None and len(pods) >= jobs:
                listed = time.monotonic() - t0
            if running is None and len(pods) >= jobs and all(p["phase"] in DONE_PHASES for p in pods):
                running = time.monotonic() - t0
            state = c.runtime.get(type="workflow", name="wide")["runtime"]
            if state in ("succeeded", "failed"):
                break
            time.sleep(0.1)
        total = time.monotonic() - t0
        pods = c.pod.list(workspace="public", type="workflow", name="wide")
        created = sorted(epoch(p["created"]) - wall for p in pods)
        started = sorted(epoch(p["started"]) - wall for p in pods if p["started"])
        finished = sorted(epoch(p["finished"]) - wall for p in pods if p["finished"])
        out["wide"] = {
            "state": state, "pods": len(pods), "apply_s": applied, "all_listed_s": listed, "all_running_s": running,
            "succeeded_s": total, "last_created_s": created[-1] if created else None,
            "last_started_s": started[-1] if started else None, "last_finished_s": finished[-1] if finished else None,
            "created_per_s": len(created) / created[-1] if created else None,
            "started_per_s": len(started) / started[-1] if started else None}

    with connect(f"embedded://{root}/single") as c:
        visible, began = [], []
        for i in range(single):
            name = f"one{i}"
            manifest = {"name": name, "version": "v1", "type": "workflow",
                        "workflow": {"dag": [{"name": "j", "spec": job(["true"])}]}}
            c.resource.apply(manifests=[manifest])
            wall, t0 = time.time(), time.perf_counter()
            pod = None
            while time.perf_counter() - t0 < 30:
                pods = c.pod.list(workspace="public", type="workflow", name=name)
                if pods and pods[0]["phase"] in DONE_PHASES:
                    pod = pods[0]
                    break
                time.sleep(0.005)
            if pod is None:
                raise RuntimeError(f"workflow {name}: no running pod after 30 s")
            visible.append((time.perf_counter() - t0) * 1000)
            if pod["started"]:
                began.append(max(0.0, epoch(pod["started"]) - wall) * 1000)
        out["single_visible_ms"] = summary(visible)
        out["single_started_ms"] = summary(began) if began else None
        wait_until(lambda: all(c.runtime.get(type="workflow", name=f"one{i}")["runtime"] == "succeeded"
                               for i in range(single)), 30, 0.2)
    return out


# --- 2. the Caretaker -----------------------------------------------------------------------

def bench_caretaker(root: str, count: int, rate: int, seconds: float) -> dict[str, Any]:
    from kernel.cloud import PodStatus
    from kernel.kernel import Kernel
    from kernel.store import now
    out: dict[str, Any] = {"pods": count}
    kernel = Kernel(f"{root}/caretaker", workloads=False, handoff=False)
    try:
        token = kernel.session_token()
        resources = max(1, count // 50)
        pods = [PodStatus(name=f"svc{i % resources}-{i // resources}", workspace="public", phase="Pending",
                          labels={"dataos.io/resource": f"svc{i % resources}", "dataos.io/type": "service",
                                  "dataos.io/workspace": "public"}, created=STAMP)
                for i in range(count)]
        t0 = time.perf_counter()
        kernel.caretaker.observe(pods)
        out["observe_all_ms"] = (time.perf_counter() - t0) * 1000
        every = {"workspace": "public"}
        one = {"workspace": "public", "type": "service", "name": "svc7"}
        out["list_all_n"] = len(kernel.call(token, "pod.list", every))
        out["list_one_n"] = len(kernel.call(token, "pod.list", one))
        n_all = max(10, min(200, int(3e6 / max(count, 1))))  # about 3 s however many pods
        out["list_all_ms"] = _ms(summary(sample(lambda: kernel.call(token, "pod.list", every), n_all, warmup=3)))
        out["list_one_ms"] = _ms(summary(sample(lambda: kernel.call(token, "pod.list", one), 1000, warmup=20)))

        # The watch: distinct pods go Pending -> Running, `rate` a second.
        changes = min(count, int(rate * seconds))
        changed_at: dict[str, float] = {}
        seen_at: dict[str, float] = {}
        ready = threading.Event()
        initial = [0]
        failure: list[BaseException] = []

        def watch() -> None:
            try:
                for pod in kernel.call(token, "pod.watch", {"workspace": "public", "timeout": seconds + 4}):
                    at = time.perf_counter()
                    if not ready.is_set():
                        initial[0] += 1
                        if initial[0] >= count:
                            ready.set()
                        continue
                    if pod["phase"] == "Running":
                        seen_at.setdefault(pod["name"], at)
                        if len(seen_at) >= changes:
                            return
            except BaseException as e:  # noqa: BLE001 - reported by the main thread
                failure.append(e)
            finally:
                ready.set()

        t0 = time.perf_counter()
        thread = threading.Thread(target=watch, name="watch", daemon=True)
        thread.start()
        ready.wait(60)
        out["watch_initial_ms"] = (time.perf_counter() - t0) * 1000
        observe_ms: list[float] = []
        start = time.perf_counter()
        for i in range(changes):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            s = pods[i]
            changed_at[s.name] = before = time.perf_counter()
            kernel.caretaker.observe([dataclasses.replace(s, phase="Running", started=now())])
            observe_ms.append((time.perf_counter() - before) * 1000)
        fed = time.perf_counter() - start
        thread.join(seconds + 15)
        if failure:
            raise failure[0]
        lags = [(seen_at[n] - changed_at[n]) * 1000 for n in changed_at if n in seen_at]
        out["watch"] = {"changes": changes, "fed_s": fed, "rate_fed": changes / fed if fed else None,
                        "seen": len(lags), "seen_share": len(lags) / changes if changes else None,
                        "lag_ms": summary(lags) if lags else None,
                        "observe_ms": summary(observe_ms) if observe_ms else None}
    finally:
        kernel.close()
    return out


def _ms(us: dict[str, float]) -> dict[str, float]:
    return {k: (v / 1000 if k != "n" else v) for k, v in us.items()}


# --- 3. dataos logs -f ----------------------------------------------------------------------

PRINTER = r"""
import os, sys, time
go, rate, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
out = sys.stdout
out.write("ready\n"); out.flush()
deadline = time.time() + 60
while not os.path.exists(go) and time.time() < deadline:
    time.sleep(0.001)
total, batch = int(rate * seconds), max(1, rate // 1000)
t0 = time.time()
for i in range(total):
    if i % batch == 0:
        out.flush()
        delay = t0 + i / rate - time.time()
        if delay > 0:
            time.sleep(delay)
    out.write(f"{time.time():.6f} {i}\n")
out.flush()
"""


def rss(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in kB ({} once it is gone)."""
    found = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, value = line.split(":", 1)
                    found[key] = int(value.split()[0])
    except OSError:
        pass
    return found


def cpu(pid: int) -> float | None:
    """User + system CPU seconds a process has used so far (None once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class MemoryWatch(threading.Thread):
    """Samples a process's RSS (and CPU time) every 20 ms: its peak, and the RSS over time."""

    def __init__(self, pid: int) -> None:
        super().__init__(name="rss", daemon=True)
        self.pid, self.peak, self.samples, self.stop_event = pid, 0, [], threading.Event()
        self.cpu: float | None = None

    def run(self) -> None:
        while not self.stop_event.is_set():
            now = rss(self.pid)
            used = cpu(self.pid)
            if not now:
                return
            self.cpu = used if used is not None else self.cpu
            self.peak = max(self.peak, now.get("VmHWM", 0), now.get("VmRSS", 0))
            self.samples.append((time.monotonic(), now.get("VmRSS", 0)))
            self.stop_event.wait(0.02)


def bench_logs(root: str, rate: int, seconds: float) -> dict[str, Any]:
    from syscalls import connect
    from syscalls.daemon import LocalKernel
    home = f"{root}/home"
    previous = os.environ.get("DATAOS_HOME")
    os.environ["DATAOS_HOME"] = home
    env = {**os.environ, "DATAOS_HOME": home, "NO_COLOR": "1"}
    dataos = str(Path(sys.executable).parent / "dataos")
    go = Path(root) / "go"
    out: dict[str, Any] = {"rate": rate, "seconds": seconds, "expected": int(rate * seconds)}
    cli: subprocess.Popen | None = None
    client = None
    try:
        client = connect("local://")
        daemon = client.kernel.info()["pid"]
        out["daemon_rss_before_kb"] = rss(daemon).get("VmRSS")
        manifest = {"name": "spew", "version": "v1", "type": "worker",
                    "worker": {"stack": "container",
                               "stackSpec": {"command": [sys.executable, "-c", PRINTER, str(go), str(rate),
                                                         str(seconds)]}}}
        client.resource.apply(manifests=[manifest])
        pod = wait_until(lambda: next((p["name"] for p in client.pod.list(workspace="public", type="worker",
                                                                          name="spew")
                                       if p["phase"] == "Running"), None), 30, 0.02)
        if pod is None:
            raise RuntimeError("the worker's pod did not start in 30 s")
        t0 = time.monotonic()
        cli = subprocess.Popen([dataos, "logs", pod, "-f"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        memory = MemoryWatch(cli.pid)
        memory.start()
        first = cli.stdout.readline()  # "ready": the CLI is up and following
        out["cli_ready_ms"] = (time.monotonic() - t0) * 1000
        if first.strip() != b"ready":
            raise RuntimeError(f"dataos logs -f: unexpected first line {first!r}: {cli.stderr.read()[:500]!r}")
        cli_cpu_before, daemon_cpu_before = cpu(cli.pid), cpu(daemon)
        go.touch()
        streaming = time.monotonic()
        lags, received = [], 0
        timeout = seconds + 120
        for line in cli.stdout:  # until the pod ends and the CLI has printed everything
            at = time.time()
            stamp, _, _ = line.partition(b" ")
            try:
                lags.append((at - float(stamp)) * 1000)
            except ValueError:
                continue
            received += 1
            if time.monotonic() - streaming > timeout:
                break
        ended = time.monotonic()
        daemon_cpu = cpu(daemon)
        code = cli.wait(10)
        memory.stop_event.set()
        memory.join(1)
        out["daemon_rss_after_kb"] = rss(daemon).get("VmRSS")
        out["daemon_hwm_kb"] = rss(daemon).get("VmHWM")
        out["cli_exit"] = code
        out["received"] = received
        out["stream_s"] = ended - streaming
        out["lag_ms"] = summary(lags) if lags else None
        out["cli_peak_rss_kb"] = memory.peak
        during = [kb for t, kb in memory.samples if t >= streaming + 1.0]
        out["cli_rss_growth_kb"] = (during[-1] - during[0]) if len(during) > 1 else None
        out["cli_cpu_s"] = (memory.cpu or 0) - (cli_cpu_before or 0)  # the last sample: a little short
        out["daemon_cpu_s"] = (daemon_cpu or 0) - (daemon_cpu_before or 0)
        client.runtime.control(type="worker", name="spew", action="stop")
        client.resource.delete(type="worker", name="spew")
        wait_until(lambda: client.pod.get(name=pod)["phase"] not in ("Running", "Pending"), 10)
    finally:  # each step runs even if an earlier one fails (main() then sweeps what is left)
        try:
            if cli is not None and cli.poll() is None:
                cli.kill()
                cli.wait(5)
        finally:
            try:
                if client is not None:
                    client.close()
            finally:
                try:
                    LocalKernel().stop()
                finally:
                    if previous is None:
                        os.environ.pop("DATAOS_HOME", None)
                    else:
                        os.environ["DATAOS_HOME"] = previous
    return out


# --- the table ------------------------------------------------------------------------------

def fmt(value: float | None, unit: str, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f} {unit}"


def rows_for(data: dict[str, Any]) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    for key, mode in (("driver", "sandboxed"), ("driver_unsandboxed", "unsandboxed")):
        rows += _driver_rows(data.get(key), mode)
    d, u = data.get("driver"), data.get("driver_unsandboxed")
    if d and u:
        rows += [("sandbox cost: pods started/s, sandboxed / unsandboxed", "-",
                  f"{d['wide']['started_per_s'] / u['wide']['started_per_s']:.2f}×"),
                 ("sandbox cost: apply → process started p50, sandboxed / unsandboxed", "-",
                  f"{d['single_started_ms']['p50'] / u['single_started_ms']['p50']:.2f}×"
                  if d["single_started_ms"] and u["single_started_ms"] else "-")]
    rows += _other_rows(data)
    return rows


def _driver_rows(d: dict[str, Any] | None, mode: str) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    if d:
        w = d["wide"]
        rows += [(f"local driver, {mode}:", "", ""),
            (f"{d['jobs']} jobs: pods created/s (driver)", "-", fmt(w["created_per_s"], "/s")),
            (f"{d['jobs']} jobs: pods started/s", "-", fmt(w["started_per_s"], "/s")),
            (f"{d['jobs']} jobs: last pod started", "-", fmt(w["last_started_s"], "s", 2)),
            (f"{d['jobs']} jobs: all in pod.list, Running+", "-", fmt(w["all_running_s"], "s", 2)),
            (f"{d['jobs']} jobs: run {w['state']}", "-", fmt(w["succeeded_s"], "s", 2)),
            ("1-job workflow apply → pod.list Running+ p50", "-", fmt(d["single_visible_ms"]["p50"], "ms")),
            ("1-job workflow apply → pod.list Running+ p99", "-", fmt(d["single_visible_ms"]["p99"], "ms")),
        ]
        if d["single_started_ms"]:
            rows += [("1-job workflow apply → process started p50", "-", fmt(d["single_started_ms"]["p50"], "ms")),
                     ("1-job workflow apply → process started p99", "-", fmt(d["single_started_ms"]["p99"], "ms"))]
    return rows


def _other_rows(data: dict[str, Any]) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    c = data.get("caretaker")
    if c:
        n, w = c["pods"], c["watch"]
        rows += [
            (f"observe() {n} new pods", "-", fmt(c["observe_all_ms"], "ms")),
            (f"pod.list, {c['list_all_n']} pods p50", "≤ 20 ms", fmt(c["list_all_ms"]["p50"], "ms")),
            (f"pod.list, {c['list_all_n']} pods p99", "-", fmt(c["list_all_ms"]["p99"], "ms")),
            (f"pod.list, one resource ({c['list_one_n']} pods) p50", "-", fmt(c["list_one_ms"]["p50"], "ms", 2)),
            (f"pod.list, one resource ({c['list_one_n']} pods) p99", "-", fmt(c["list_one_ms"]["p99"], "ms", 2)),
            (f"pod.watch initial {n} pods", "-", fmt(c["watch_initial_ms"], "ms")),
            (f"pod.watch changes seen ({w['changes']} at {w['rate_fed']:.0f}/s)", "≥ 95%",
             fmt(100 * w["seen_share"], "%")),
            ("pod.watch lag p50", "-", fmt(w["lag_ms"]["p50"] if w["lag_ms"] else None, "ms")),
            ("pod.watch lag p99", "-", fmt(w["lag_ms"]["p99"] if w["lag_ms"] else None, "ms")),
            ("observe() of 1 pod while watched p50", "-", fmt((w["observe_ms"] or {}).get("p50"), "ms", 2)),
            ("observe() of 1 pod while watched p99", "-", fmt((w["observe_ms"] or {}).get("p99"), "ms", 2)),
        ]
    lg = data.get("logs")
    if lg:
        lag = lg["lag_ms"] or {}
        rows += [
            (f"logs -f lines received (of {lg['expected']})", f"{lg['expected']}", f"{lg['received']}"),
            ("logs -f lag p50", "≤ 1 s", fmt(lag.get("p50"), "ms")),
            ("logs -f lag p99", "≤ 1 s", fmt(lag.get("p99"), "ms")),
            ("logs -f lag max", "≤ 1 s", fmt(lag.get("max"), "ms")),
            ("logs -f CLI start → first line", "-", fmt(lg["cli_ready_ms"], "ms")),
            (f"logs -f CPU while streaming ({lg['stream_s']:.1f} s): daemon", "-", fmt(lg["daemon_cpu_s"], "s", 2)),
            (f"logs -f CPU while streaming ({lg['stream_s']:.1f} s): CLI", "-", fmt(lg["cli_cpu_s"], "s", 2)),
            ("logs -f CLI peak RSS", "bounded", fmt(lg["cli_peak_rss_kb"] / 1024, "MiB")),
            ("logs -f CLI RSS growth while streaming", "≈ 0", fmt((lg["cli_rss_growth_kb"] or 0) / 1024, "MiB")),
            ("daemon RSS before → after", "bounded",
             f"{(lg['daemon_rss_before_kb'] or 0) / 1024:.0f} → {(lg['daemon_rss_after_kb'] or 0) / 1024:.0f} MiB"),
        ]
    return rows


def main() -> None:
    args = parse()
    parts = {p.strip() for p in args.only.split(",") if p.strip()}
    data: dict[str, Any] = {}
    began = time.monotonic()
    root = tempfile.mkdtemp(prefix="dataos-bench-runtime-")
    try:
        if "driver" in parts:
            data["driver"] = bench_driver(f"{root}/sandboxed", args.jobs, args.single)
            os.environ["DATAOS_BWRAP"] = f"{root}/no-bwrap"
            try:
                data["driver_unsandboxed"] = bench_driver(f"{root}/unsandboxed", args.jobs, args.single)
            finally:
                del os.environ["DATAOS_BWRAP"]
        if "caretaker" in parts:
            data["caretaker"] = bench_caretaker(root, args.pods, args.rate, args.seconds)
        if "logs" in parts:
            data["logs"] = bench_logs(root, args.lines, args.log_seconds)
    finally:
        left = sweep(root)
        if left:
            print(f"warning: killed {len(left)} leftover processes: {left}", file=sys.stderr)
        shutil.rmtree(root, ignore_errors=True)
    data["runtime_s"] = time.monotonic() - began
    rows = rows_for(data) + [("benchmark runtime", "≤ 3 min", fmt(data["runtime_s"], "s"))]
    report("Runtime: local driver, Caretaker, logs -f", rows, args.json, data)


if __name__ == "__main__":
    main()
