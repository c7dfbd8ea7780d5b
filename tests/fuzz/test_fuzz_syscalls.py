"""Every syscall, fed requests mutated from valid ones — wrong types, missing, extra, null, huge,
deeply nested or malformed fields, text no request may carry, numbers past 2^63, inf, nan — as the
operator and as an ordinary user, answers with its result or one clear error: an errno the table
documents for it (never EIO), EINVAL naming the field (SQL errors: with a position), one printable
line. A rejected call changes nothing, and afterwards the kernel starts again on its state.

The syscalls come from the table, so a new one is fuzzed as soon as it is declared (from a seed
built from its signature until one is written here). Destructive calls are aimed at victims made
for them (`PREPARE`), never at the operator, so no example can stop the run.
"""
from __future__ import annotations

import re
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clitools import wait_for
from fuzzkit import (JSON, NASTY, TEXT, Tally, drain, fingerprint, fuzz_settings, manifests, mutated,
                     open_kernel, restarts, time_limit, verdict, write_lake)
from syscalls.client import Client
from syscalls.errors import SyscallError
from syscalls.table import TABLE

EXAMPLES = 60  # per syscall and run; DATAOS_FUZZ_EXAMPLES=2000 for the figures in BENCHMARKS.md
pytestmark = [pytest.mark.slow, time_limit(EXAMPLES, per_example=3)]  # an endless watch is cancelled after 1.5 s
ORDERS = "dataos://fzlake:sales/orders"
POOL = ["fz-alice", "fz-app", "fz-workflow", "fz-service", "fz-worker", "fz-cluster", "fzlake", "fz-policy",
        "fz-secret", "workflow", "service", "depot", "policy", "cluster", "secret", "public", "fz", "read", "select",
        "update", "/poros/workspaces/public/workflow/fz-workflow", "dataos://fzlake", "dataos://fzlake:sales", ORDERS,
        f"{ORDERS}#amount", "resource://public/workflow/fz-workflow", "SELECT 1", "SELECT * FROM fzlake.sales.orders",
        "1h", "PII.Email", "duckdb", "postgres"]
"""Strings that mean something to some syscall (never the operator's name: it is not the fuzz's to change)."""
SQL = st.lists(st.sampled_from([
    "SELECT", "1", "*", "x", "amount", "count(*)", "foo(1)", "FROM", "fzlake.sales.orders", "orders", "(SELECT 1) t",
    "range(3)", "WHERE", "GROUP BY ALL", "ORDER BY 1", "LIMIT", "-1", "PIVOT", "ON", "IN", "UNION", "JOIN", "USING",
    ",", ";", "(", ")", "'", '"', "--", "/*", "$1", "?", "::INT", "1/0", "'a'::INT", "INSERT INTO t VALUES (1)",
    "COPY", "ATTACH", "read_csv('x')", "getenv('HOME')", "\udc80", "\0"]), max_size=12).map(" ".join)
"""Statements made of SQL words: parse errors, several statements, unknown names, engine refusals."""
BY_FIELD = {"sql": SQL | st.sampled_from(["", " ", ";", "SELECT 1; SELECT 2", "SELECT x FROM (SELECT 1) t"])}
FIELD_NAMES = sorted({f.name for spec in TABLE.values() for f in spec.fields})


@dataclass
class World:
    """The fuzzed kernel: its operator, an ordinary user, and a resource of every type to aim at."""
    op: Client
    user: Client
    manifests: dict[str, dict[str, Any]]
    arrow: str  # a few rows as dataset.write takes them
    pod: str

    def replenish(self) -> None:
        """Bring back what earlier examples deleted or changed (the users, their key, a resource of each type)."""
        self.op.resource.apply(manifests=list(self.manifests.values()))
        users = {u["id"]: u for u in self.op.user.list()}
        for name, tags in (("fz-alice", ["roles:id:user", "roles:id:fz-reader"]), ("fz-app", [])):
            if name not in users:
                self.op.user.create(name=name, tags=tags, type="application" if name == "fz-app" else "person")
            elif not set(tags) <= set(users[name]["tags"]):
                self.op.user.update(name=name, add_tags=tags)
        if "fz-key" not in {k["name"] for k in self.op.user.apikey.list(user="fz-alice")}:
            self.user.token = self.op.user.apikey.create(user="fz-alice", name="fz-key")["token"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("fuzz-syscalls")
    lake = root / "lake"
    arrow = write_lake(lake)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)  # where fuzzed depots with relative paths read and write
        op = open_kernel(root / "state")
        w = World(op, Client(op.transport, None), manifests(lake), arrow, "")
        w.replenish()
        list(op.catalog.scan(depot="fzlake"))
        op.runtime.control(type="workflow", name="fz-workflow", action="run")
        w.pod = wait_for(lambda: op.transport.kernel.reconciler.tick() or op.pod.list())[0]["name"]
        op.query.execute(sql="SELECT * FROM fzlake.sales.orders")
        try:
            yield w
        finally:
            op.close()
        problem = restarts(root / "state", "after the syscall fuzz")
        assert problem is None, f"after the fuzz, the kernel will not restart: {problem}"


