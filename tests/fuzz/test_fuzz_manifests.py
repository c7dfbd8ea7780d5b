"""Manifests of every resource type, mutated from valid ones (type confusion, out-of-range numbers,
huge values, unknown keys, bad names, nested garbage, bad driver sections, a stale status) and
applied alone or beside a valid document, are applied or refused whole: a documented errno
naming the field and the document at fault, and nothing stored. The kernel starts again on
whatever was stored. YAML text, typed tags and aliases included, parses or is one EINVAL with
file:line, quickly.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from userlib.manifests import parse_manifests
from fuzzkit import (TEXT, Tally, fingerprint, fuzz_settings, manifests, mutated, open_kernel, restarts,
                     time_limit, verdict, write_lake)
from kernel.depot.registry import DRIVERS
from kernel.poros.kinds import KINDS, TOP
from syscalls.errors import SyscallError
from syscalls.table import TABLE

EXAMPLES = 150  # per resource type and run; DATAOS_FUZZ_EXAMPLES=2000 for the figures in BENCHMARKS.md
TEXT_EXAMPLES = 400
pytestmark = [pytest.mark.slow, time_limit(TEXT_EXAMPLES, per_example=0.5)]
APPLY = TABLE["resource.apply"]
KEYS = st.sampled_from(sorted({*TOP, *KINDS, "path", "format", "host", "port", "replicas", "stackSpec", "dag",
                               "status", "generation", "uid", "data", "access", "subjects", "tags"})) | TEXT
"""Keys to add: the ones some type knows, in the wrong place, and random ones."""


ROOT = Path(__file__).resolve().parents[2]
SHIPPED = [ROOT / "examples" / name for name in ("analysts-read.yaml", "orders-api.yaml", "orders-daily.yaml")] + [
    ROOT / "dataos_shell" / "demo" / "manifests.yaml"]
"""The manifests the project ships (its examples, the demo's data policies and SQL workflow): more to start from."""


@dataclass
class Kernel:
    """The fuzzed kernel (reopened by `restart`), a valid manifest of every type, and more of some."""
    state: Path
    valid: dict[str, dict[str, Any]]
    shipped: list[dict[str, Any]]
    op: Any = None

    def bases(self, type_name: str) -> list[dict[str, Any]]:
        return [self.valid[type_name], *(m for m in self.shipped if m["type"] == type_name)]

    def restart(self, after: str) -> str | None:
        """Close and reopen on the same state: why it does not start or lost resources, if so."""
        before = fingerprint(self.op)
        self.op.close()
        problem = restarts(self.state, after, before)
        self.op = open_kernel(self.state)
        return problem


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    root = tmp_path_factory.mktemp("fuzz-manifests")
    write_lake(root / "lake")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)  # where fuzzed depots with relative paths read and write
        shipped = [m.data for path in SHIPPED
                   for m in parse_manifests(path.read_text(), str(path), env={"DEMO_PATH": str(root / "lake")})]
        k = Kernel(root / "state", manifests(root / "lake"), shipped)
        k.op = open_kernel(k.state)
        k.op.resource.apply(manifests=[*k.valid.values(), *shipped])
        try:
            yield k
        finally:
            k.op.close()


def test_every_resource_type_has_a_valid_manifest_to_start_from(kernel: Kernel) -> None:
    assert set(kernel.valid) == set(KINDS) == {t["type"] for t in kernel.op.resource.types()}


# --- mutations --------------------------------------------------------------------------------

DRIVER = st.one_of(
    st.fixed_dictionaries({"path": st.sampled_from(["lake", "", "missing", 5, None, [], {}, True, "x" * 5000]),
                           "format": st.sampled_from(["parquet", "csv", "xlsx", "PARQUET", "", 5, None, ["csv"]])}),
    st.fixed_dictionaries({}, optional={"path": st.sampled_from(["lake", "fz.db", 0, None]),
                                        "colour": st.just("red"), "password": st.just("hunter2")}),
    st.fixed_dictionaries({"host": st.sampled_from(["127.0.0.1", "", 5, None]),
                           "port": st.sampled_from([1, 0, -1, 70000, 2**63, "x", 5432.5, None]),
                           "database": st.sampled_from(["fz", "", None, 3])}),
)
"""Connection sections of a depot: wrong types, formats and ports, unknown keys, a password (never
a host but 127.0.0.1: no fuzzed depot reaches past this machine)."""


