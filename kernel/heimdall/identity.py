"""Heimdall's identities: users, their tags and API keys (stored only as hashes)."""
from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from syscalls.errors import SyscallError

from ..clock import iso, parse_duration
from ..names import check_name, check_tag
from ..store import Place, now

TOKEN_PREFIX = "dos_"
OPERATOR_ROLE = "roles:id:operator"
USER_TYPES = ("person", "application")

MIGRATIONS = [
    """
    CREATE TABLE users (
        id TEXT PRIMARY KEY, type TEXT NOT NULL, tags TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '', created TEXT NOT NULL);
    CREATE TABLE apikeys (
        user TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE, name TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE, created TEXT NOT NULL, expires TEXT,
        PRIMARY KEY (user, name))
    """,
]


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated principal: what policies see."""
    id: str
    type: str
    tags: frozenset[str]
    key: str | None = None

    def identity(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "tags": sorted(self.tags)}


def hash_token(token: str) -> str:
    """Tokens carry 256 random bits, so one SHA-256 is a safe hash at rest (no salt needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


class Identities:
    """Users and API keys, with an in-memory cache for authentication on every call."""

    def __init__(self, place: Place) -> None:
        self.db = place.database("heimdall", MIGRATIONS)
        self._users: dict[str, Caller] = {}
        self._keys: dict[str, tuple[str, str, float | None]] = {}  # hash -> (user, key, expires)
        self._sessions: dict[str, tuple[str, str, float | None]] = {}  # in-memory keys (embedded clients)
        self.db.on_change(self._reload)  # a user or key another replica made, changed or revoked
        self._reload()  # after: no write falls between the read and the hearing

    def _reload(self) -> None:
        self._users = {r["id"]: self._caller(r) for r in self.db.query("SELECT * FROM users")}
        self._keys = {r["hash"]: (r["user"], r["name"], _epoch(r["expires"]))
                      for r in self.db.query('SELECT "user", name, hash, expires FROM apikeys')}
        self._sessions = {h: k for h, k in self._sessions.items() if k[0] in self._users}
        self._keys.update(self._sessions)

    @staticmethod
    def _caller(row: Any) -> Caller:
        return Caller(row["id"], row["type"], frozenset(json.loads(row["tags"])) | {f"users:id:{row['id']}"})

    # --- authentication ---------------------------------------------------------------------

    def authenticate(self, token: str | None) -> Caller:
        if not token:
            raise SyscallError("EAUTH", "no credentials: an API token is required")
        digest = hash_token(token) if token.isascii() else None
        entry = self._keys.get(digest) if digest else None
        if digest and digest not in self._sessions and self.db.dialect != "sqlite":
            # Other replicas share the keys: one made or revoked there a moment ago, before we heard
            # of it, is taken or refused here at once (an indexed read; the cache stays for callers).
            stored = bool(self.db.query("SELECT 1 FROM apikeys WHERE hash=?", (digest,)))
            if stored != (entry is not None):
                self._reload()
                entry = self._keys.get(digest) if stored else None
        if entry is None:
            raise SyscallError("EAUTH", "invalid API token (unknown or revoked)")
        user, key, expires = entry
        if expires is not None and expires <= datetime.now(timezone.utc).timestamp():
            raise SyscallError("EAUTH", f"API key {key!r} of user {user!r} has expired")
        caller = self._users[user]
        return Caller(caller.id, caller.type, caller.tags, key)

    # --- users ------------------------------------------------------------------------------

    def is_empty(self) -> bool:
        return not self._users

    def caller(self, name: str) -> Caller:
        found = self._users.get(name)
        if found is None and self.db.dialect != "sqlite":  # made by another replica a moment ago?
            self._reload()
            found = self._users.get(name)
        if found is None:
            raise SyscallError("ENOENT", f"no user {name!r}", user=name)
        return found

    def create_user(self, name: str, type: str = "person", tags: list[str] = (), description: str = ""
                    ) -> dict[str, Any]:
        check_name(name, "name", "user name")
        if type not in USER_TYPES:
            raise SyscallError("EINVAL", f"type: must be person or application, got {type!r}", field="type")
        clean = _clean_tags(name, tags)
        with self.db.transaction() as c:
            if c.execute("SELECT 1 FROM users WHERE id=?", (name,)).fetchone():
                raise SyscallError("EEXIST", f"user {name!r} already exists", user=name)
            c.execute("INSERT INTO users VALUES (?,?,?,?,?)", (name, type, json.dumps(clean), description, now()))
        self._reload()
        return self.get_user(name)

    def get_user(self, name: str) -> dict[str, Any]:
        rows = self.db.query("SELECT * FROM users WHERE id=?", (name,))
        if not rows:
            raise SyscallError("ENOENT", f"no user {name!r}", user=name)
        row = rows[0]
        return {**self._caller(row).identity(), "description": row["description"], "created": row["created"],
                "apikeys": self.list_keys(name)}

    def list_users(self) -> list[dict[str, Any]]:
        return [self.get_user(r["id"]) for r in self.db.query("SELECT id FROM users ORDER BY id")]

    def update_user(self, name: str, add_tags: list[str], remove_tags: list[str],
                    description: str | None) -> dict[str, Any]:
        current = self.get_user(name)
        implied = f"users:id:{name}"
        if implied in remove_tags:
            raise SyscallError("EINVAL", f"remove_tags: {implied} is implied and cannot be removed",
                               field="remove_tags")
        tags = (set(current["tags"]) | set(_clean_tags(name, add_tags, "add_tags"))) - set(remove_tags) - {implied}
        if OPERATOR_ROLE not in tags:
            self._keep_an_operator(name, "remove_tags")
        with self.db.transaction() as c:
            c.execute("UPDATE users SET tags=?, description=COALESCE(?, description) WHERE id=?",
                      (json.dumps(sorted(tags)), description, name))
        self._reload()
        return self.get_user(name)

    def delete_user(self, name: str) -> dict[str, Any]:
        user = self.get_user(name)
        self._keep_an_operator(name, "name")
        with self.db.transaction() as c:
            c.execute("DELETE FROM users WHERE id=?", (name,))
        self._reload()
        return user

    def _keep_an_operator(self, leaving: str, field: str) -> None:
        """There must always be an operator: the last one cannot go or lose the role."""
        others = [u for u, c in self._users.items() if u != leaving and OPERATOR_ROLE in c.tags]
        if OPERATOR_ROLE in self.caller(leaving).tags and not others:
            raise SyscallError("EINVAL", f"{leaving!r} is the last user with {OPERATOR_ROLE}; make another "
                               "operator first", field=field)

    # --- API keys ---------------------------------------------------------------------------

    def create_key(self, user: str, name: str | None, expires: str | None, token: str | None = None
                   ) -> dict[str, Any]:
        self.caller(user)
        name = check_name(name, "name", "key name") if name is not None else _key_name()
        expiry = iso(datetime.now(timezone.utc) + parse_duration(expires, "expires")) if expires else None
        token = token or new_token()
        created = now()
        with self.db.transaction() as c:
            if c.execute('SELECT 1 FROM apikeys WHERE "user"=? AND name=?', (user, name)).fetchone():
                raise SyscallError("EEXIST", f"user {user!r} already has an API key named {name!r}")
            c.execute("INSERT INTO apikeys VALUES (?,?,?,?,?)", (user, name, hash_token(token), created, expiry))
        self._reload()
        return {**_key(user, name, created, expiry), "token": token}

    def session(self, user: str) -> str:
        """A key kept only in memory (its hash), gone when the kernel stops."""
        token = new_token()
        self._sessions[hash_token(token)] = (self.caller(user).id, "session", None)
        self._keys.update(self._sessions)
        return token

    def list_keys(self, user: str) -> list[dict[str, Any]]:
        rows = self.db.query('SELECT * FROM apikeys WHERE "user"=? ORDER BY created, name', (user,))
        return [_key(user, r["name"], r["created"], r["expires"]) for r in rows]

    def keys_older_than(self, prefix: str, seconds: float) -> list[tuple[str, str]]:
        """(user, key name) of every key named `prefix…` created more than `seconds` ago."""
        cutoff = iso(datetime.fromtimestamp(datetime.now(timezone.utc).timestamp() - seconds, timezone.utc))
        rows = self.db.query('SELECT "user", name FROM apikeys WHERE substr(name, 1, ?) = ? AND created < ?',
                             (len(prefix), prefix, cutoff))
        return [(r["user"], r["name"]) for r in rows]

    def delete_key(self, user: str, name: str) -> dict[str, Any]:
        self.caller(user)
        rows = self.db.query('SELECT * FROM apikeys WHERE "user"=? AND name=?', (user, name))
        if not rows:
            raise SyscallError("ENOENT", f"user {user!r} has no API key named {name!r}")
        with self.db.transaction() as c:
            c.execute('DELETE FROM apikeys WHERE "user"=? AND name=?', (user, name))
        self._reload()
        return _key(user, name, rows[0]["created"], rows[0]["expires"])

    def close(self) -> None:
        self.db.close()


def _clean_tags(user: str, tags: list[str], field: str = "tags") -> list[str]:
    for i, tag in enumerate(tags):
        check_tag(tag, f"{field}[{i}]")
        if tag.startswith("users:id:") and tag != f"users:id:{user}":
            raise SyscallError("EINVAL", f"{field}[{i}]: {tag} is another user's identity tag; users:id:NAME "
                               "is implied for each user and cannot be given", field=f"{field}[{i}]")
    return sorted(set(tags) - {f"users:id:{user}"})


def _key_name() -> str:
    return "key-" + secrets.token_hex(4)


def _key(user: str, name: str, created: str, expires: str | None) -> dict[str, Any]:
    expired = expires is not None and _epoch(expires) <= datetime.now(timezone.utc).timestamp()
    return {"name": name, "user": user, "created": created, "expires": expires, "expired": expired}


def _epoch(when: str | None) -> float | None:
    return None if when is None else datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp()
