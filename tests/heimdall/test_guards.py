"""Guards against locking the OS up or borrowing identities, and tokens that never touch disk."""
from __future__ import annotations

import subprocess
import sys

import pytest

from kernel.kernel import Kernel
from syscalls import connect
from syscalls.client import Client
from syscalls.errors import SyscallError
from syscalls.locations import TOKEN_HANDOFF, Locations, private_dir


@pytest.fixture
def k(tmp_path):
    with connect(f"embedded://{tmp_path / 'state'}") as c:
        yield c


def policy(name, subjects, predicates, paths, allow=True):
    return {"name": name, "version": "v1", "type": "policy",
            "policy": {"access": {"subjects": {"tags": subjects}, "predicates": predicates,
                                  "objects": {"paths": paths}, "allow": allow}}}


def fails(code, fn, *args, **kwargs) -> SyscallError:
    with pytest.raises(SyscallError) as e:
        fn(*args, **kwargs)
    assert e.value.code == code, e.value
    return e.value


def test_embedded_kernels_leave_no_token_on_disk(tmp_path, k):
    assert k.auth.whoami()["tags"] == ["roles:id:operator", f"users:id:{k.auth.whoami()['id']}"]
    assert not (tmp_path / "state" / TOKEN_HANDOFF).exists()


def test_the_handoff_file_goes_once_its_token_is_used(tmp_path):
    kernel = Kernel(tmp_path / "s", operator="ops")
    try:
        token = (tmp_path / "s" / TOKEN_HANDOFF).read_text().strip()
        kernel.call(token, "auth.whoami")
        assert not (tmp_path / "s" / TOKEN_HANDOFF).exists()
    finally:
        kernel.close()


def test_a_deny_that_would_lock_its_author_out_is_refused(k):
    me = k.auth.whoami()["id"]
    e = fails("EINVAL", k.resource.apply, manifests=[policy("lockout", [["users:id:*"]], ["*"], ["**"], False)])
    assert e.details["field"] == "policy.access" and "never change or remove it" in e.message
    assert [p["name"] for p in k.resource.list(type="policy")] == ["operator-full-access", "query-submit", "self-read"]
    assert k.auth.whoami()["id"] == me  # nothing changed
    # a narrow deny is fine
    k.resource.apply(manifests=[policy("no-audit", [["roles:id:analyst"]], ["*"], ["/kernel/audit"], False)])


def test_the_last_operator_cannot_go(k):
    me = k.auth.whoami()["id"]
    fails("EINVAL", k.user.delete, name=me)
    fails("EINVAL", k.user.update, name=me, remove_tags=["roles:id:operator"])
    k.user.create(name="second", tags=["roles:id:operator"])
    k.user.update(name=me, remove_tags=["roles:id:operator"])  # now there is another
    assert "roles:id:operator" not in k.user.get(name=me)["tags"]


def test_no_user_can_be_given_another_users_identity_tag(k):
    e = fails("EINVAL", k.user.create, name="mallory", tags=["users:id:root"])
    assert e.details["field"] == "tags[0]"
    k.user.create(name="mallory")
    fails("EINVAL", k.user.update, name="mallory", add_tags=["users:id:root"])


def test_editing_ones_profile_does_not_allow_editing_ones_tags(k):
    k.user.create(name="ana")
    token = k.user.apikey.create(user="ana")["token"]
    k.resource.apply(manifests=[policy("own-profile", [["users:id:*"]], ["update"], ["/heimdall/users/${user}"])])
    ana = Client(k.transport, token)
    assert ana.user.update(name="ana", description="me")["description"] == "me"
    e = fails("EACCES", ana.user.update, name="ana", add_tags=["roles:id:operator"])
    assert "/heimdall/users/ana/tags" in e.message


def test_policy_check_uses_the_stored_tags_of_a_resource(k):
    k.user.create(name="ana", tags=["roles:id:analyst"])
    k.resource.apply(manifests=[
        policy("read-public", [["roles:id:analyst"]], ["read"], ["/poros/workspaces/public/**"]),
        {**policy("no-restricted", [["roles:id:analyst"]], ["read"], ["/nothing"], False),
         "policy": {"access": {"subjects": {"tags": [["roles:id:analyst"]]}, "predicates": ["read"],
                               "objects": {"tags": ["restricted"]}, "allow": False}}},
        {"name": "plan", "version": "v1", "type": "workflow", "tags": ["restricted"],
         "workflow": {"dag": [{"name": "a", "spec": {"stack": "container", "stackSpec": {"command": ["true"]}}}]}}])
    check = k.policy.check(user="ana", predicate="read", object="/poros/workspaces/public/workflow/plan")
    assert check == {"allow": False, "policy": "no-restricted", "reason": "denied by policy 'no-restricted'"}


def test_a_private_socket_dir_must_be_ours_and_closed(tmp_path):
    d = tmp_path / "sock"
    assert private_dir(d) == d
    d.chmod(0o755)
    fails("EUNAVAIL", private_dir, d)


def test_a_long_home_puts_the_socket_in_a_private_temp_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DATAOS_HOME", str(tmp_path / ("x" * 120)))
    sock = Locations.current().socket
    assert len(str(sock)) < 108 and sock.parent.name.startswith("dataos-")


def test_plain_http_is_refused_off_loopback(tmp_path):
    """(Loopback without TLS is what the contract suite's http transport runs on.)"""
    r = subprocess.run([sys.executable, "-m", "kernel", "serve", "--state", str(tmp_path), "--listen", "0.0.0.0:0"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "clear text" in r.stderr