def seeds(w: World) -> dict[str, list[dict[str, Any]]]:
    """Valid requests the fuzz starts from, per syscall (checked by test_every_seed_is_a_valid_request)."""
    new = {t: {**m, "name": f"fz-new-{t}", "tags": ["fz"]} for t, m in w.manifests.items()}
    new["depot"]["name"] = "fznew"
    quality = [{"rule": "ids are unique", "passed": True, "failed_rows": 0, "total_rows": 3, "detail": ""}]
    sql = {"sql": "SELECT id, amount FROM fzlake.sales.orders WHERE amount > 1", "limit": 5, "timeout": 30,
           "cluster": "fz-cluster", "workspace": "public", "dialect": "duckdb"}
    return {
        "kernel.info": [{}],
        "audit.list": [{"limit": 5}, {"user": "fz-alice", "syscall": "user.get", "since": "1h", "errors_only": True}],
        "auth.whoami": [{}],
        "user.create": [{"name": "fz-new", "type": "application", "tags": ["team:fz"], "description": "x"}],
        "user.get": [{"name": "fz-alice"}],
        "user.list": [{}],
        "user.update": [{"name": "fz-app", "add_tags": ["team:fz"], "description": "an app"},
                        {"name": "fz-app", "remove_tags": ["team:fz"]}],
        "user.delete": [{"name": "fz-victim"}],
        "user.apikey.create": [{"user": "fz-app", "name": "fz-k", "expires": "1h"}, {"user": "fz-app"}],
        "user.apikey.list": [{"user": "fz-alice"}],
        "user.apikey.delete": [{"user": "fz-app", "name": "fz-doomed"}],
        "policy.check": [{"user": "fz-alice", "predicate": "read", "object": "/poros/workspaces/fz/workflow/x",
                          "object_tags": ["fz"]}, {"user": "fz-app", "predicate": "select", "object": ORDERS}],
        "resource.types": [{}],
        "resource.apply": [{"manifests": [m]} for m in new.values()] + [
            {"manifests": [new["workflow"], new["compute"]], "workspace": "public", "dry_run": True}],
        "resource.get": [{"type": "workflow", "name": "fz-workflow", "workspace": "public"},
                         {"type": "depot", "name": "fzlake"}],
        "resource.list": [{}, {"type": "policy"}, {"type": "service", "workspace": "public"}],
        "resource.delete": [{"type": "worker", "name": "fz-doomed", "workspace": "public"}],
        "resource.history": [{"type": "workflow", "name": "fz-workflow"}, {"type": "depot", "name": "fzlake"}],
        "resource.watch": [{"timeout": 0.1}, {"type": "workflow", "workspace": "public", "timeout": 0.1}],
        "resource.schema": [{"type": "workflow"}, {"type": "depot"}],
        "pod.list": [{}, {"workspace": "public", "type": "workflow", "name": "fz-workflow"}],
        "pod.get": [{"name": w.pod}],
        "pod.logs": [{"name": w.pod, "tail": 5}, {"name": w.pod, "follow": True}],
        "pod.watch": [{"timeout": 0.1}, {"workspace": "public", "type": "workflow", "name": "fz-workflow",
                                         "timeout": 0.1}],
        "pod.kill": [{"name": w.pod}],
        "event.list": [{"type": "workflow", "name": "fz-workflow", "limit": 5}, {"type": "pod", "name": w.pod}],
        "runtime.get": [{"type": "workflow", "name": "fz-workflow"}, {"type": "service", "name": "fz-service"}],
        "runtime.control": [{"type": "workflow", "name": "fz-workflow", "action": "pause"},
                            {"type": "workflow", "name": "fz-workflow", "action": "resume", "workspace": "public"},
                            {"type": "worker", "name": "fz-worker", "action": "stop"}],
        "query.execute": [{"sql": "SELECT 1"}, sql],
        "query.stream": [{"sql": "SELECT 1"}, sql],
        "query.cancel": [{"id": "fz-query"}],
        "query.list": [{}],
        "query.history": [{"limit": 5}, {"limit": 5, "user": "fz-alice"}],
        "dataset.list": [{"address": "dataos://fzlake"}, {"address": "dataos://fzlake:sales"}],
        "dataset.write": [{"address": "dataos://fzlake:sales/written", "data": w.arrow, "mode": "append"}],
        "catalog.scan": [{"depot": "fzlake"}],
        "catalog.search": [{"text": "orders", "depot": "fzlake", "limit": 5}, {"tag": "fz", "type": "workflow"}],
        "catalog.get": [{"ref": ORDERS}, {"ref": "resource://public/workflow/fz-workflow"}],
        "catalog.tag": [{"ref": ORDERS, "tag": "fz.tag"}, {"ref": ORDERS, "tag": "fz.tag", "remove": True},
                        {"ref": f"{ORDERS}#email", "tag": "fz.tag"}],
        "catalog.describe": [{"ref": ORDERS, "text": "orders of the fuzz"}],
        "catalog.owner": [{"ref": ORDERS, "user": "fz-alice"}],
        "catalog.quality": [{"ref": ORDERS, "results": quality}],
        "catalog.history": [{"ref": ORDERS}],
        "catalog.lineage": [{"ref": ORDERS, "direction": "upstream", "depth": 2}],
    }


