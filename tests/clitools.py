"""Helpers shared by the tests: the `dataos` command, assertions about a finished one, waiting."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Callable


def dataos_command() -> list[str]:
    """The installed `dataos` beside this Python, else on PATH, else `python -m dataos_shell`."""
    beside = Path(sys.executable).with_name("dataos")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("dataos")
    if found:
        return [found]
    return [sys.executable, "-m", "dataos_shell"]


DATAOS = dataos_command()


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def no_traceback(r: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in r.stdout + r.stderr, r.stdout + r.stderr


def ok(r: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert r.returncode == 0, f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    no_traceback(r)
    return r


def error_line(r: subprocess.CompletedProcess, code: str, exit_code: int) -> str:
    """The one error line of a failed command (and nothing else on stderr)."""
    assert r.returncode == exit_code, f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    no_traceback(r)
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"error: {code}: "), lines[0]
    return lines[0]


def as_json(r: subprocess.CompletedProcess):
    return json.loads(ok(r).stdout)


def wait_for(what: Callable[[], Any], timeout: float = 20.0, every: float = 0.05) -> Any:
    """Poll `what` until it returns something true; that value, or AssertionError at the timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = what()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out; last value: {last!r}")


def pip_install(target: Path, *packages: Path) -> None:
    """pip, offline: the packages' own metadata (entry points included) lands in `target`."""
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                        "--no-index", "--disable-pip-version-check", "--target", str(target), *map(str, packages)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr


def plugin_package(root: Path, name: str, code: str, group: str = "dataos.plugins", version: str = "1.0",
                   module: str | None = None) -> Path:
    """A one-module plugin package `dataos-NAME` under `root` (entry point NAME in `group`): its path."""
    import textwrap
    module = module or f"dataos_{name}"
    pkg = root / f"dataos-{module.removeprefix('dataos_')}"
    (pkg / module).mkdir(parents=True)
    (pkg / module / "__init__.py").write_text(textwrap.dedent(code))
    (pkg / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [build-system]
        requires = ["setuptools>=69"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "dataos-{module.removeprefix('dataos_')}"
        version = "{version}"
        [project.entry-points."{group}"]
        {name} = "{module}"
        [tool.setuptools]
        packages = ["{module}"]
    """))
    return pkg


def arrow_data(table: Any) -> str:
    """A `pyarrow.Table` as `dataset.write` takes it: a base64 Arrow IPC stream."""
    import base64

    import pyarrow as pa
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return base64.b64encode(sink.getvalue().to_pybytes()).decode()


def apply_file_depot(run: Callable[..., subprocess.CompletedProcess], name: str, root: Path,
                     **options: Any) -> subprocess.CompletedProcess:
    """Apply a `file` depot `name` over `root` through the `dataos` CLI (`run`: a Runner)."""
    manifest = root / "depot.yaml"
    manifest.write_text(f"name: {name}\nversion: v1\ntype: depot\ndepot:\n  type: file\n  file: {{path: {root}}}\n")
    return ok(run("apply", "-f", str(manifest), **options))


def two_jobs(name: str, first: str = "echo extracted", last: str = "echo loading; echo broken; exit 3") -> str:
    """A workflow manifest: job `extract` runs `first`, then job `load` runs `last` (it fails)."""
    return f"""\
name: {name}
version: v1
type: workflow
workflow:
  dag:
    - name: extract
      spec: {{stack: container, stackSpec: {{command: [sh, -c, "{first}"]}}}}
    - name: load
      dependencies: [extract]
      spec: {{stack: container, stackSpec: {{command: [sh, -c, "{last}"]}}}}
"""
