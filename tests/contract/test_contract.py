"""The syscall contract, asserted identically on every transport: embedded (in-process), the
local daemon over its Unix socket, HTTP and HTTPS. One kernel per transport per module; every
test makes its own users, roles and resources (unique names), so tests never see each other.
"""
from __future__ import annotations

import copy

import hashlib
import json
import re
import time
import uuid
from typing import Any

import pytest

import syscalls
from syscalls import SyscallError
from syscalls.table import TABLE

TRANSPORTS = ["embedded", "unix", "http", "https", "postgresql", "replicas"]  # postgresql: embedded, state in
# PostgreSQL; replicas: two such kernels over one database, calls alternating between them


@pytest.fixture(scope="module", params=TRANSPORTS)
def k(request: pytest.FixtureRequest):
    """The kernel under test, behind one transport: `k.op` (operator) and `k.make_client(token)`."""
    return request.getfixturevalue(request.param)


# --- helpers -------------------------------------------------------------------------------------

def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def fails(code: str, fn, *args: Any, **kwargs: Any) -> SyscallError:
    with pytest.raises(SyscallError) as caught:
        fn(*args, **kwargs)
    assert caught.value.code == code, f"expected {code}, got {caught.value.code}: {caught.value.message}"
    return caught.value


def new_user(k, *tags: str, expires: str | None = None) -> tuple[str, Any, dict[str, Any]]:
    """A new user with these tags, a client holding their new API key, and the key."""
    name = uniq("u")
    k.op.user.create(name=name, tags=list(tags))
    key = k.op.user.apikey.create(user=name, expires=expires)
    return name, k.make_client(key["token"]), key


def spec_of(resource: dict[str, Any]) -> dict[str, Any]:
    """A resource without what its runtime changes on its own: the manifest, uid and generation."""
    status = resource["status"]
    return {**{k: v for k, v in resource.items() if k != "status"},
            "status": {"uid": status["uid"], "generation": status["generation"]}}


TRUE = {"stack": "container", "stackSpec": {"command": ["true"]}}  # a job that ends at once


