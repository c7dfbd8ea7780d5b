"""Attacks by an ordinary user on event.list, resource.watch, resource.schema and on `describe`'s
failure section: each test asserts the SAFE behaviour (nothing of what the caller may not read
leaks, every call is audited)."""
from __future__ import annotations

import threading
import time

import pytest
from clitools import ok, wait_for

from syscalls import SyscallError

RUN = "a7t4ck"  # fixed: parametrized ids must be the same in every xdist worker
PASSWORD = f"hunter2-{RUN}-Very-Secret"
PASSWORD2 = f"rotated-{RUN}-Very-Secret"
ROLE, EVE = f"roles:id:eve-{RUN}", f"eve-{RUN}"
CONFIDENTIAL = f"confidential-{RUN}"
OPS_WS = f"ops-{RUN}"
SECRET_DIR = f"/srv/hidden-{RUN}/lake"


def _policy(name: str, predicates: list[str], objects: dict, allow: bool = True) -> dict:
    return {"name": name, "version": "v1", "type": "policy", "policy": {"access": {
        "subjects": {"tags": [[ROLE]]}, "predicates": predicates, "objects": objects, "allow": allow}}}


def _workflow(name: str, script: str, tags: list[str] | None = None, workspace: str | None = None,
              secret: bool = False) -> dict:
    spec = {"stack": "container", "stackSpec": {"command": ["sh", "-c", script]}}
    if secret:
        spec["dataosSecrets"] = [{"name": f"db-{RUN}"}]
    out = {"name": name, "version": "v1", "type": "workflow", "tags": tags or [],
           "workflow": {"dag": [{"name": "a", "spec": spec}]}}
    if workspace:
        out["workspace"] = workspace
    return out


def _secret(name: str, password: str, workspace: str | None = None) -> dict:
    out = {"name": name, "version": "v1", "type": "secret",
           "secret": {"type": "key-value", "data": {"password": password}}}
    if workspace:
        out["workspace"] = workspace
    return out


def _failed(op, name: str, workspace: str | None = None) -> dict:
    return wait_for(lambda: (rt := op.runtime.get(type="workflow", name=name, workspace=workspace))["run"]
                    and rt["run"]["state"] == "failed" and rt["pods"] and rt, timeout=90)


@pytest.fixture(scope="module")
def world(run_module):
    """The operator's resources (some hidden from eve) and eve, an ordinary user who may read, create,
    update and delete in workspace public, except what is tagged confidential, and use no secret."""
    import syscalls
    from syscalls.client import Client
    from syscalls.transports import UnixSocket
    ok(run_module("whoami"))  # starts the daemon
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DATAOS_HOME", str(run_module.home))
        op = syscalls.connect("local://")
    op.user.create(name=EVE, tags=[ROLE])
    token = op.user.apikey.create(user=EVE)["token"]
    eve = Client(UnixSocket(run_module.locations.socket), token)
    op.resource.apply(manifests=[
        _policy(f"eve-public-{RUN}", ["read", "create", "update", "delete"], {"paths": ["/poros/workspaces/public/**"]}),
        _policy(f"eve-no-confidential-{RUN}", ["read", "create", "update", "delete", "use"],
                {"tags": [CONFIDENTIAL]}, allow=False),
        _secret(f"db-{RUN}", PASSWORD), _secret(f"db-{RUN}", PASSWORD, OPS_WS),
        {"name": f"lake-{RUN}", "version": "v1", "type": "depot",
         "depot": {"type": "file", "file": {"path": SECRET_DIR}}},
        _workflow(f"ledger-{RUN}", 'echo "ledger pw=$password"; exit 3', [CONFIDENTIAL], secret=True),
        _workflow(f"ops-{RUN}", 'echo "ops pw=$password"; exit 4', workspace=OPS_WS, secret=True),
        _workflow(f"leaky-{RUN}", 'echo "leaky pw=$password"; exit 5', secret=True),
    ])
    pods = {name: _failed(op, name, ws)["pods"][0]["name"]
            for name, ws in ((f"ledger-{RUN}", None), (f"ops-{RUN}", OPS_WS), (f"leaky-{RUN}", None))}
    yield op, eve, token, pods
    eve.close()
    op.close()


def _refused(call) -> SyscallError:
    with pytest.raises(SyscallError) as e:
        got = call()
        pytest.fail(f"answered: {got!r}")
    assert e.value.code in ("ENOENT", "EACCES", "EINVAL"), e.value
    return e.value


# --- event.list -----------------------------------------------------------------------------------

