"""What the fuzz suites share: hypothesis settings, the values that break things, mutations of
valid requests and manifests, an in-process kernel, and the tally of what each example got.

Each example's outcome is judged by `verdict`: success, or a SyscallError with a documented errno
that says where the input is wrong in one printable line. A suite records every example in a
`Tally` instead of stopping at the first bad one, so a run counts the failures of each class (the
figures for BENCHMARKS.md), then fails listing the smallest example of each class.
"""
from __future__ import annotations

import contextlib
import copy
import math
import os
import reprlib
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from syscalls.errors import SyscallError
from syscalls.spec import MAX_TEXT, text_problem

EXAMPLES_ENV = "DATAOS_FUZZ_EXAMPLES"
MAX_MESSAGE = 1000  # characters an error line may have (it quotes at most ~80 of the input)
SLOW = 10.0  # seconds one call may take


def examples(default: int) -> int:
    """Examples per test: `default`, or DATAOS_FUZZ_EXAMPLES."""
    return int(os.environ.get(EXAMPLES_ENV) or default)


def fuzz_settings(default: int) -> settings:
    """`examples(default)` per test, the same ones every run unless DATAOS_FUZZ_EXAMPLES is set; no
    example database, no deadline (`verdict` times each call itself)."""
    return settings(max_examples=examples(default), derandomize=EXAMPLES_ENV not in os.environ, database=None,
                    deadline=None, suppress_health_check=list(HealthCheck), print_blob=False)


def time_limit(default: int, per_example: float) -> pytest.MarkDecorator:
    """pytest-timeout's limit for a fuzz test, growing with the examples it runs."""
    return pytest.mark.timeout(120 + per_example * examples(default))


# --- the tally --------------------------------------------------------------------------------

TALLIES: dict[str, Counter] = {}
"""suite -> Counter of "examples", outcomes ("ok", errno codes) and "violation: CLASS"."""


@dataclass
class Tally:
    """The outcomes of one test's examples in `suite`, and the smallest example of each violation."""
    suite: str
    worst: dict[str, tuple[int, str, str]] = field(default_factory=dict)  # class -> (size, example, what happened)

    def __post_init__(self) -> None:
        self.counts = TALLIES.setdefault(self.suite, Counter())

    def record(self, outcome: str, violations: list[str], example: Any, detail: str) -> None:
        self.counts["examples"] += 1
        self.counts[outcome] += 1
        for v in violations:
            self.counts[f"violation: {v}"] += 1
            shown = short(example)
            size = len(example) if isinstance(example, str) else len(shown)
            if v not in self.worst or size < self.worst[v][0]:
                self.worst[v] = (size, shown, detail)

    def check(self) -> None:
        assert not self.worst, "\n".join(f"{v}: {example}\n    -> {detail}"
                                         for v, (_, example, detail) in sorted(self.worst.items()))


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxdict, _REPR.maxlist, _REPR.maxstring, _REPR.maxother, _REPR.maxlong = 6, 8, 8, 80, 80, 40


def short(value: Any, limit: int = 600) -> str:
    """`value` for a report: nesting, long text and big numbers cut short."""
    text = repr(value[:limit + 1]) if isinstance(value, str) else _REPR.repr(value)
    size = len(value) if isinstance(value, str) else len(text)
    return text if len(text) <= limit else f"{text[:limit]}… ({size:,} characters)"


def summary(counts: Counter) -> str:
    outcomes = ", ".join(f"{k} {v}" for k, v in counts.most_common()
                         if k != "examples" and not k.startswith("violation: "))
    bad = ", ".join(f"{k.removeprefix('violation: ')} {v}" for k, v in sorted(counts.items())
                    if k.startswith("violation: "))
    return f"{counts['examples']} examples ({outcomes}); violations: {bad or 'none'}"


# --- judging one outcome ----------------------------------------------------------------------