def workflow(name: str, *, description: str = "", tags: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    m: dict[str, Any] = {"name": name, "version": "v1", "type": "workflow",
                         "workflow": {"dag": [{"name": "load", "spec": copy.deepcopy(TRUE)},
                                              {"name": "report", "dependencies": ["load"],
                                               "spec": copy.deepcopy(TRUE)}]}}
    if description:
        m["description"] = description
    if tags is not None:
        m["tags"] = tags
    m.update(extra)
    return m


def depot(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "version": "v1", "type": "depot", "depot": {"type": "file", "file": {"path": "/tmp"}},
            **extra}


def access_policy(name: str, subjects: list[list[str]], predicates: list[str], paths: list[str] | None = None,
                  *, allow: bool = True, object_tags: list[str] | None = None) -> dict[str, Any]:
    objects: dict[str, Any] = {}
    if paths is not None:
        objects["paths"] = paths
    if object_tags is not None:
        objects["tags"] = object_tags
    return {"name": name, "version": "v1", "type": "policy",
            "policy": {"access": {"subjects": {"tags": subjects}, "predicates": predicates,
                                  "objects": objects, "allow": allow}}}


def dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


# --- authentication ------------------------------------------------------------------------------

def test_whoami_of_the_operator(k):
    me = k.op.auth.whoami()
    assert set(me) == {"id", "type", "tags"}
    assert me["type"] == "person"
    assert "roles:id:operator" in me["tags"]
    assert f"users:id:{me['id']}" in me["tags"]


def test_whoami_of_a_new_user(k):
    name, client, _ = new_user(k, "roles:id:analyst")
    me = client.auth.whoami()
    assert me["id"] == name
    assert sorted(me["tags"]) == sorted(["roles:id:analyst", f"users:id:{name}"])
    assert "roles:id:operator" not in me["tags"]


def test_missing_token_is_eauth(k):
    e = fails("EAUTH", k.make_client(None).auth.whoami)
    assert e.exit_code == 3 and e.message


@pytest.mark.parametrize("token", ["garbage", "dos_" + "A" * 43, "Bearer x"])
def test_garbage_token_is_eauth(k, token):
    fails("EAUTH", k.make_client(token).auth.whoami)
    fails("EAUTH", k.make_client(token).resource.list)


def test_revoked_key_is_eauth(k):
    name, client, key = new_user(k)
    assert client.auth.whoami()["id"] == name
    revoked = k.op.user.apikey.delete(user=name, name=key["name"])
    assert revoked["name"] == key["name"] and "token" not in revoked
    fails("EAUTH", client.auth.whoami)
    fails("ENOENT", k.op.user.apikey.delete, user=name, name=key["name"])


def test_deleting_a_user_revokes_their_keys(k):
    name, client, _ = new_user(k)
    client.auth.whoami()
    k.op.user.delete(name=name)
    fails("EAUTH", client.auth.whoami)
    k.op.user.create(name=name)  # the same name again does not bring the old key back
    fails("EAUTH", client.auth.whoami)


@pytest.mark.slow
def test_expired_key_is_eauth(k):
    name, client, key = new_user(k, expires="1s")
    assert key["expires"] is not None and key["expired"] is False
    assert client.auth.whoami()["id"] == name
    time.sleep(1.2)
    e = fails("EAUTH", client.auth.whoami)
    assert "expired" in e.message
    [listed] = k.op.user.apikey.list(user=name)
    assert listed["expired"] is True


@pytest.mark.parametrize("expires", ["0s", "soon", "24", "-1h"])
def test_bad_expiry_is_einval(k, expires):
    name = uniq("u")
    k.op.user.create(name=name)
    e = fails("EINVAL", k.op.user.apikey.create, user=name, expires=expires)
    assert e.details.get("field") == "expires"


@pytest.mark.parametrize("expires", ["3000000d", "99999999999d"])
def test_absurd_expiry_is_einval_not_eio(k, expires):
    """Regression: an expiry past datetime.max was an OverflowError answered as EIO."""
    name = uniq("u")
    k.op.user.create(name=name)
    e = fails("EINVAL", k.op.user.apikey.create, user=name, expires=expires)
    assert e.details.get("field") == "expires"


# --- the request contract ------------------------------------------------------------------------

def test_unknown_syscall_is_enosys(k):
    e = fails("ENOSYS", k.op.call, "nope.nothing", {})
    assert "nope.nothing" in e.message and e.exit_code == 8
    e = fails("ENOSYS", k.op.call, "user.gett", {"name": "x"})
    assert "user.get" in e.message  # the nearest name is suggested


@pytest.mark.parametrize("name, request_, field", [
    ("user.get", {"name": 3}, "name"),                       # wrong type
    ("user.get", {"name": "x", "colour": "red"}, "colour"),  # unknown field
    ("user.get", {}, "name"),                                # missing field
    ("user.create", {"name": "x", "tags": "a"}, "tags"),     # a list expected
    ("user.create", {"name": "x", "tags": [1]}, "tags"),     # list items typed
    ("user.create", {"name": "x", "type": "robot"}, "type"),  # a Literal
    ("audit.list", {"limit": True}, "limit"),                # a bool is not an int
    ("resource.apply", {"manifests": {}}, "manifests"),
])
def test_bad_request_is_einval_naming_the_field(k, name, request_, field):
    e = fails("EINVAL", k.op.call, name, request_)
    assert e.details.get("field") == field
    assert field in e.message and e.exit_code == 2


def test_request_must_be_an_object(k):
    fails("EINVAL", k.op.call, "auth.whoami", ["not", "an", "object"])


def test_every_table_syscall_is_served(k):
    """No syscall of the table is ENOSYS on a full kernel (a missing handler would be). Calls
    with a required field fail validation before any handler runs; of the others only reads run."""
    for name, spec in TABLE.items():
        harmless = any(f.required for f in spec.fields) or spec.predicate == "read" or \
            name.rpartition(".")[2] in ("list", "types", "whoami", "info", "get")
        if not harmless:
            continue
        try:
            k.op.call(name, {})
        except SyscallError as e:
            assert e.code != "ENOSYS", f"{name}: {e}"


def test_kernel_info(k):
    info = k.op.kernel.info()
    assert info["version"] == syscalls.__version__
    assert info["syscalls"] == len(TABLE)
    _, client, _ = new_user(k)
    fails("EACCES", client.kernel.info)


# --- users and API keys --------------------------------------------------------------------------

def test_user_lifecycle(k):
    name = uniq("ana")
    created = k.op.user.create(name=name, tags=["roles:id:analyst", "roles:id:analyst"], description="Ana")
    assert created["id"] == name and created["type"] == "person"
    assert sorted(created["tags"]) == ["roles:id:analyst", f"users:id:{name}"]
    assert created["description"] == "Ana" and created["apikeys"] == [] and created["created"].endswith("Z")
    assert k.op.user.get(name=name) == created
    assert name in [u["id"] for u in k.op.user.list()]

    e = fails("EEXIST", k.op.user.create, name=name)
    assert name in e.message

    updated = k.op.user.update(name=name, add_tags=["team:sales"], remove_tags=["roles:id:analyst"],
                               description="Ana B")
    assert sorted(updated["tags"]) == ["team:sales", f"users:id:{name}"]
    assert updated["description"] == "Ana B"
    assert k.op.user.get(name=name)["tags"] == updated["tags"]
    fails("EINVAL", k.op.user.update, name=name, remove_tags=[f"users:id:{name}"])

    deleted = k.op.user.delete(name=name)
    assert deleted["id"] == name
    fails("ENOENT", k.op.user.get, name=name)
    fails("ENOENT", k.op.user.delete, name=name)
    fails("ENOENT", k.op.user.update, name=name, add_tags=["x"])
    assert name not in [u["id"] for u in k.op.user.list()]


def test_application_user(k):
    name = uniq("app")
    assert k.op.user.create(name=name, type="application")["type"] == "application"


@pytest.mark.parametrize("name", ["Ana", "ana_b", "-ana", "ana-", "", "a" * 49])
def test_bad_user_name_is_einval(k, name):
    e = fails("EINVAL", k.op.user.create, name=name)
    assert e.details.get("field") == "name"


def test_bad_tag_is_einval(k):
    e = fails("EINVAL", k.op.user.create, name=uniq("u"), tags=["has space"])
    assert e.details.get("field", "").startswith("tags")


def test_missing_users_are_enoent(k):
    missing = uniq("nobody")
    for fn, kwargs in [(k.op.user.get, {"name": missing}), (k.op.user.apikey.create, {"user": missing}),
                       (k.op.user.apikey.list, {"user": missing}),
                       (k.op.user.apikey.delete, {"user": missing, "name": "k"}),
                       (k.op.policy.check, {"user": missing, "predicate": "read", "object": "/x"})]:
        fails("ENOENT", fn, **kwargs)


def test_apikey_tokens_are_random_and_shown_once(k):
    name = uniq("u")
    k.op.user.create(name=name)
    keys = [k.op.user.apikey.create(user=name, name=f"k{i}") for i in range(3)]
    tokens = [key["token"] for key in keys]
    for token in tokens:
        assert token.startswith("dos_")
        assert re.fullmatch(r"dos_[A-Za-z0-9_-]{43,}", token), token  # ≥ 43 url-safe chars: ≥ 256 bits
    assert len(set(tokens)) == 3
    assert {key["name"] for key in keys} == {"k0", "k1", "k2"}
    fails("EEXIST", k.op.user.apikey.create, user=name, name="k0")

    listed = k.op.user.apikey.list(user=name)
    assert [key["name"] for key in listed] == ["k0", "k1", "k2"]
    assert all(set(key) == {"name", "user", "created", "expires", "expired"} for key in listed)
    outputs = dump([k.op.user.get(name=name), k.op.user.list(), listed, k.op.audit.list(limit=1000)])
    for token in tokens:
        assert token not in outputs
        assert token.removeprefix("dos_") not in outputs
        assert hashlib.sha256(token.encode()).hexdigest() not in outputs  # not even the stored hash
    for token in tokens:
        assert k.make_client(token).auth.whoami()["id"] == name


def test_a_user_reads_themselves_but_not_others(k):
    name, client, _ = new_user(k)
    assert client.user.get(name=name)["id"] == name
    assert [u["id"] for u in client.user.list()] == [name]  # the list is filtered
    other = k.op.auth.whoami()["id"]
    e = fails("EACCES", client.user.get, name=other)
    assert f"/heimdall/users/{other}" in e.message
    fails("EACCES", client.user.create, name=uniq("x"))
    fails("EACCES", client.user.apikey.create, user=name)  # creating keys, even your own, needs a grant
    assert {t["type"] for t in client.resource.types()} >= {"workflow", "depot", "policy"}


# --- access policies -----------------------------------------------------------------------------

def test_access_is_granted_denied_and_revoked_by_policy_resources(k):
    role = f"roles:id:{uniq('reader')}"
    name, client, _ = new_user(k, role)
    target = uniq("target")
    k.op.user.create(name=target)
    obj = f"/heimdall/users/{target}"

    e = fails("EACCES", client.user.get, name=target)
    assert obj in e.message and "no policy allows" in e.message
    assert e.details.get("object") == obj and e.details.get("predicate") == "read"
    assert e.details.get("policy") is None

    grant = uniq("grant")
    result = k.op.resource.apply(manifests=[access_policy(grant, [[role]], ["read"], ["/heimdall/users/**"])])
    assert result["results"][0]["action"] == "created"
    assert client.user.get(name=target)["id"] == target
    fails("EACCES", client.user.delete, name=target)  # only read was granted
    assert k.op.policy.check(user=name, predicate="read", object=obj) == {
        "allow": True, "policy": grant, "reason": f"allowed by policy '{grant}'"}

    deny = uniq("deny")
    k.op.resource.apply(manifests=[access_policy(deny, [[role]], ["read"], [obj], allow=False)])
    e = fails("EACCES", client.user.get, name=target)
    assert e.details.get("policy") == deny and deny in e.message
    assert client.user.get(name=name)["id"] == name  # the deny is narrow
    decision = k.op.policy.check(user=name, predicate="read", object=obj)
    assert decision == {"allow": False, "policy": deny, "reason": f"denied by policy '{deny}'"}

    k.op.resource.delete(type="policy", name=deny)
    assert client.user.get(name=target)["id"] == target
    k.op.resource.delete(type="policy", name=grant)
    e = fails("EACCES", client.user.get, name=target)
    assert "no policy allows" in e.message


def test_policy_check_shape(k):
    me = k.op.auth.whoami()["id"]
    decision = k.op.policy.check(user=me, predicate="delete", object="/poros/anything")
    assert decision == {"allow": True, "policy": "operator-full-access",
                        "reason": "allowed by policy 'operator-full-access'"}
    name, client, _ = new_user(k)
    decision = k.op.policy.check(user=name, predicate="read", object="/kernel")
    assert set(decision) == {"allow", "policy", "reason"}
    assert decision["allow"] is False and decision["policy"] is None and "no policy allows" in decision["reason"]
    assert k.op.policy.check(user=name, predicate="read", object=f"/heimdall/users/{name}")["policy"] == "self-read"
    fails("EACCES", client.policy.check, user=name, predicate="read", object="/kernel")


def test_object_tag_policies(k):
    role, tag = f"roles:id:{uniq('r')}", uniq("tag")
    name, client, _ = new_user(k, role)
    tagged, other = uniq("wf"), uniq("wf")
    k.op.resource.apply(manifests=[workflow(tagged, tags=[tag]), workflow(other)])
    k.op.resource.apply(manifests=[access_policy(uniq("p"), [[role]], ["read"], object_tags=[tag])])
    assert client.resource.get(type="workflow", name=tagged)["name"] == tagged
    fails("EACCES", client.resource.get, type="workflow", name=other)
    assert [r["name"] for r in client.resource.list(type="workflow")] == [tagged]


def test_read_granted_by_object_tags_covers_history(k):
    """Regression: resource.history authorized without the resource's tags."""
    role, tag = f"roles:id:{uniq('r')}", uniq("tag")
    _, client, _ = new_user(k, role)
    wf = uniq("wf")
    k.op.resource.apply(manifests=[workflow(wf, tags=[tag])])
    k.op.resource.apply(manifests=[access_policy(uniq("p"), [[role]], ["read"], object_tags=[tag])])
    assert client.resource.get(type="workflow", name=wf)["name"] == wf
    assert [g["generation"] for g in client.resource.history(type="workflow", name=wf)] == [1]


def test_a_deny_by_object_tag_hides_the_resource(k):
    role, secret = f"roles:id:{uniq('r')}", uniq("pii")
    _, client, _ = new_user(k, role)
    wf = uniq("wf")
    k.op.resource.apply(manifests=[workflow(wf, tags=[secret])])
    k.op.resource.apply(manifests=[
        access_policy(uniq("p"), [[role]], ["read"], ["/poros/workspaces/public/workflow/*"]),
        access_policy(uniq("d"), [[role]], ["read"], object_tags=[secret], allow=False)])
    # Hidden exactly like a resource that does not exist: nothing to learn from the answer.
    hidden = fails("ENOENT", client.resource.get, type="workflow", name=wf)
    missing = fails("ENOENT", client.resource.get, type="workflow", name=uniq("nothing"))
    assert hidden.message.replace(wf, "X") == missing.message.replace(missing.message.split("'")[1], "X")
    # No delete right at all: the same EACCES whether the resource exists or not.
    fails("EACCES", client.resource.delete, type="workflow", name=wf)
    fails("EACCES", client.resource.delete, type="workflow", name=uniq("nothing"))
    assert wf not in [r["name"] for r in client.resource.list(type="workflow")]
    assert k.op.resource.get(type="workflow", name=wf)["name"] == wf  # still there


def test_a_deny_by_object_tag_also_hides_the_history(k):
    """Regression: a deny-by-tag policy was bypassed by resource.history (every generation leaked)."""
    role, secret = f"roles:id:{uniq('r')}", uniq("pii")
    _, client, _ = new_user(k, role)
    wf = uniq("wf")
    k.op.resource.apply(manifests=[workflow(wf, tags=[secret])])
    k.op.resource.apply(manifests=[
        access_policy(uniq("p"), [[role]], ["read"], ["/poros/workspaces/public/workflow/*"]),
        access_policy(uniq("d"), [[role]], ["read"], object_tags=[secret], allow=False)])
    fails("ENOENT", client.resource.history, type="workflow", name=wf)


def test_invalid_policy_is_einval_naming_the_field(k):
    bad = access_policy(uniq("p"), [], ["read"], ["/x"])
    e = fails("EINVAL", k.op.resource.apply, manifests=[bad])
    assert e.details.get("field") == "policy.access.subjects.tags"
    bad = access_policy(uniq("p"), [["a"]], ["read"], ["/x"])
    bad["policy"]["access"]["allow"] = "yes"
    e = fails("EINVAL", k.op.resource.apply, manifests=[bad])
    assert e.details.get("field") == "policy.access.allow"


def test_system_policies_are_listed_and_protected(k):
    policies = {r["name"]: r for r in k.op.resource.list(type="policy")}
    for name in ("operator-full-access", "self-read"):
        assert policies[name]["layer"] == "system"
        e = fails("EACCES", k.op.resource.delete, type="policy", name=name)
        assert name in e.message
        changed = {key: v for key, v in policies[name].items() if key not in ("status", "owner")}
        changed["description"] = "mine now"
        fails("EACCES", k.op.resource.apply, manifests=[changed])
    # still there, still in force
    assert k.op.resource.get(type="policy", name="self-read")["status"]["generation"] == 1
    assert k.op.auth.whoami()


def test_user_layer_cannot_claim_the_system_layer(k):
    p = access_policy(uniq("p"), [["x"]], ["read"], ["/x"])
    p["layer"] = "system"
    e = fails("EACCES", k.op.resource.apply, manifests=[p])
    assert e.details.get("document") == 0


# --- resources -----------------------------------------------------------------------------------

def test_resource_apply_lifecycle(k):
    name = uniq("orders")
    m = workflow(name, description="one", tags=["retail", "retail"])
    first = k.op.resource.apply(manifests=[m])
    assert first["dry_run"] is False
    [r1] = first["results"]
    assert (r1["type"], r1["name"], r1["workspace"], r1["action"], r1["generation"]) == \
        ("workflow", name, "public", "created", 1)
    me = k.op.auth.whoami()["id"]
    res = r1["resource"]
    assert res["owner"] == me and res["workspace"] == "public" and res["tags"] == ["retail"]
    assert res["status"]["generation"] == 1 and res["status"]["uid"]

    [again] = k.op.resource.apply(manifests=[m])["results"]
    assert (again["action"], again["generation"]) == ("unchanged", 1)

    m["description"] = "two"
    [changed] = k.op.resource.apply(manifests=[m])["results"]
    assert (changed["action"], changed["generation"]) == ("configured", 2)

    got = k.op.resource.get(type="workflow", name=name)
    assert got["description"] == "two" and got["status"]["generation"] == 2
    assert got["status"]["uid"] == res["status"]["uid"]
    assert {key: v for key, v in got.items() if key != "status"} == {
        **{key: v for key, v in m.items()}, "tags": ["retail"], "owner": me, "workspace": "public"}
    assert spec_of(got) == spec_of(k.op.resource.get(type="workflow", name=name, workspace="public"))

    history = k.op.resource.history(type="workflow", name=name)
    assert [(g["generation"], g["action"], g["by"]) for g in history] == [(1, "created", me), (2, "configured", me)]
    assert [g["manifest"]["description"] for g in history] == ["one", "two"]
    assert {g["uid"] for g in history} == {res["status"]["uid"]}

    # Re-applying what `get` returned (with its status) is a no-op, not a conflict.
    [same] = k.op.resource.apply(manifests=[got])["results"]
    assert (same["action"], same["generation"]) == ("unchanged", 2)

    stale = {**m, "description": "three", "status": {"generation": 1}}
    e = fails("ECONFLICT", k.op.resource.apply, manifests=[stale])
    assert e.details.get("field") == "status.generation" and e.exit_code == 6
    assert k.op.resource.get(type="workflow", name=name)["description"] == "two"

    fails("ECONFLICT", k.op.resource.delete, type="workflow", name=name, generation=1)
    deleted = k.op.resource.delete(type="workflow", name=name, generation=2)
    assert deleted["status"]["aggregateStatus"] == "deleted"
    fails("ENOENT", k.op.resource.get, type="workflow", name=name)
    fails("ENOENT", k.op.resource.delete, type="workflow", name=name)
    assert [g["action"] for g in k.op.resource.history(type="workflow", name=name)] == \
        ["created", "configured", "deleted"]

    [again] = k.op.resource.apply(manifests=[m])["results"]
    assert (again["action"], again["generation"]) == ("created", 1)


def test_owner_is_the_caller(k):
    name = uniq("wf")
    res = k.op.resource.apply(manifests=[workflow(name, owner="mallory")])["results"][0]["resource"]
    assert res["owner"] == k.op.auth.whoami()["id"]


def test_dry_run_writes_nothing(k):
    name = uniq("wf")
    result = k.op.resource.apply(manifests=[workflow(name)], dry_run=True)
    assert result["dry_run"] is True and result["results"][0]["action"] == "created"
    fails("ENOENT", k.op.resource.get, type="workflow", name=name)
    fails("ENOENT", k.op.resource.history, type="workflow", name=name)


def test_multi_document_apply_is_all_or_nothing(k):
    kept, new = uniq("kept"), uniq("new")
    k.op.resource.apply(manifests=[workflow(kept, description="before")])
    before = k.op.resource.get(type="workflow", name=kept)
    bad = workflow(uniq("bad"))
    bad["workflow"]["dag"][0]["spec"]["stack"] = 42
    docs = [workflow(kept, description="after"), workflow(new), bad]
    e = fails("EINVAL", k.op.resource.apply, manifests=docs)
    assert e.details.get("document") == 2
    assert e.details.get("field") == "workflow.dag[0].spec.stack"
    assert spec_of(k.op.resource.get(type="workflow", name=kept)) == spec_of(before)
    fails("ENOENT", k.op.resource.get, type="workflow", name=new)

    e = fails("EINVAL", k.op.resource.apply, manifests=[workflow(new), {"name": "x", "version": "v1"}])
    assert e.details.get("document") == 1 and e.details.get("field") == "type"
    fails("ENOENT", k.op.resource.get, type="workflow", name=new)

    dup = uniq("dup")
    e = fails("EINVAL", k.op.resource.apply, manifests=[workflow(dup), workflow(dup)])
    assert e.details.get("document") == 1
    fails("ENOENT", k.op.resource.get, type="workflow", name=dup)


def test_a_denied_document_writes_nothing(k):
    role = f"roles:id:{uniq('r')}"
    _, client, _ = new_user(k, role)
    ws = uniq("ws")
    k.op.resource.apply(manifests=[access_policy(uniq("p"), [[role]], ["create", "read"],
                                                 [f"/poros/workspaces/{ws}/**"])])
    mine, theirs = uniq("mine"), uniq("theirs")
    e = fails("EACCES", client.resource.apply, manifests=[workflow(mine, workspace=ws),
                                                          workflow(theirs, workspace="public")])
    assert e.details.get("document") == 1
    fails("ENOENT", k.op.resource.get, type="workflow", name=mine, workspace=ws)
    [ok] = client.resource.apply(manifests=[workflow(mine)], workspace=ws)["results"]
    assert ok["workspace"] == ws and ok["resource"]["owner"] == client.auth.whoami()["id"]


def test_workspace_and_instance_levels(k):
    ws, name, dep = uniq("ws"), uniq("wf"), uniq("dep")
    [r] = k.op.resource.apply(manifests=[workflow(name)], workspace=ws)["results"]
    assert r["workspace"] == ws and r["resource"]["workspace"] == ws
    assert k.op.resource.get(type="workflow", name=name, workspace=ws)["name"] == name
    fails("ENOENT", k.op.resource.get, type="workflow", name=name)  # default workspace: public
    # the manifest's own workspace is used when the request names none; a different one is refused
    other = uniq("wf")
    [r] = k.op.resource.apply(manifests=[workflow(other, workspace=ws)])["results"]
    assert r["workspace"] == ws
    e = fails("EINVAL", k.op.resource.apply, manifests=[workflow(uniq("wf"), workspace=ws)], workspace="public")
    assert e.details.get("field") == "workspace" and e.details.get("document") == 0

    [d] = k.op.resource.apply(manifests=[depot(dep)], workspace=ws)["results"]
    assert d["workspace"] is None and "workspace" not in d["resource"]
    assert k.op.resource.get(type="depot", name=dep)["name"] == dep
    assert k.op.resource.get(type="depot", name=dep, workspace=ws)["name"] == dep
    e = fails("EINVAL", k.op.resource.apply, manifests=[depot(uniq("dep"), workspace="public")])
    assert e.details.get("field") == "workspace" and "instance-level" in e.message

    listed = {(r["type"], r["name"]) for r in k.op.resource.list(workspace=ws)}
    assert {("workflow", name), ("workflow", other), ("depot", dep)} <= listed
    assert all(r.get("workspace") in (None, ws) for r in k.op.resource.list(workspace=ws))
    assert ("workflow", name) not in {(r["type"], r["name"]) for r in k.op.resource.list(workspace="public")}
    assert ("workflow", name) in {(r["type"], r["name"]) for r in k.op.resource.list()}
    levels = {t["type"]: t["level"] for t in k.op.resource.types()}
    assert levels["workflow"] == "workspace" and levels["depot"] == "instance" and levels["policy"] == "instance"


@pytest.mark.parametrize("manifest, field", [
    ({"name": "Bad_Name"}, "name"),
    ({"name": "x" * 49}, "name"),
    ({"type": "spaceship"}, "type"),
    ({"version": "v9"}, "version"),
    ({"colour": "red"}, "colour"),
    ({"workspace": "Not Valid"}, "workspace"),
    ({"tags": "retail"}, "tags"),
])
def test_bad_manifest_is_einval_naming_the_field(k, manifest, field):
    m = {**workflow(uniq("wf")), **manifest}
    e = fails("EINVAL", k.op.resource.apply, manifests=[m])
    assert e.details.get("field") == field
    assert e.details.get("document") == 0


def test_missing_fields_are_einval(k):
    for missing in ("name", "version", "workflow"):
        m = workflow(uniq("wf"))
        del m[missing]
        e = fails("EINVAL", k.op.resource.apply, manifests=[m])
        assert e.details.get("field") == missing
    fails("EINVAL", k.op.resource.apply, manifests=[])


def test_dag_cycle_is_einval(k):
    m = workflow(uniq("wf"))
    m["workflow"]["dag"][0]["dependencies"] = ["report"]
    e = fails("EINVAL", k.op.resource.apply, manifests=[m])
    assert e.details.get("field") == "workflow.dag" and "cycle" in e.message
    m = workflow(uniq("wf"))
    m["workflow"]["dag"][1]["dependencies"] = ["nothing"]
    e = fails("EINVAL", k.op.resource.apply, manifests=[m])
    assert e.details.get("field") == "workflow.dag[1].dependencies[0]"


def test_unknown_type_in_reads_is_einval(k):
    for fn in (k.op.resource.get, k.op.resource.history, k.op.resource.delete):
        e = fails("EINVAL", fn, type="spaceship", name="x")
        assert e.details.get("field") == "type"
    fails("EINVAL", k.op.resource.list, type="spaceship")


def test_list_filters_what_the_caller_cannot_read(k):
    role, ws = f"roles:id:{uniq('r')}", uniq("ws")
    _, client, _ = new_user(k, role)
    visible, hidden = uniq("vis"), uniq("hid")
    k.op.resource.apply(manifests=[workflow(visible), workflow(hidden)], workspace=ws)
    assert client.resource.list(workspace=ws) == []
    assert client.resource.list() == []
    k.op.resource.apply(manifests=[access_policy(uniq("p"), [[role]], ["read"],
                                                 [f"/poros/workspaces/{ws}/workflow/{visible}"])])
    assert [r["name"] for r in client.resource.list(workspace=ws)] == [visible]
    assert [r["name"] for r in client.resource.list()] == [visible]
    all_names = {r["name"] for r in k.op.resource.list()}
    assert {visible, hidden, "operator-full-access", "self-read"} <= all_names


def test_get_on_a_denied_resource_is_eacces_even_if_missing(k):
    _, client, _ = new_user(k)
    existing = uniq("wf")
    k.op.resource.apply(manifests=[workflow(existing)])
    for name in (existing, uniq("missing")):
        e = fails("EACCES", client.resource.get, type="workflow", name=name)
        assert f"/poros/workspaces/public/workflow/{name}" in e.message
        fails("EACCES", client.resource.delete, type="workflow", name=name)
        fails("EACCES", client.resource.history, type="workflow", name=name)
    fails("EACCES", client.resource.get, type="policy", name="self-read")
    fails("ENOENT", k.op.resource.get, type="workflow", name=uniq("missing"))


# --- audit ---------------------------------------------------------------------------------------

def test_audit_records_calls_and_decisions(k):
    name, client, _ = new_user(k)
    client.auth.whoami()
    fails("EACCES", client.user.get, name=k.op.auth.whoami()["id"])
    fails("EINVAL", client.call, "user.get", {})
    records = k.op.audit.list(user=name)
    assert all(r["user"] == name for r in records)
    assert [r["syscall"] for r in records][:3] == ["user.get", "user.get", "auth.whoami"]  # newest first
    invalid, denied, whoami = records[:3]
    assert whoami["decision"] == "allow" and whoami["policy"] == "self-read" and whoami["errno"] is None
    assert whoami["object"] == f"/heimdall/users/{name}"
    assert denied["decision"] == "deny" and denied["errno"] == "EACCES" and denied["policy"] is None
    assert denied["object"].startswith("/heimdall/users/")
    assert invalid["errno"] == "EINVAL" and invalid["decision"] == "none"
    assert all(isinstance(r["duration_us"], int) and r["duration_us"] >= 0 for r in records)
    assert all(r["time"].endswith("Z") for r in records)

    assert [r["syscall"] for r in k.op.audit.list(user=name, syscall="auth.*")] == ["auth.whoami"]
    assert {r["errno"] for r in k.op.audit.list(user=name, errors_only=True)} == {"EACCES", "EINVAL"}
    assert len(k.op.audit.list(user=name, limit=1)) == 1
    assert k.op.audit.list(user=name, since="1h")[:3] == records[:3]
    fails("EACCES", client.audit.list)


def test_audit_names_the_deny_policy(k):
    role = f"roles:id:{uniq('r')}"
    name, client, _ = new_user(k, role)
    deny = uniq("deny")
    k.op.resource.apply(manifests=[access_policy(deny, [[role]], ["read"], ["/heimdall/users/*"], allow=False)])
    fails("EACCES", client.auth.whoami)  # deny overrides even self-read
    [record] = k.op.audit.list(user=name, syscall="auth.whoami")
    assert (record["decision"], record["policy"], record["errno"]) == ("deny", deny, "EACCES")


def test_audit_records_failed_authentication(k):
    marker = uniq("m")
    fails("EAUTH", k.make_client("garbage").user.get, name=marker)
    records = [r for r in k.op.audit.list(syscall="user.get", errors_only=True) if r["errno"] == "EAUTH"]
    assert records and records[0]["user"] is None and records[0]["decision"] == "none"


def test_audit_allow_records_name_an_allowed_object(k):
    """Regression: a filtered list was audited 'allow' on the object of its first denied item."""
    name, client, _ = new_user(k)
    k.op.resource.apply(manifests=[workflow(uniq("wf"))])
    assert client.resource.list() == []
    [record] = k.op.audit.list(user=name, syscall="resource.list")
    if record["decision"] == "allow":
        check = k.op.policy.check(user=name, predicate="read", object=record["object"])
        assert check["allow"], f"audited as allowed on {record['object']}, but {check['reason']}"
        assert record["policy"] is not None


# --- transport specifics -------------------------------------------------------------------------

@pytest.mark.parametrize("name, body, headers, status, code", [
    ("auth.whoami", {}, {}, 401, "EAUTH"),
    ("auth.whoami", {}, {"Authorization": "Bearer garbage"}, 401, "EAUTH"),
    ("kernel.info", {}, "user", 403, "EACCES"),
    ("user.get", {"name": "nobody-at-all"}, "operator", 404, "ENOENT"),
    ("user.get", {"name": 1}, "operator", 400, "EINVAL"),
    ("user.create", {"name": "root-dup"}, "operator-twice", 409, "EEXIST"),
    ("no.such.call", {}, "operator", 501, "ENOSYS"),
])
def test_http_envelope(http, name, body, headers, status, code):
    import httpx
    op = http.op
    if headers == "operator":
        headers = {"Authorization": f"Bearer {op.token}"}
    elif headers == "operator-twice":
        body = {"name": uniq("dup")}
        op.user.create(**body)
        headers = {"Authorization": f"Bearer {op.token}"}
    elif headers == "user":
        _, client, _ = new_user(http)
        headers = {"Authorization": f"Bearer {client.token}"}
    response = httpx.post(f"{http.url}/api/v1/syscalls/{name}", json=body, headers=headers, timeout=30)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    envelope = response.json()
    assert envelope["ok"] is False
    assert envelope["error"]["code"] == code and envelope["error"]["message"]
    assert set(envelope) == {"ok", "error"}


def test_http_envelope_success_and_bad_body(http):
    import httpx
    auth = {"Authorization": f"Bearer {http.op.token}"}
    response = httpx.post(f"{http.url}/api/v1/syscalls/auth.whoami", json={}, headers=auth, timeout=30)
    assert response.status_code == 200
    assert response.json() == {"ok": True, "result": http.op.auth.whoami()}
    response = httpx.post(f"{http.url}/api/v1/syscalls/auth.whoami", content=b"{not json", headers=auth, timeout=30)
    assert response.status_code == 400 and response.json()["error"]["code"] == "EINVAL"
    response = httpx.get(f"{http.url}/healthz", timeout=30)
    assert response.status_code == 200 and response.json()["version"] == syscalls.__version__
    assert "token" not in response.text
    table = httpx.get(f"{http.url}/api/v1/syscalls", timeout=30).json()
    assert table["ok"] and {s["name"] for s in table["result"]} == set(TABLE)


def test_https_verifies_the_certificate(https, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE")
    with syscalls.connect(https.url, https.op.token) as untrusting:
        e = fails("EUNAVAIL", untrusting.auth.whoami)
    assert https.url in e.message
    assert https.op.auth.whoami()["id"]  # the trusting client still works


def test_https_client_uses_no_deprecated_httpx_api(https):
    import warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with syscalls.connect(https.url, https.op.token) as client:
            assert client.auth.whoami()["id"]
    assert not [w for w in caught if issubclass(w.category, DeprecationWarning)], [str(w.message) for w in caught]


def test_concurrent_applies_keep_generations_consistent(k):
    """Racing writers: each apply is configured (a unique generation) or a clean ECONFLICT; no EIO."""
    from concurrent.futures import ThreadPoolExecutor
    name = uniq("race")
    k.op.resource.apply(manifests=[workflow(name, description="start")])
    clients = [k.make_client(k.op.token) for _ in range(6)]

    def write(i: int):
        try:
            [r] = clients[i].resource.apply(manifests=[workflow(name, description=f"writer {i}")])["results"]
            return r["generation"]
        except SyscallError as e:
            return e.code

    with ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(write, range(6)))
    generations = [o for o in outcomes if isinstance(o, int)]
    assert set(outcomes) - set(generations) <= {"ECONFLICT"}, outcomes
    assert generations and len(set(generations)) == len(generations)
    history = [g["generation"] for g in k.op.resource.history(type="workflow", name=name)]
    assert history == list(range(1, len(history) + 1)) and history[-1] == 1 + len(generations)
    assert k.op.resource.get(type="workflow", name=name)["status"]["generation"] == history[-1]


def test_a_deeply_nested_request_is_einval(http):
    import httpx
    body = "[" * 100_000 + "]" * 100_000
    r = httpx.post(f"{http.url}/api/v1/syscalls/auth.whoami", content=body,
                   headers={"Authorization": f"Bearer {http.op.token}"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "EINVAL"
