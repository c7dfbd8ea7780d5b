"""What `/metrics` tells Prometheus: syscalls by name and errno with their latency, the
reconciler's work, pods by phase, the audit journal's backlog.

Counting is on the syscall path, so it is a dict update and a bisect (well under a microsecond);
the exposition (prometheus_client's text format) is built only when scraped, from those counts
and from what the services hold at that moment. No label names a user, a resource or a query:
figures for operators, nothing a caller could learn about another.
"""
from __future__ import annotations

import bisect
import threading
from collections import defaultdict
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:
    from .kernel import Kernel

BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PHASES = ("Pending", "Running", "Succeeded", "Failed", "Unknown")
UNKNOWN = "(unknown)"  # the label of every name this kernel does not serve: a caller's text is never one


class Syscalls:
    """Per syscall: answers by errno ("" for success) and a latency histogram."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.answers: dict[tuple[str, str], int] = defaultdict(int)
        self.buckets: dict[str, list[int]] = {}
        self.sums: dict[str, float] = defaultdict(float)

    def observe(self, name: str, errno: str | None, seconds: float) -> None:
        with self._lock:
            self.answers[name, errno or ""] += 1
            counts = self.buckets.get(name)
            if counts is None:
                counts = self.buckets[name] = [0] * (len(BUCKETS) + 1)
            counts[bisect.bisect_left(BUCKETS, seconds)] += 1
            self.sums[name] += seconds

    def snapshot(self) -> tuple[dict[tuple[str, str], int], dict[str, list[int]], dict[str, float]]:
        with self._lock:
            return dict(self.answers), {n: list(c) for n, c in self.buckets.items()}, dict(self.sums)


def exposition(kernel: "Kernel") -> bytes:
    """The kernel's metrics in Prometheus's text format."""
    from prometheus_client import CollectorRegistry, generate_latest
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(kernel))
    return generate_latest(registry)


class _Collector:
    def __init__(self, kernel: "Kernel") -> None:
        self.kernel = kernel

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
        kernel = self.kernel
        answers, buckets, sums = kernel.metrics.snapshot()
        calls = CounterMetricFamily("dataos_syscalls", "Syscalls answered, by name and errno (empty: success)",
                                    labels=("syscall", "errno"))
        for (name, errno), n in sorted(answers.items()):
            calls.add_metric((name, errno), n)
        yield calls
        latency = HistogramMetricFamily("dataos_syscall_duration_seconds",
                                        "Time to answer a syscall (a stream: to its first item)", labels=("syscall",))
        for name, counts in sorted(buckets.items()):
            cumulative, running = [], 0
            for bound, n in zip((*map(str, BUCKETS), "+Inf"), counts):
                running += n
                cumulative.append((bound, running))
            latency.add_metric((name,), cumulative, sums[name])
        yield latency
        pods = GaugeMetricFamily("dataos_pods", "Pods the kernel keeps, by phase", labels=("phase",))
        phases = defaultdict(int, {phase: 0 for phase in PHASES})
        for pod in kernel.caretaker.list():
            phases[pod["phase"]] += 1
        for phase, n in sorted(phases.items()):
            pods.add_metric((phase,), n)
        yield pods
        reconciler = kernel.reconciler
        yield CounterMetricFamily("dataos_reconcile_ticks", "Passes of the reconciler over every resource",
                                  value=reconciler.ticks)
        yield GaugeMetricFamily("dataos_reconcile_backlog",
                                "Resources whose last reconcile failed, waiting to be tried again",
                                value=reconciler.backlog)
        yield GaugeMetricFamily("dataos_audit_backlog", "Audit records in the journal, not yet in the database",
                                value=kernel.audit.backlog())
        yield _info(kernel)


def _info(kernel: "Kernel") -> Any:
    from prometheus_client.core import GaugeMetricFamily

    from syscalls import __version__
    info = GaugeMetricFamily("dataos_kernel_info", "This kernel: its version, database and cloud",
                             labels=("version", "database", "cloud"))
    info.add_metric((__version__, "postgresql" if kernel.place.url else "sqlite", kernel.cloud.name), 1)
    return info