@pytest.mark.parametrize("type_,workspace", [
    ("workflow", OPS_WS), ("Workflow", OPS_WS), ("workflows", OPS_WS), ("wf", OPS_WS), ("WORKFLOW", OPS_WS),
    ("workflow", OPS_WS.upper()), ("workflow", "*"), ("workflow", f"{OPS_WS}/"), ("workflow", f"../{OPS_WS}"),
    ("workflow", ""), ("workflow", None), ("pod", OPS_WS), ("pod", None), ("pods", None)])
def test_events_of_a_workflow_in_another_workspace_stay_hidden(world, type_, workspace):
    _, eve, _, _ = world
    e = _refused(lambda: eve.event.list(type=type_, name=f"ops-{RUN}", workspace=workspace))
    assert "exit code 4" not in e.message and PASSWORD not in e.message


@pytest.mark.parametrize("which", [f"ops-{RUN}", f"ledger-{RUN}"])
def test_events_of_a_hidden_workflows_pod_stay_hidden(world, which):
    _, eve, _, pods = world
    for type_ in ("pod", "Pod", "pods", "po"):
        for ws in (None, "", OPS_WS, "*"):
            _refused(lambda t=type_, w=ws: eve.event.list(type=t, name=pods[which], workspace=w))


def test_events_of_a_workflow_hidden_by_its_tag_stay_hidden(world):
    _, eve, _, _ = world
    e = _refused(lambda: eve.event.list(type="workflow", name=f"ledger-{RUN}"))
    assert e.code == "ENOENT"


def test_pods_of_a_workflow_hidden_by_its_tag_are_not_listed(world):
    """pod.list / pod.logs / event.list(type=pod) decide on the owner's path without its tags."""
    _, eve, _, pods = world
    assert pods[f"ledger-{RUN}"] not in [p["name"] for p in eve.pod.list()]


def test_logs_of_a_pod_of_a_workflow_hidden_by_its_tag_are_not_read(world):
    _, eve, _, pods = world
    _refused(lambda: "".join(eve.pod.logs(name=pods[f"ledger-{RUN}"])))


@pytest.mark.parametrize("limit", [0, -1, -1000, 1001, 10**9, 2**63 - 1, True, 1.5, "5"])
def test_event_limits_out_of_range_are_einval(world, limit):
    op, _, _, _ = world
    with pytest.raises(SyscallError) as e:
        op.event.list(type="workflow", name=f"leaky-{RUN}", limit=limit)
    assert e.value.code == "EINVAL"


def test_secret_events_show_no_values(world):
    op, eve, _, _ = world
    op.resource.apply(manifests=[_secret(f"db-{RUN}", PASSWORD2)])
    for who in (op, eve):
        events = who.event.list(type="secret", name=f"db-{RUN}")
        assert events and PASSWORD not in str(events) and PASSWORD2 not in str(events)
    op.resource.apply(manifests=[_secret(f"db-{RUN}", PASSWORD)])


def test_a_recreated_name_does_not_inherit_the_events_and_pods_of_the_deleted_one(world):
    """Operator's confidential workflow fails, is deleted; eve creates one of the same name: its
    events, runtime and logs must not show the old one's pods (resource-history does this right)."""
    op, eve, _, _ = world
    name = f"reused-{RUN}"
    op.resource.apply(manifests=[_workflow(name, 'echo "old pw=$password"; exit 7', [CONFIDENTIAL], secret=True)])
    old_pod = _failed(op, name)["pods"][0]["name"]
    op.resource.delete(type="workflow", name=name)
    eve.resource.apply(manifests=[_workflow(name, "true")])
    wait_for(lambda: eve.runtime.get(type="workflow", name=name)["runtime"] in ("succeeded", "failed"), timeout=60)
    events = eve.event.list(type="workflow", name=name, limit=1000)
    assert old_pod not in str(events) and "exit code 7" not in str(events), events
    assert old_pod not in [p["name"] for p in eve.runtime.get(type="workflow", name=name)["pods"]]
    assert old_pod not in [p["name"] for p in eve.pod.list(type="workflow", name=name)]
    with pytest.raises(SyscallError):
        "".join(eve.pod.logs(name=old_pod))


# --- the logs describe shows ----------------------------------------------------------------------

def test_the_failed_pods_last_lines_a_reader_sees_hold_no_secret_value(world):
    """eve may read workflow leaky (public) but not use the secret it consumes: its log (which
    `describe` quotes as the failure's last lines) prints the value."""
    _, eve, _, pods = world
    tail = "".join(eve.pod.logs(name=pods[f"leaky-{RUN}"], tail=5))
    assert "leaky pw=" in tail and PASSWORD not in tail, tail


