"""Stacks: how a job or service spec becomes a pod's command and environment.

Each stack checks its `stackSpec` at apply time (EINVAL naming the field) and turns it into a
command at run time. The same command runs as a local process or in a container image.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any, Callable

from ..poros.schema import Anything, List, Map, Scalar, Schema, Str, fail


@dataclass(frozen=True)
class Stack:
    name: str
    summary: str
    spec: Schema
    command: Callable[[dict[str, Any]], list[str]]
    needs_token: bool = False  # the pod gets a short-lived token for the resource's owner
    check: Callable[[dict[str, Any], str], None] = lambda spec, path: None  # cross-field checks


def _container(spec: dict[str, Any]) -> list[str]:
    return [*spec.get("command", []), *map(str, spec.get("arguments", []))]


def _python(spec: dict[str, Any]) -> list[str]:
    args = [str(a) for a in spec.get("arguments", [])]
    if "script" in spec:
        return [sys.executable, "-c", spec["script"], *args]
    if "file" in spec:
        return [sys.executable, spec["file"], *args]
    return [sys.executable, "-m", spec["module"], *args]


def _sql(spec: dict[str, Any]) -> list[str]:
    """The pod program reads through the Gateway as the owner, runs the steps on its own
    locked-down DuckDB and writes the outputs with `dataset.write` (see dataos_shell/stacks/sql.py)."""
    return [sys.executable, "-m", "dataos_shell.stacks.sql", json.dumps(spec)]


def _check_sql(spec: dict[str, Any], path: str) -> None:
    """Names are unique across inputs and steps, and every output names one of them."""
    seen: dict[str, str] = {}
    for part in ("inputs", "steps"):
        for i, entry in enumerate(spec.get(part, [])):
            if entry["name"].lower() in seen:
                raise fail(f"{path}.{part}[{i}].name",
                           f"{entry['name']!r} is already the name of {seen[entry['name'].lower()]}")
            seen[entry["name"].lower()] = f"{part}[{i}]"
    for i, output in enumerate(spec["outputs"]):
        if output["name"].lower() not in seen:
            raise fail(f"{path}.outputs[{i}].name", f"no input or step named {output['name']!r} "
                       f"(known: {', '.join(e['name'] for p in ('inputs', 'steps') for e in spec.get(p, []))})")


ARGS = List(Scalar())
IDENT = Str(pattern=r"[A-Za-z_][A-Za-z0-9_]*", hint="an SQL identifier (letters, digits, _)")
UDL = Str(pattern=r"dataos://[a-z0-9][-a-z0-9_]*:[A-Za-z0-9_\-]+/[A-Za-z0-9_.\-]+",
          hint="a dataset address such as dataos://depot:collection/dataset")
SQL_SPEC = Map({
    "inputs": List(Map({"name": IDENT, "dataset": UDL, "query": Str()}, required=("name",),
                       one_of=("dataset", "query")), min=1),
    "steps": List(Map({"name": IDENT, "sql": Str()}, required=("name", "sql"))),
    "outputs": List(Map({"name": IDENT, "dataset": UDL, "format": Str(enum=("parquet", "csv", "json")),
                         "options": Map({"saveMode": Str(enum=("overwrite", "append"))})},
                        required=("name", "dataset")), min=1),
    "envs": Anything(),
}, required=("inputs", "outputs"))
STACKS: dict[str, Stack] = {s.name: s for s in (
    Stack("container", "A command, run as a local process or in `image` on Kubernetes",
          Map({"image": Str(), "command": List(Str(), min=1), "arguments": ARGS, "envs": Anything()},
              required=("command",)), _container),
    Stack("python", "A Python script, file or module, with a token for the owner's syscalls",
          Map({"script": Str(), "file": Str(), "module": Str(pattern=r"[A-Za-z_][\w.]*", hint="a module name"),
               "arguments": ARGS, "envs": Anything()}, one_of=("script", "file", "module")),
          _python, needs_token=True),
    Stack("sql", "SQL steps over governed inputs, written to datasets (inputs read as the owner)",
          SQL_SPEC, _sql, needs_token=True, check=_check_sql),
    Stack("scan", "Scan a depot into the catalog (what `depot.scan.cron` runs)",
          Map({"depot": Str()}, required=("depot",)),
          lambda spec: [sys.executable, "-m", "dataos_shell.stacks.scan", spec["depot"]], needs_token=True),
)}


def check_stack(stack: Any, spec: Any, path: str) -> Stack:
    """The stack named by a workload spec, its stackSpec checked (EINVAL naming the field)."""
    found = STACKS.get(stack)
    if found is None:
        raise fail(f"{path}.stack", f"unknown stack {stack!r} (known: {', '.join(sorted(STACKS))})")
    found.spec.check(spec if spec is not None else {}, f"{path}.stackSpec")
    found.check(spec, f"{path}.stackSpec")
    return found


def admit(manifest: dict[str, Any]) -> None:
    """Apply-time check of every stack a workflow, service or worker names, and of its `envs`."""
    section = manifest[manifest["type"]]
    if manifest["type"] == "workflow":
        specs = [(job["spec"], f"workflow.dag[{i}].spec") for i, job in enumerate(section["dag"])]
    else:
        specs = [(section, manifest["type"])]
    for spec, path in specs:
        check_stack(spec["stack"], spec.get("stackSpec"), path)
        for where, envs in ((f"{path}.envs", spec.get("envs")), (f"{path}.stackSpec.envs",
                                                                (spec.get("stackSpec") or {}).get("envs"))):
            _check_envs(envs, where)


def _check_envs(envs: Any, path: str) -> None:
    """Names of environment variables: the kernel's own (DATAOS_*) are not a manifest's to set."""
    if envs is None:
        return
    if not isinstance(envs, dict):
        raise fail(path, "must be a map of NAME: value")
    for name in envs:
        if not isinstance(name, str) or not name or "=" in name:
            raise fail(f"{path}.{name}", "is not an environment variable name")
        if name.upper().startswith("DATAOS_"):
            raise fail(f"{path}.{name}", "DATAOS_* variables are set by the kernel (its URL, the pod's token, "
                                         "secrets folder and name)")
