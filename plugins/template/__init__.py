"""`dataos plugins new NAME`: a plugin package skeleton that installs with pip and works."""
from __future__ import annotations

import keyword
import re
from pathlib import Path

from syscalls.errors import SyscallError

_HERE = Path(__file__).parent
NAME = re.compile(r"[a-z][a-z0-9-]{0,39}")


def write(name: str, parent: Path) -> Path:
    """Write `dataos-NAME/` under `parent`: the package directory. Nothing is written on error."""
    if not NAME.fullmatch(name) or name.endswith("-"):
        raise SyscallError("EINVAL", f"plugin name {name!r}: lowercase letters, digits and -, starting "
                                     "with a letter", field="name")
    module = "dataos_" + name.replace("-", "_")
    if keyword.iskeyword(name.replace("-", "_")):
        raise SyscallError("EINVAL", f"plugin name {name!r} is a Python keyword", field="name")
    root = parent / f"dataos-{name}"
    if root.exists():
        raise SyscallError("EEXIST", f"{root} already exists")
    words = {"{{name}}": name, "{{module}}": module, "{{command}}": name}
    files = {
        "pyproject.toml": "pyproject.toml.in",
        "README.md": "README.md.in",
        f"src/{module}/__init__.py": "plugin.py.in",
        "tests/test_plugin.py": "test_plugin.py.in",
    }
    staging = parent / f".dataos-{name}.new"
    try:
        for target, source in files.items():
            text = (_HERE / source).read_text()
            for key, value in words.items():
                text = text.replace(key, value)
            path = staging / target
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        staging.rename(root)
    except BaseException:
        import shutil
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return root