@st.composite
def bad_depot(draw: Any, manifest: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """A depot whose driver section is wrong (and sometimes its type too)."""
    kind = draw(st.sampled_from(["file", "file", *sorted(DRIVERS)]))
    section = draw(DRIVER)
    return ({**manifest, "depot": {"type": kind, kind: section}}, f"depot {kind}: {section!r:.100}")


@st.composite
def stale(draw: Any, manifest: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """A manifest read at another generation, or of another resource (a status from elsewhere)."""
    status = draw(st.fixed_dictionaries({}, optional={"generation": st.integers(-1, 5) | st.just(2**70),
                                                      "uid": st.sampled_from(["", "nope", "0" * 36])}))
    return {**manifest, "status": status}, f"status {status}"


@st.composite
def mutant(draw: Any, type_name: str, bases: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    """A valid manifest of `type_name` changed one to three times."""
    valid = draw(st.sampled_from(bases))
    manifest = {**valid, "name": draw(st.sampled_from([valid["name"], f"fz-m-{type_name}"]))}
    changes = []
    for _ in range(draw(st.sampled_from([1, 1, 2, 3]))):
        how = draw(st.sampled_from(["node", "node", "node", "stale"] + (["driver"] if type_name == "depot" else [])))
        if how == "driver" and isinstance(manifest, dict):
            manifest, what = draw(bad_depot(manifest))
        elif how == "stale" and isinstance(manifest, dict):
            manifest, what = draw(stale(manifest))
        else:
            manifest, what = draw(mutated(manifest, KEYS))
        changes.append(what)
    return manifest, changes


# --- applying them ----------------------------------------------------------------------------

_fresh = itertools.count()


def located(document: int) -> Any:
    """An EINVAL names the field and the document at fault (the mutated one: its companion is
    valid), or the place in the request when the decoder refuses it (`manifests…`)."""
    def check(e: SyscallError) -> bool:
        field = e.details.get("field")
        return isinstance(field, str) and (e.details.get("document") == document or field.startswith("manifests"))
    return check


@pytest.mark.parametrize("type_name", sorted(KINDS))
def test_fuzzed_manifests_are_applied_or_refused_whole(kernel: Kernel, type_name: str) -> None:
    tally = Tally("manifests")

    @fuzz_settings(EXAMPLES)
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        manifest, changes = data.draw(mutant(type_name, kernel.bases(type_name)))
        companion_type = data.draw(st.sampled_from(sorted(KINDS)))
        companion = {**kernel.valid[companion_type], "name": f"fz-companion-{next(_fresh)}"}
        layout = data.draw(st.sampled_from(["alone", "first", "second"]))
        documents = {"alone": [manifest], "first": [manifest, companion], "second": [companion, manifest]}[layout]
        at = 1 if layout == "second" else 0
        before = fingerprint(kernel.op)
        outcome, violations, detail = verdict(lambda: kernel.op.resource.apply(manifests=documents),
                                              APPLY.errors, located(at))
        if outcome != "ok":
            if fingerprint(kernel.op) != before:
                violations.append("a rejected apply stored something")
            if layout != "alone" and _ever_applied(kernel.op, companion):
                violations.append("a rejected apply kept its companion's history")
        tally.record(outcome, violations, {"type": type_name, "layout": layout, "changes": changes,
                                           "manifest": manifest}, detail)

    fuzz()
    problem = kernel.restart(f"after the {type_name} manifests")
    tally.check()
    assert problem is None, f"after the {type_name} manifests, the kernel will not restart: {problem}"


def _ever_applied(op: Any, manifest: dict[str, Any]) -> bool:
    try:
        op.resource.history(type=manifest["type"], name=manifest["name"])
    except SyscallError as e:
        if e.code == "ENOENT":
            return False
        raise
    return True


# --- YAML text ---------------------------------------------------------------------------------

SCALAR = st.sampled_from([
    "abc", "''", '""', "0o8", "0x1G", "0b102", "1_000", "+1", "-0", "1e308", "1e999", "-.inf", ".nan", ".NaN",
    "99999999999999999999", "~", "null", "Null", "yes", "no", "maybe", "on", "y", "2024-01-01", "12:30:00",
    "-", "?", ":", "|", ">", "@x", "`x`", "%x", "!", "&", "*", "$FZ", "${FZ}", "${NOPE}", "${NOPE:-d}", "$$",
    "'it''s'", '"\\x41\\u263a\\U0001F600"', '"\\ud800"', "☃", "\t", "\x00", "\x85", "\ufeff", "\udc80", "\x1b[31m",
]) | TEXT
TAG = st.sampled_from(["!!int", "!!float", "!!bool", "!!str", "!!null", "!!map", "!!seq", "!!binary", "!!timestamp",
                       "!!set", "!!omap", "!!pairs", "!!merge", "!!python/object:os.system", "!custom", "!",
                       "!<tag:yaml.org,2002:int>", "!!int !!int"])
VALUE = st.recursive(
    SCALAR | st.tuples(TAG, SCALAR).map(" ".join) | st.sampled_from(["*a", "*nope", "&a x", "&a", "[*a, *a]"]),
    lambda inner: (st.lists(inner, max_size=4).map(lambda v: "[" + ", ".join(v) + "]")
                   | st.lists(st.tuples(SCALAR, inner), max_size=3).map(
                       lambda kv: "{" + ", ".join(f"{k}: {v}" for k, v in kv) + "}")
                   | st.tuples(st.sampled_from(["&a ", "&b ", "!!map ", "!!seq ", "!!str "]), inner).map("".join)),
    max_leaves=8)
LINE = st.one_of(
    st.tuples(st.sampled_from(["", "  ", "    ", "\t", " "]), SCALAR | st.sampled_from(["name", "type", "depot"]),
              st.sampled_from([": ", ":", " : "]), VALUE).map("".join),
    st.tuples(st.sampled_from(["", "  ", "    "]), VALUE).map(lambda p: f"{p[0]}- {p[1]}"),
    st.sampled_from(["---", "...", "--- !!map", "%YAML 1.1", "%TAG ! tag:x,2002:", "# a comment", "<<: *a",
                     "<<: [*a, *b]", "? complex key", ": value", "|", "  folded", "key: |", "key: >-", ""]),
)


def bomb(levels: int) -> str:
    """The billion laughs: each level nine aliases of the one before."""
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "\n".join(lines)


@st.composite
def yaml_texts(draw: Any, valid: list[str]) -> str:
    """YAML-ish text: random lines, alone or spliced into a valid manifest or an alias bomb."""
    base = draw(st.sampled_from(["", *valid, bomb(4), bomb(9)])).splitlines()
    lines = draw(st.lists(LINE, max_size=8))
    at = draw(st.integers(0, len(base)))
    return "\n".join(base[:at] + lines + base[at:])


def yaml_error_located(text: str) -> Any:
    lines = text.count("\n") + 1

    def check(e: SyscallError) -> bool:
        line = e.details.get("line")
        return (isinstance(line, int) and 1 <= line <= lines + 1
                and re.match(rf"fz\.yaml:{line}: ", e.message) is not None)
    return check


def test_fuzzed_yaml_parses_or_is_one_located_einval(kernel: Kernel) -> None:
    valid = [yaml.safe_dump(m, sort_keys=False) for m in kernel.valid.values()] + [p.read_text() for p in SHIPPED]
    tally = Tally("yaml")

    @fuzz_settings(TEXT_EXAMPLES)
    @given(text=yaml_texts(valid))
    def fuzz(text: str) -> None:
        outcome, violations, detail = verdict(lambda: parse_manifests(text, "fz.yaml", env={"FZ": "x"}), ("EINVAL",),
                                              yaml_error_located(text), slow=2.0)
        tally.record(outcome, violations, text, detail)

    fuzz()
    tally.check()