def verdict(run: Callable[[], Any], allowed: tuple[str, ...], located: Callable[[SyscallError], bool],
            slow: float = SLOW) -> tuple[str, list[str], str]:
    """Run one call: (outcome, violations, what happened). A SyscallError must carry an errno of
    `allowed`, never EIO, and one printable line; EINVAL must be `located`; nothing else may be
    raised, and it must not take over `slow` seconds."""
    started = time.monotonic()
    try:
        run()
    except SyscallError as e:
        outcome, violations, detail = e.code, _problems(e, allowed, located), f"{e} {e.details}"
    except Exception as e:  # noqa: BLE001 — what the fuzz is looking for
        outcome, violations, detail = "raised", [f"raised {type(e).__name__}"], f"{type(e).__name__}: {e}"
    else:
        outcome, violations, detail = "ok", [], "ok"
    if time.monotonic() - started > slow:
        violations.append(f"slower than {slow:g}s")
    return outcome, violations, detail[:400]


def _problems(e: SyscallError, allowed: tuple[str, ...], located: Callable[[SyscallError], bool]) -> list[str]:
    found = []
    if e.code == "EIO":
        found.append("EIO")
    elif e.code not in allowed:
        found.append(f"undocumented {e.code}")
    if e.code == "EINVAL" and not located(e):
        found.append("EINVAL without its location")
    if len(e.message) > MAX_MESSAGE:
        found.append(f"message over {MAX_MESSAGE} characters")
    elif "\n" in e.message or text_problem(e.message):
        found.append("message not one printable line")
    return found


# --- values that break things -----------------------------------------------------------------

HUGE = "x" * (MAX_TEXT + 1)
WIDE = ["x"] * 100_000


def nested(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"a": value}
    return value


NASTY = st.sampled_from([
    None, True, False, 0, -1, 2**63, 2**64, -(2**63) - 1, 10**40, 0.5, -0.0,
    math.inf, -math.inf, math.nan, 1e308, -1e308, 5e-324,
    "", " ", "\0", "a\0b", "\udc80", "x\ud800y", "\u202e", "\x85", "\ufeff", "😀" * 3, HUGE, "x" * 70_000, "x " * 50_000,
    "Bad_Name", "-x", "x" * 49, "a/b", "*", "**", "%s{0}{caller}", "${HOME}", "$$", "'; --", "dataos://",
    "resource://", "dataos://x:y/z#", "users:id:", "roles:id:operator",
    [], [None], [[]], [{}], [1, "a", None], WIDE, {}, {"": None}, {"\udc80": 1}, {"a\0": 1},
    nested(30), nested(2000), nested(2000, "\udc80"),
])
"""Wrong types, out-of-range numbers, text no request may carry, and shapes nobody expects."""

_CHARS = st.characters() | st.sampled_from(["\udc80", "\0", "\n", "\t", "'", '"', "$", "{", "}", "-", ":"])
TEXT = st.text(_CHARS, max_size=30).map(lambda s: s.replace("..", "._").lstrip("/~"))
"""Random text, never a path outside the working directory (fuzzed depots read and write there)."""

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
                    max_leaves=12)