def _user(w: World, name: str, present: bool) -> None:
    """Make sure user `name` exists (`present`) or does not."""
    if (name in {u["id"] for u in w.op.user.list()}) == present:
        return
    if present:
        w.op.user.create(name=name)
    else:
        w.op.user.delete(name=name)


def _key(w: World, user: str, name: str, present: bool) -> None:
    """Make sure `user` has an API key `name` (`present`) or not."""
    if (name in {k["name"] for k in w.op.user.apikey.list(user=user)}) == present:
        return
    if present:
        w.op.user.apikey.create(user=user, name=name)
    else:
        w.op.user.apikey.delete(user=user, name=name)


PREPARE: dict[str, Callable[[World], Any]] = {
    "user.create": lambda w: _user(w, "fz-new", present=False),
    "user.delete": lambda w: _user(w, "fz-victim", present=True),
    "user.apikey.create": lambda w: _key(w, "fz-app", "fz-k", present=False),
    "user.apikey.delete": lambda w: _key(w, "fz-app", "fz-doomed", present=True),
    "resource.delete": lambda w: w.op.resource.apply(manifests=[{**w.manifests["worker"], "name": "fz-doomed"}]),
}
"""Before each example: victims for the syscalls that delete, room for those that create."""


def signature_seed(name: str) -> dict[str, Any]:
    """A request for a syscall without a written seed: its required fields, plausibly filled."""
    plain = {str: "fz", int: 1, float: 1.0, bool: False}
    return {f.name: plain.get(f.annotation, []) for f in TABLE[name].fields if f.required}


def typed(ann: Any, field: str = "") -> st.SearchStrategy[Any]:
    """Any value of a field's declared type: what the decoder lets through to the handler."""
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if field in BY_FIELD:
        return BY_FIELD[field]
    if ann is str:
        return st.sampled_from(POOL) | TEXT
    if ann is bool:
        return st.booleans()
    if ann is int:
        return st.integers() | st.sampled_from([0, -1, 2**31, 2**63 - 1, 2**63, -(2**63)])
    if ann is float:
        return st.floats() | st.integers()
    if ann is type(None):
        return st.none()
    if origin is Literal:
        return st.sampled_from(args)
    if origin in (typing.Union, types.UnionType):
        return st.one_of([typed(a) for a in args])
    if origin is list:
        return st.lists(typed(args[0]) if args else JSON, max_size=3)
    return st.dictionaries(TEXT, JSON, max_size=4)


@st.composite
def requests(draw: Any, name: str, seed: list[dict[str, Any]]) -> tuple[Any, list[str]]:
    """A valid request of `name`, changed one to three times: (request, the changes)."""
    spec = TABLE[name]
    request: Any = draw(st.sampled_from(seed))
    changes = []
    for _ in range(draw(st.sampled_from([1, 1, 2, 3]))):
        how = draw(st.sampled_from(["deep", "deep", "typed", "typed", "extra", "whole"] if spec.fields
                                   else ["extra", "whole"]))
        if not isinstance(request, dict):
            how = "whole"
        if how == "typed":
            f = draw(st.sampled_from(spec.fields))
            request = {**request, f.name: draw(typed(f.annotation, f.name))}
            changes.append(f"typed {f.name} = {request[f.name]!r:.80}")
        elif how == "extra":
            key = draw(st.sampled_from(FIELD_NAMES) | TEXT)
            request = {**request, key: draw(NASTY | JSON)}
            changes.append(f"extra {key!r:.40}")
        elif how == "whole" or not request:
            request = draw(st.sampled_from([None, [], [request], "{}", 0, True]) | JSON)
            changes.append("whole request")
        else:
            request, what = draw(mutated(request, st.sampled_from(FIELD_NAMES) | TEXT, root=False))
            changes.append(what)
    return request, changes