def test_describe_of_a_failed_workflow_shows_no_secret_value(world, run_module):
    _, _, token, _ = world
    out = ok(run_module("describe", "workflow", f"leaky-{RUN}", env={"DATAOS_TOKEN": token})).stdout
    assert "exit code 5" in out and PASSWORD not in out, out


@pytest.mark.parametrize("args", [("workflow", f"ledger-{RUN}"), ("workflow", f"ops-{RUN}", "-w", OPS_WS),
                                  ("pod", f"ops-{RUN}"), ("pod", f"ledger-{RUN}")])
def test_describe_of_a_hidden_workflow_or_its_pod_tells_nothing(world, run_module, args):
    _, _, token, pods = world
    if args[0] == "pod":
        args = ("pod", pods[args[1]])
    r = run_module("describe", *args, env={"DATAOS_TOKEN": token})
    assert r.returncode != 0 and PASSWORD not in r.stdout + r.stderr and "exit code" not in r.stdout, r.stdout


# --- resource.watch -------------------------------------------------------------------------------

def _where(value, needle: str, path: str = "") -> str | None:
    """The path of the first field holding `needle`, and that field."""
    if isinstance(value, dict):
        return next(filter(None, (_where(v, needle, f"{path}.{k}") for k, v in value.items())), None)
    if isinstance(value, list):
        return next(filter(None, (_where(v, needle, f"{path}[{i}]") for i, v in enumerate(value))), None)
    return f"{path} = {value!r}" if needle in str(value) else None


def _watch(client, seconds: float, meanwhile=None, **kw) -> list[dict]:
    if meanwhile is not None:
        threading.Thread(target=meanwhile, daemon=True).start()
    return list(client.resource.watch(timeout=seconds, **kw))


def test_a_watch_of_every_type_shows_nothing_hidden_and_no_secret_value(world):
    op, eve, _, _ = world

    def meanwhile() -> None:
        time.sleep(0.5)
        op.resource.apply(manifests=[_secret(f"db-{RUN}", PASSWORD2), _secret(f"db-{RUN}", PASSWORD2, OPS_WS)])
        op.resource.apply(manifests=[_secret(f"db-{RUN}", PASSWORD), _secret(f"db-{RUN}", PASSWORD, OPS_WS)])

    for kw in ({}, {"workspace": OPS_WS}, {"workspace": ""}, {"type": "secret"}, {"type": "workflow"}):
        seen = _watch(eve, 2, meanwhile if not kw else None, **kw)
        names = {(r["type"], r.get("workspace"), r["name"]) for r in seen}
        assert not any(ws == OPS_WS for _, ws, _ in names), names
        assert ("workflow", "public", f"ledger-{RUN}") not in names
        assert ("depot", None, f"lake-{RUN}") not in names and SECRET_DIR not in str(seen)
        leaking = [(r["type"], r["name"], _where(r, PASSWORD) or _where(r, PASSWORD2)) for r in seen
                   if PASSWORD in str(r) or PASSWORD2 in str(r)]
        assert not leaking, (kw, leaking)


@pytest.mark.parametrize("type_", ["nosuch", "Workflow", "workflows", "*", "", "pod"])
def test_a_watch_of_an_odd_type_shows_nothing_hidden(world, type_):
    _, eve, _, _ = world
    try:
        seen = _watch(eve, 0.5, type=type_)
    except SyscallError as e:
        assert e.code == "EINVAL"
        return
    assert not any(r.get("workspace") == OPS_WS or CONFIDENTIAL in r.get("tags", []) for r in seen)


def test_a_watch_stops_telling_about_a_resource_once_read_is_taken_back(world):
    """Revoked mid-watch (by tagging it confidential): neither its change nor its deletion shows."""
    op, eve, _, _ = world
    name = f"revoked-{RUN}"
    op.resource.apply(manifests=[_secret(name, "v1")])

    def meanwhile() -> None:
        time.sleep(0.7)
        op.resource.apply(manifests=[{**_secret(name, "v2"), "tags": [CONFIDENTIAL], "description": "after"}])
        time.sleep(0.3)
        op.resource.delete(type="secret", name=name)

    seen = [(r["name"], r.get("description"), r["status"]["aggregateStatus"])
            for r in _watch(eve, 2.5, meanwhile, type="secret") if r["name"] == name]
    assert seen == [(name, None, "active")], seen


