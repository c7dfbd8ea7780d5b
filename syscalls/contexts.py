"""Contexts (which kernel to talk to) and their credentials (keyring, else a 0600 file).

The config lives in `config.yaml` under the config dir:

    current-context: local
    contexts:
      local: {url: "local://"}
      prod: {url: "https://dataos.example.com"}

Tokens never go in it: they live in the system keyring when a real backend exists, else in
`credentials.json` (mode 0600) beside it. Under $DATAOS_HOME the file is always used, so tests
and scripts never touch the user's keyring. $DATAOS_TOKEN overrides any stored token.

What PyYAML made of the file is kept as JSON in `.config.parsed.json` beside it, for as long
as the file is unchanged: a command reads that instead of importing PyYAML (~10 ms of its start).
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any

from .errors import SyscallError
from .locations import Locations

LOCAL = "local"
PARSED = ".config.parsed.json"
KEYRING_SERVICE = "dataos"
URL_RE = re.compile(r"(local://|embedded://.+|unix://.+|https?://[^\s/]+(/\S*)?)")


@dataclass(frozen=True)
class Context:
    name: str
    url: str
    current: bool = False


class Contexts:
    def __init__(self, locations: Locations | None = None) -> None:
        self.locations = locations or Locations.current()
        self.path = self.locations.config / "config.yaml"
        self.credentials_path = self.locations.config / "credentials.json"
        self._config = self._load()

    # --- contexts ---------------------------------------------------------------------------

    def _load(self) -> dict[str, Any]:
        config: dict[str, Any] = {}
        if self.path.exists():
            config = self._parsed()
        config.setdefault("contexts", {}).setdefault(LOCAL, {"url": "local://"})
        config.setdefault("current-context", LOCAL)
        return config

    def _parsed(self) -> dict[str, Any]:
        """The config file's mapping: as kept in PARSED while the file is unchanged, else parsed now."""
        stamp = _stamp(self.path)
        try:
            kept = json.loads((self.locations.config / PARSED).read_text())
            if kept["stamp"] == stamp:
                return kept["config"]
        except (OSError, ValueError, KeyError, TypeError):
            pass
        import yaml
        try:
            config = yaml.safe_load(self.path.read_text()) or {}
        except yaml.YAMLError as e:
            raise SyscallError("EINVAL", f"{self.path}: not valid YAML ({e})", file=str(self.path)) from None
        if not isinstance(config, dict):
            raise SyscallError("EINVAL", f"{self.path}: expected a mapping", file=str(self.path))
        self._keep(config, stamp)
        return config

    def _keep(self, config: dict[str, Any], stamp: list[int]) -> None:
        """Keep `config` as JSON for the file of `stamp`, unless JSON cannot hold it exactly."""
        try:
            text = json.dumps({"stamp": stamp, "config": config})
            if json.loads(text)["config"] == config:
                tmp = self.locations.config / f"{PARSED}.{os.getpid()}.tmp"  # concurrent commands
                tmp.write_text(text)
                tmp.replace(self.locations.config / PARSED)
        except (OSError, TypeError, ValueError):
            pass  # (a read-only config dir, dates or sets in the YAML): parsed again next time

    def _save(self) -> None:
        import yaml
        self.locations.config.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump(self._config, sort_keys=False))
        tmp.replace(self.path)
        self._keep(self._config, _stamp(self.path))

    def list(self) -> list[Context]:
        current = self._config["current-context"]
        return [Context(name, spec.get("url", ""), name == current)
                for name, spec in self._config["contexts"].items()]

    def get(self, name: str | None = None) -> Context:
        name = name or os.environ.get("DATAOS_CONTEXT") or self._config["current-context"]
        spec = self._config["contexts"].get(name)
        if spec is None:
            raise SyscallError("ENOENT", f"no context named {name!r} (see `dataos context list`)")
        return Context(name, spec.get("url", ""), name == self._config["current-context"])

    def add(self, name: str, url: str) -> Context:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}", name):
            raise SyscallError("EINVAL", f"{name!r} is not a valid context name", field="name")
        if not URL_RE.fullmatch(url):
            raise SyscallError("EINVAL", f"--url: {url!r} is not a kernel URL (https://HOST, http://HOST, "
                               "unix://SOCKET, embedded://DIR or local://)", field="url")
        if name in self._config["contexts"]:
            raise SyscallError("EEXIST", f"context {name!r} already exists")
        self._config["contexts"][name] = {"url": url}
        self._save()
        return Context(name, url)

    def remove(self, name: str) -> Context:
        """Forget a context and its token; `local` becomes current if it was."""
        found = self.get(name)
        if name == LOCAL:
            raise SyscallError("EINVAL", "the local context cannot be removed", field="name")
        self.forget_token(name)
        del self._config["contexts"][name]
        if self._config["current-context"] == name:
            self._config["current-context"] = LOCAL
        self._save()
        return found

    def use(self, name: str) -> Context:
        self.get(name)
        self._config["current-context"] = name
        self._save()
        return self.get(name)

    # --- credentials ------------------------------------------------------------------------

    def token(self, context: str) -> str | None:
        """The stored token of a context ($DATAOS_TOKEN wins)."""
        env = os.environ.get("DATAOS_TOKEN")
        if env:
            return env
        if self._store(context) == "keyring":
            import keyring
            return keyring.get_password(KEYRING_SERVICE, context)
        return self._read_file().get(context)

    def save_token(self, context: str, token: str) -> str | None:
        """Store a context's token; returns a one-line notice when it first had to go to a file
        (once: later tokens join the file the user was told about)."""
        notice = None
        backend = None if self.locations.isolated else _keyring()
        if backend is not None:
            backend.set_password(KEYRING_SERVICE, context, token)
            self._drop_from_file(context)
            store = "keyring"
        else:
            first = not self.credentials_path.exists()
            tokens = self._read_file()
            tokens[context] = token
            self._write_file(tokens)
            store = "file"
            if first and not self.locations.isolated:
                notice = (f"notice: no system keyring is available; the token is stored in "
                          f"{self.credentials_path} (mode 0600)")
        self._config["contexts"][context]["credentials"] = store
        self._save()
        return notice

    def forget_token(self, context: str) -> bool:
        had = False
        if self._store(context) == "keyring":
            import keyring
            from keyring.errors import PasswordDeleteError
            try:
                keyring.delete_password(KEYRING_SERVICE, context)
                had = True
            except PasswordDeleteError:
                pass
        had = self._drop_from_file(context) or had
        self._config["contexts"].get(context, {}).pop("credentials", None)
        self._save()
        return had

    def _store(self, context: str) -> str:
        if self.locations.isolated:
            return "file"
        return self._config["contexts"].get(context, {}).get("credentials", "file")

    def _read_file(self) -> dict[str, str]:
        try:
            return json.loads(self.credentials_path.read_text())
        except FileNotFoundError:
            return {}
        except ValueError:
            raise SyscallError("EINVAL", f"{self.credentials_path}: not valid JSON; remove it and "
                               "`dataos login` again") from None

    def _write_file(self, tokens: dict[str, str]) -> None:
        self.locations.config.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.credentials_path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(tokens, f)
        tmp.replace(self.credentials_path)

    def _drop_from_file(self, context: str) -> bool:
        tokens = self._read_file()
        if context not in tokens:
            return False
        del tokens[context]
        self._write_file(tokens)
        return True


def _stamp(path) -> list[int]:
    """What changes whenever a file is written: its inode, size and modification time."""
    st = path.stat()
    return [st.st_ino, st.st_size, st.st_mtime_ns]


def _keyring():
    """The system keyring, or None when only keyring's fail/null backends exist (headless Linux)."""
    try:
        import keyring
        from keyring.backends import chainer, fail
        backend = keyring.get_keyring()
    except Exception:
        return None
    if isinstance(backend, fail.Keyring) or (isinstance(backend, chainer.ChainerBackend) and not backend.backends):
        return None
    if type(backend).__module__.startswith("keyring.backends.null"):
        return None
    return backend
