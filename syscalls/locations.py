"""Where dataos keeps things: everything under $DATAOS_HOME when set, else XDG/platform dirs."""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

APP = "dataos"
SOCKET_MAX = 100  # AF_UNIX paths are limited to 108 bytes
TOKEN_HANDOFF = "operator.token"  # a new kernel's first operator token, in its state dir


@dataclass(frozen=True)
class Locations:
    config: Path  # contexts, credentials file (when there is no keyring)
    data: Path    # the local kernel's state
    run: Path     # socket, pid file
    logs: Path    # the kernel's log
    isolated: bool  # True under $DATAOS_HOME: never touch the user's keyring

    @classmethod
    def current(cls) -> "Locations":
        home = os.environ.get("DATAOS_HOME")
        if home:
            root = Path(home).expanduser().absolute()
            return cls(root / "config", root / "data", root / "run", root / "logs", True)
        import platformdirs
        runtime = os.environ.get("XDG_RUNTIME_DIR")  # without it platformdirs warns and guesses
        if runtime and Path(runtime).is_dir():
            run = Path(platformdirs.user_runtime_dir(APP))
        else:
            run = Path(platformdirs.user_state_dir(APP)) / "run"
        return cls(Path(platformdirs.user_config_dir(APP)), Path(platformdirs.user_data_dir(APP)), run,
                   Path(platformdirs.user_log_dir(APP)), False)

    @property
    def state(self) -> Path:
        return self.data / "kernel"

    @property
    def socket(self) -> Path:
        """`run/kernel.sock`, or — when that path is too long for AF_UNIX — a socket in a private
        (0700, ours, checked) directory under the temp dir."""
        path = self.run / "kernel.sock"
        if len(str(path)) <= SOCKET_MAX:
            return path
        import hashlib
        import tempfile
        digest = hashlib.sha256(str(self.run).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"dataos-{os.getuid()}" / f"{digest}.sock"

    @property
    def pidfile(self) -> Path:
        return self.run / "kernel.pid"

    @property
    def kernel_log(self) -> Path:
        return self.logs / "kernel.log"

    def ensure(self) -> None:
        for path in (self.config, self.data, self.run, self.logs):
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
        private_dir(self.socket.parent)


def private_dir(path: Path) -> Path:
    """Create `path` 0700 if missing; refuse it unless it is a real directory, ours, 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    st = path.lstat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        from .errors import SyscallError
        raise SyscallError("EUNAVAIL", f"{path} must be a directory owned by you with mode 0700; "
                           "refusing to use it for the kernel's socket")
    return path


def squatter(path: Path) -> str | None:
    """What is at a socket's `path` instead of a socket ("a regular file", "a directory", …);
    None when there is nothing, or a socket."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return None
    if stat.S_ISSOCK(mode):
        return None
    kinds = ((stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a directory"), (stat.S_ISLNK, "a symbolic link"))
    return next((kind for test, kind in kinds if test(mode)), "a special file")


def set_aside(path: Path) -> Path:
    """Rename `path` to PATH.stale (PATH.stale.1, … if taken): nothing is deleted. Its new name."""
    n = 0
    while os.path.lexists(target := path.with_name(f"{path.name}.stale" + (f".{n}" if n else ""))):
        n += 1
    path.rename(target)
    return target