def test_a_watch_tells_no_deletion_of_a_resource_once_a_policy_took_read_back(world):
    """The resource is unchanged; the policy granting read is deleted, then the resource is."""
    op, eve, _, _ = world
    name = f"ungranted-{RUN}"
    op.resource.apply(manifests=[_secret(name, "v1", OPS_WS), _policy(f"grant1-{RUN}", ["read"], {"paths": [
        f"/poros/workspaces/{OPS_WS}/secret/{name}"]})])

    def meanwhile() -> None:
        time.sleep(0.7)
        op.resource.delete(type="policy", name=f"grant1-{RUN}")
        time.sleep(0.3)
        op.resource.delete(type="secret", name=name, workspace=OPS_WS)

    seen = [(r["name"], r["status"]["aggregateStatus"])
            for r in _watch(eve, 2.5, meanwhile, type="secret", workspace=OPS_WS)]
    assert seen == [(name, "active")], seen


def test_a_watch_shows_a_resource_once_read_is_granted(world):
    """Not a leak, the converse: granted mid-watch, the resource should appear (k8s shows it)."""
    op, eve, _, _ = world
    name = f"granted-{RUN}"
    op.resource.apply(manifests=[_secret(name, "v1", OPS_WS)])

    def meanwhile() -> None:
        time.sleep(0.7)
        op.resource.apply(manifests=[_policy(f"grant-{RUN}", ["read"], {"paths": [
            f"/poros/workspaces/{OPS_WS}/secret/{name}"]})])

    try:
        seen = [r["name"] for r in _watch(eve, 2.5, meanwhile, type="secret", workspace=OPS_WS)]
    finally:
        op.resource.delete(type="policy", name=f"grant-{RUN}")
    assert name in seen, seen


# --- resource.schema ------------------------------------------------------------------------------

@pytest.mark.parametrize("type_", ["depot", "secret", "instance-secret", "workflow", "policy"])
def test_the_schema_tells_no_instance_detail(world, type_):
    _, eve, _, _ = world
    schema = str(eve.resource.schema(type=type_))
    assert SECRET_DIR not in schema and PASSWORD not in schema and f"lake-{RUN}" not in schema
    assert OPS_WS not in schema and f"ops-{RUN}" not in schema


@pytest.mark.parametrize("type_", ["lake", f"lake-{RUN}", "../depot", "depot/" + f"lake-{RUN}", "", "Depot"])
def test_the_schema_of_an_odd_type_is_one_error(world, type_):
    _, eve, _, _ = world
    e = _refused(lambda: eve.resource.schema(type=type_))
    assert SECRET_DIR not in e.message


# --- audit ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("syscall,call", [
    ("event.list", lambda eve: eve.event.list(type="workflow", name=f"leaky-{RUN}")),
    ("resource.schema", lambda eve: eve.resource.schema(type="workflow")),
    ("resource.watch", lambda eve: list(eve.resource.watch(type="workflow", timeout=0.2))),
    ("pod.watch", lambda eve: list(eve.pod.watch(timeout=0.2))),
])
def test_each_new_syscall_is_audited_with_its_decision(world, syscall, call):
    op, eve, _, _ = world
    call(eve)
    time.sleep(0.3)
    records = op.audit.list(user=EVE, syscall=syscall, limit=5)
    assert records, f"no audit record of {syscall}"
    assert records[0]["decision"] in ("allow", "deny"), records[0]
    assert records[0]["object"], records[0]


def test_a_denied_event_list_is_audited_as_a_denial(world):
    op, eve, _, _ = world
    _refused(lambda: eve.event.list(type="workflow", name=f"ops-{RUN}", workspace=OPS_WS))
    time.sleep(0.3)
    [record] = op.audit.list(user=EVE, syscall="event.list", errors_only=True, limit=1)
    assert record["decision"] == "deny" and OPS_WS in record["object"], record


def test_events_of_a_generation_the_caller_could_not_read_stay_hidden(world):
    """As resource.history (ENOENT when any generation's tags deny the caller): events of the runs
    of a generation tagged confidential do not show once the tag is gone."""
    op, eve, _, _ = world
    name = f"declassified-{RUN}"
    op.resource.apply(manifests=[_workflow(name, 'echo "then pw=$password"; exit 8', [CONFIDENTIAL], secret=True)])
    then_pod = _failed(op, name)["pods"][0]["name"]
    op.resource.apply(manifests=[_workflow(name, "true")])
    with pytest.raises(SyscallError):
        eve.resource.history(type="workflow", name=name)
    try:
        events = eve.event.list(type="workflow", name=name, limit=1000)
    except SyscallError:
        return
    assert then_pod not in str(events) and "exit code 8" not in str(events), events