def near(value: Any) -> st.SearchStrategy[Any]:
    """Values of the same kind as `value` (a random string for a string…), to reach its ranges."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.integers() | st.sampled_from([value - 1, value + 1, -value, value * 2**40])
    if isinstance(value, float):
        return st.floats()
    if isinstance(value, str):
        return TEXT | st.sampled_from([value.upper(), value + value, value[:-1], f" {value}", value + "\0"])
    if isinstance(value, list):
        return st.lists(JSON, max_size=3) | st.just(value * 3) | st.just(value[1:])
    if isinstance(value, dict):
        return st.dictionaries(TEXT, JSON, max_size=3)
    return JSON


def any_value(current: Any = None) -> st.SearchStrategy[Any]:
    return st.one_of(NASTY, JSON, near(current))


def _paths(value: Any, depth: int = 8, width: int = 50) -> list[tuple]:
    """Paths to the nodes of `value` (not past `depth`, nor past the first `width` items of a list)."""
    found, stack = [], [((), value)]
    while stack:
        path, node = stack.pop()
        found.append(path)
        if len(path) < depth and isinstance(node, dict):
            stack.extend(((*path, k), v) for k, v in node.items())
        elif len(path) < depth and isinstance(node, list):
            stack.extend(((*path, i), v) for i, v in enumerate(node[:width]))
    return sorted(found, key=lambda p: (len(p), repr(p)))


def _copy_along(value: Any, path: tuple) -> Any:
    """A copy of `value` whose containers on `path` are new ones (the rest is shared)."""
    top = node = copy.copy(value)
    for step in path:
        node[step] = copy.copy(node[step])
        node = node[step]
    return top


@st.composite
def mutated(draw: Any, value: Any, keys: st.SearchStrategy[str] = TEXT, root: bool = True) -> tuple[Any, str]:
    """`value` with one node replaced, removed, or given an extra key or item: (new value, what)."""
    path = draw(st.sampled_from([p for p in _paths(value) if root or p]))
    node = value
    for step in path:
        node = node[step]
    ops = ["set", "set", "set"] + (["drop"] if path else []) + (["add"] if isinstance(node, (dict, list)) else [])
    op = draw(st.sampled_from(ops))
    where = ".".join(map(str, path)) or "(root)"
    if op == "add":
        value = _copy_along(value, path)
        node = value
        for step in path:
            node = node[step]
        new = draw(any_value())
        if isinstance(node, dict):
            key = draw(keys)
            node[key] = new
            return value, f"add {where}.{short(key, 40)} = {short(new, 80)}"
        node.insert(draw(st.integers(0, len(node))), new)
        return value, f"insert into {where}: {short(new, 80)}"
    if not path:
        new = draw(any_value(value))
        return new, f"replace the whole with {short(new, 80)}"
    value = _copy_along(value, path[:-1])
    parent = value
    for step in path[:-1]:
        parent = parent[step]
    if op == "drop":
        del parent[path[-1]]
        return value, f"drop {where}"
    new = draw(any_value(node))
    parent[path[-1]] = new
    return value, f"set {where} = {short(new, 80)}"


# --- an in-process kernel ---------------------------------------------------------------------

_DATABASES: dict[Path, str] = {}  # state -> the database it was first opened on


def open_kernel(state: Path):
    """An embedded kernel's operator client with the reconcilers off: the pods of thousands of
    fuzzed workloads would otherwise start (a `runtime.control` still runs one tick). Reopened,
    it is on the database it was first opened on (a module's kernel comes before a test's
    DATAOS_DATABASE, with DATAOS_TEST_POSTGRESQL=1)."""
    from kernel.kernel import Kernel
    from syscalls.client import Client
    from syscalls.transports import Embedded
    database = _DATABASES.setdefault(state, os.environ.get("DATAOS_DATABASE") or "local")

    class Quiet(Embedded):
        def __init__(self) -> None:  # Embedded's, without the reconciler thread
            self.url = f"embedded://{state}"
            self.kernel = Kernel(state, handoff=False, workloads=False, database=database)

    transport = Quiet()
    return Client(transport, transport.session_token())


def restarts(state: Path, after: str, expect: Any = None) -> str | None:
    """Why a kernel reopened on `state` does not start and serve resource.list (None if it does;
    with `expect`, it must list exactly that fingerprint), counted in the "restarts" tally."""
    problem = _restart(state, expect)
    Tally("restarts").record("ok" if problem is None else "failed", [] if problem is None else ["no restart"],
                             after, problem or "")
    return problem


def _restart(state: Path, expect: Any) -> str | None:
    try:
        client = open_kernel(state)
    except Exception as e:  # noqa: BLE001
        return f"it does not start: {type(e).__name__}: {e}"
    try:
        listed = fingerprint(client)
        client.auth.whoami()
        if expect is not None and listed != expect:
            return f"it lists other resources than before it stopped: {sorted(set(listed) ^ set(expect))[:5]}"
    except Exception as e:  # noqa: BLE001
        return f"it does not serve: {type(e).__name__}: {e}"
    finally:
        client.close()
    return None


def fingerprint(client: Any) -> frozenset:
    """Every stored resource at its generation, and every user with tags and keys."""
    resources = {(r["type"], r.get("workspace") or "", r["name"], r["status"]["uid"], r["status"]["generation"])
                 for r in client.resource.list()}
    users = {(u["id"], tuple(u["tags"]), u.get("description"),
              tuple(k["name"] for k in client.user.apikey.list(user=u["id"])))
             for u in client.user.list()}
    return frozenset(resources | users)


def drain(stream: Any, items: int = 200, seconds: float = 1.5) -> None:
    """Read a stream (at most `items`) in a thread marked cancellable, as the transports do; cancel
    it after `seconds`. Raises what the stream raised, or if it does not end once cancelled."""
    from kernel import streams
    stop, raised = threading.Event(), []

    def read() -> None:
        streams.run_with(stop)
        try:
            with contextlib.closing(stream) if hasattr(stream, "close") else contextlib.nullcontext():
                for _ in zip(range(items), stream):
                    pass
        except BaseException as e:  # noqa: BLE001 — handed to the caller
            raised.append(e)

    reader = threading.Thread(target=read, daemon=True, name="fuzz-drain")
    reader.start()
    reader.join(seconds)
    if reader.is_alive():
        stop.set()
        reader.join(10)
        if reader.is_alive():
            raise RuntimeError("the stream did not end within 10 s of being cancelled")
    if raised:
        raise raised[0]


# --- valid manifests of every type ------------------------------------------------------------

def manifests(lake: Path) -> dict[str, dict[str, Any]]:
    """A valid manifest of each resource type (named fz-TYPE); the depot reads `lake`."""
    command = {"stack": "container", "stackSpec": {"command": ["true"]}}
    access = {"subjects": {"tags": [["roles:id:fz-reader"]]}, "predicates": ["read", "select"],
              "objects": {"paths": ["/poros/workspaces/fz/**", "dataos://fzlake:**"]}, "allow": True}
    sections = {
        "workflow": {"title": "fuzz", "schedule": {"cron": "0 3 * * *", "concurrencyPolicy": "Forbid",
                                                   "timezone": "UTC", "endOn": "2031-01-01T00:00:00Z"},
                     "dag": [{"name": "a", "spec": {**command, "envs": {"A": "1"}}},
                             {"name": "b", "dependencies": ["a"], "retry": {"count": 1, "strategy": "OnFailure",
                                                                          "duration": "1s"},
                              "spec": {"stack": "python", "stackSpec": {"script": "print(1)"}}}]},
        "service": {"replicas": 0, "servicePort": 8080, **command, "resources": {"limits": {"memory": "64Mi"}}},
        "worker": {"replicas": 0, **command},
        "cluster": {"type": "duckdb", "depots": [{"address": "dataos://fzlake"}],
                    "resources": {"memory": "512Mi", "threads": 1}},
        "depot": {"type": "file", "description": "fuzz", "file": {"path": str(lake), "format": "parquet"}},
        "policy": {"access": access},
        "secret": {"type": "key-value", "acl": "r", "data": {"user": "fz", "port": 5432}},
        "instance-secret": {"type": "key-value-properties", "data": {"token": "fz"}},
        "compute": {"purpose": "runnable", "dataplane": "fz"},
    }
    out = {}
    for type_name, section in sections.items():
        name = "fzlake" if type_name == "depot" else f"fz-{type_name}"
        out[type_name] = {"name": name, "version": "v1", "type": type_name, "tags": ["fz", "fuzz:case"],
                          "description": f"a {type_name} the fuzz starts from", type_name: section}
    return out


def write_lake(lake: Path) -> str:
    """A Parquet depot folder with `sales/orders`; returns a base64 Arrow IPC stream of a few rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from clitools import arrow_data
    table = pa.table({"id": [1, 2, 3], "amount": [9.5, 10.0, 3.25], "email": ["a@x.io", "b@x.io", "c@x.io"]})
    (lake / "sales").mkdir(parents=True, exist_ok=True)
    pq.write_table(table, lake / "sales" / "orders.parquet")
    return arrow_data(table)