def call(client: Client, name: str, request: Any) -> None:
    result = client.call(name, request)
    if TABLE[name].stream:
        drain(result)


def located(name: str, request: Any) -> Callable[[SyscallError], bool]:
    """Does an EINVAL name where the input is wrong: the request's field, a manifest's field with
    its document, or the SQL's position? A request that is no object at all is its own place."""
    def check(e: SyscallError) -> bool:
        d = e.details
        if not isinstance(request, dict) and request is not None:
            return True
        if name.startswith("query.") and "position" in d:
            return True
        if not isinstance(d.get("field"), str):
            return False
        keys = {*(request or {}), *(f.name for f in TABLE[name].fields)}
        field = d["field"]
        return isinstance(d.get("document"), int) or field in keys or re.split(r"[.\[]", field, maxsplit=1)[0] in keys
    return check


def test_every_seed_is_a_valid_request(world: World) -> None:
    """The fuzz starts from requests that work: each seed succeeds as the operator."""
    world.replenish()
    for name, requests_ in seeds(world).items():
        assert name in TABLE, f"a seed for {name}, which is not a syscall"
        for request in requests_:
            if name in PREPARE:
                PREPARE[name](world)
            try:
                call(world.op, name, request)
            except SyscallError as e:
                if name == "query.cancel" and e.code == "ENOENT":
                    continue  # no query is running to cancel: the request is good all the same
                raise AssertionError(f"{name} {request}: {e} {e.details}") from None


FOUND = [  # (syscall, request): what the fuzz found once, tried twice on every run (the second call meets
    # what the first left: a query id already used…)
    ("query.execute", {"sql": ""}),
    ("query.execute", {"sql": "SELECT 1", "id": "fz-once"}),
    ("query.stream", {"sql": "SELECT 1", "id": "fz-once-streamed"}),
    ("query.execute", {"sql": "SELECT 1", "dialect": "Scunthorpe"}),
    ("query.execute", {"sql": "SELECT x FROM (SELECT 1) t"}),
    ("query.stream", {"sql": "SELECT 1; SELECT 2"}),
    ("dataset.write", {"address": "dataos://fzlake:sales/written", "data": "/////xAAAAAAAAAAAAAAAAAAAAAAAAAA"}),
    ("catalog.tag", {"ref": f"{ORDERS}#emai", "tag": "fz"}),
    *(("catalog." + name, {"ref": ref, **extra}) for name, extra in (("get", {}), ("history", {}), ("lineage", {}),
                                                                    ("tag", {"tag": "fz"}), ("describe", {"text": ""}))
      for ref in ("resource://", "resource://public", "resource://public/nosuchtype/x", "resource:///workflow/")),
]


@pytest.mark.parametrize("name, request_", FOUND, ids=lambda v: v if isinstance(v, str) else "")
def test_what_the_fuzz_found_stays_fixed(world: World, name: str, request_: dict[str, Any]) -> None:
    world.replenish()
    for _ in range(2):
        _, violations, detail = verdict(lambda: call(world.op, name, request_), TABLE[name].errors,
                                        located(name, request_))
        assert not violations, f"{violations}: {detail}"


@pytest.mark.parametrize("name", list(TABLE))
def test_fuzzed_requests_get_a_documented_located_answer(world: World, name: str) -> None:
    seed = seeds(world).get(name) or [signature_seed(name)]
    tally = Tally("syscalls")

    @fuzz_settings(EXAMPLES)
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        request, changes = data.draw(requests(name, seed))
        as_user = data.draw(st.sampled_from(["operator"] * 3 + ["user"]))
        client = world.user if as_user == "user" else world.op
        world.replenish()
        if name in PREPARE:
            PREPARE[name](world)
        before = fingerprint(world.op)
        outcome, violations, detail = verdict(lambda: call(client, name, request), TABLE[name].errors,
                                              located(name, request))
        if outcome != "ok" and fingerprint(world.op) != before:
            violations.append("a rejected call changed the state")
        tally.record(outcome, violations, {"syscall": name, "as": as_user, "changes": changes, "request": request},
                     detail)

    fuzz()
    tally.check()
