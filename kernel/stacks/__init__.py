"""Stacks: how a job or service spec becomes a pod's command and environment.

Each stack checks its `stackSpec` at apply time (EINVAL naming the field) and turns it into a
command at run time. The same command runs as a local process or in a container image.
"""
from __future__ import annotations

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


def _container(spec: dict[str, Any]) -> list[str]:
    return [*spec.get("command", []), *map(str, spec.get("arguments", []))]


def _python(spec: dict[str, Any]) -> list[str]:
    args = [str(a) for a in spec.get("arguments", [])]
    if "script" in spec:
        return [sys.executable, "-c", spec["script"], *args]
    if "file" in spec:
        return [sys.executable, spec["file"], *args]
    return [sys.executable, "-m", spec["module"], *args]


ARGS = List(Scalar())
STACKS: dict[str, Stack] = {s.name: s for s in (
    Stack("container", "A command, run as a local process or in `image` on Kubernetes",
          Map({"image": Str(), "command": List(Str(), min=1), "arguments": ARGS, "envs": Anything()},
              required=("command",)), _container),
    Stack("python", "A Python script, file or module, with a token for the owner's syscalls",
          Map({"script": Str(), "file": Str(), "module": Str(pattern=r"[A-Za-z_][\w.]*", hint="a module name"),
               "arguments": ARGS, "envs": Anything()}, one_of=("script", "file", "module")),
          _python, needs_token=True),
)}


def check_stack(stack: Any, spec: Any, path: str) -> Stack:
    """The stack named by a workload spec, its stackSpec checked (EINVAL naming the field)."""
    found = STACKS.get(stack)
    if found is None:
        raise fail(f"{path}.stack", f"unknown stack {stack!r} (known: {', '.join(sorted(STACKS))})")
    found.spec.check(spec if spec is not None else {}, f"{path}.stackSpec")
    return found


def admit(manifest: dict[str, Any]) -> None:
    """Apply-time check of every stack a workflow, service or worker names."""
    section = manifest[manifest["type"]]
    if manifest["type"] == "workflow":
        for i, job in enumerate(section["dag"]):
            spec = job["spec"]
            check_stack(spec["stack"], spec.get("stackSpec"), f"workflow.dag[{i}].spec")
    else:
        check_stack(section["stack"], section.get("stackSpec"), manifest["type"])
