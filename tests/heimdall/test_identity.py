"""Identities at rest and in time: tokens only as hashes, expiry, revocation, first operator."""
from __future__ import annotations

import stat
import time

import pytest

from kernel.kernel import Kernel
from syscalls.errors import SyscallError
from syscalls.locations import TOKEN_HANDOFF


@pytest.fixture
def kernel(tmp_path):
    k = Kernel(tmp_path / "state", operator="ops")
    yield k
    k.close()


def operator_token(k: Kernel) -> str:
    return (k.state_dir / TOKEN_HANDOFF).read_text().strip()


def test_first_start_creates_an_operator_and_hands_over_its_token(kernel):
    handoff = kernel.state_dir / TOKEN_HANDOFF
    assert stat.S_IMODE(handoff.stat().st_mode) == 0o600
    me = kernel.call(operator_token(kernel), "auth.whoami")
    assert me == {"id": "ops", "type": "person", "tags": ["roles:id:operator", "users:id:ops"]}


def test_a_second_start_creates_no_second_operator(tmp_path):
    k = Kernel(tmp_path / "s", operator="ops")
    token = operator_token(k)
    k.close()
    (tmp_path / "s" / TOKEN_HANDOFF).unlink()
    k = Kernel(tmp_path / "s", operator="someone-else")
    try:
        assert not (tmp_path / "s" / TOKEN_HANDOFF).exists()
        assert [u["id"] for u in k.call(token, "user.list")] == ["ops"]
    finally:
        k.close()


def test_tokens_are_stored_only_as_hashes(kernel):
    op = operator_token(kernel)
    kernel.call(op, "user.create", {"name": "ana"})
    key = kernel.call(op, "user.apikey.create", {"user": "ana", "name": "laptop"})
    token = key["token"]
    assert token.startswith("dos_") and len(token) >= 4 + 43  # 32 random bytes, base64url
    kernel.audit.flush()
    for db in kernel.state_dir.glob("*.db*"):
        data = db.read_bytes()
        assert token.encode() not in data, db
        assert token[4:].encode() not in data, db
    assert token not in str(kernel.call(op, "user.get", {"name": "ana"}))
    assert token not in str(kernel.call(op, "audit.list", {"limit": 1000}))


def test_expired_and_revoked_keys_are_refused(kernel):
    op = operator_token(kernel)
    kernel.call(op, "user.create", {"name": "ana"})
    short = kernel.call(op, "user.apikey.create", {"user": "ana", "name": "short", "expires": "1s"})["token"]
    kept = kernel.call(op, "user.apikey.create", {"user": "ana", "name": "kept"})["token"]
    assert kernel.call(short, "auth.whoami")["id"] == "ana"
    time.sleep(1.1)
    with pytest.raises(SyscallError) as e:
        kernel.call(short, "auth.whoami")
    assert e.value.code == "EAUTH" and "expired" in e.value.message
    keys = {k["name"]: k["expired"] for k in kernel.call(op, "user.apikey.list", {"user": "ana"})}
    assert keys == {"short": True, "kept": False}
    kernel.call(op, "user.apikey.delete", {"user": "ana", "name": "kept"})
    with pytest.raises(SyscallError) as e:
        kernel.call(kept, "auth.whoami")
    assert e.value.code == "EAUTH"


def test_deleting_a_user_revokes_their_keys(kernel):
    op = operator_token(kernel)
    kernel.call(op, "user.create", {"name": "ana"})
    token = kernel.call(op, "user.apikey.create", {"user": "ana"})["token"]
    kernel.call(op, "user.delete", {"name": "ana"})
    with pytest.raises(SyscallError) as e:
        kernel.call(token, "auth.whoami")
    assert e.value.code == "EAUTH"


@pytest.mark.parametrize("expires", ["0s", "soon", "1h-", "-1h"])
def test_bad_expiry_is_einval(kernel, expires):
    op = operator_token(kernel)
    with pytest.raises(SyscallError) as e:
        kernel.call(op, "user.apikey.create", {"user": "ops", "expires": expires})
    assert e.value.code == "EINVAL" and e.value.details["field"] == "expires"


def test_the_implied_user_tag_cannot_be_removed(kernel):
    op = operator_token(kernel)
    kernel.call(op, "user.create", {"name": "ana", "tags": ["roles:id:analyst"]})
    with pytest.raises(SyscallError) as e:
        kernel.call(op, "user.update", {"name": "ana", "remove_tags": ["users:id:ana"]})
    assert e.value.code == "EINVAL"
    user = kernel.call(op, "user.update", {"name": "ana", "remove_tags": ["roles:id:analyst"],
                                           "add_tags": ["roles:id:viewer"]})
    assert user["tags"] == ["roles:id:viewer", "users:id:ana"]


def test_a_second_kernel_on_the_same_state_is_refused(kernel):
    with pytest.raises(SyscallError) as e:
        Kernel(kernel.state_dir)
    assert e.value.code == "EUNAVAIL" and "in use" in e.value.message


def test_every_handled_syscall_is_in_the_table_and_vice_versa(kernel):
    from syscalls.table import TABLE
    assert set(kernel.handlers) == set(TABLE)
