"""Identity through the `dataos` console script: first start, users, API keys, tokens,
policy checks, contexts, login/logout and the audit log."""
from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
import yaml

from proctools import daemon_pid
from clitools import as_json, error_line, ok, uniq


def new_user(run, *tags: str, key: str | None = None) -> tuple[str, str]:
    """A user created through the CLI, and the token of a new API key of theirs."""
    name = uniq("u")
    ok(run("user", "create", name, *[a for t in tags for a in ("--tag", t)]))
    token = ok(run("user", "apikey", "create", name, *(("--name", key) if key else ()))).stdout.strip()
    return name, token


def credentials(home: Path) -> dict[str, str]:
    return json.loads((home / "config" / "credentials.json").read_text())


@pytest.fixture(scope="module")
def operator(run_module) -> str:
    return as_json(run_module("whoami", "-o", "json"))["id"]


# --- first start ---------------------------------------------------------------------------------

def test_first_command_starts_the_kernel_and_stores_the_credential(run_dataos, dataos_home):
    assert not (dataos_home / "run").exists()
    r = ok(run_dataos("whoami", "-o", "json"))
    assert r.stderr == ""
    me = json.loads(r.stdout)
    assert "roles:id:operator" in me["tags"] and f"users:id:{me['id']}" in me["tags"]
    assert me["context"] == "local" and me["url"].startswith("unix://")

    pid = daemon_pid(dataos_home)
    assert pid is not None
    path = dataos_home / "config" / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = credentials(dataos_home)["local"]
    assert token.startswith("dos_") and len(token) >= 47
    assert not (dataos_home / "data" / "kernel" / "operator.token").exists()  # the handoff is consumed
    config = yaml.safe_load((dataos_home / "config" / "config.yaml").read_text())
    assert token not in (dataos_home / "config" / "config.yaml").read_text()
    assert config["current-context"] == "local" and config["contexts"]["local"]["url"] == "local://"

    again = ok(run_dataos("whoami", "-o", "json"))  # the stored credential, the same daemon
    assert json.loads(again.stdout)["id"] == me["id"] and daemon_pid(dataos_home) == pid
    table = ok(run_dataos("whoami")).stdout.splitlines()
    assert table[0].split() == ["USER", "TYPE", "TAGS", "CONTEXT"] and table[1].split()[0] == me["id"]
    # the stored token is the operator's own
    via_env = ok(run_dataos("whoami", "-o", "json", env={"DATAOS_TOKEN": token}))
    assert json.loads(via_env.stdout)["id"] == me["id"]


# --- users and API keys --------------------------------------------------------------------------

def test_user_create_and_get(run_module):
    name = uniq("ana")
    assert ok(run_module("user", "create", name, "--tag", "roles:id:analyst", "-d", "Ana")).stdout.strip() == \
        f"user/{name} created"
    user = as_json(run_module("user", "get", name, "-o", "json"))
    assert user["id"] == name and user["type"] == "person" and user["description"] == "Ana"
    assert sorted(user["tags"]) == ["roles:id:analyst", f"users:id:{name}"]
    table = ok(run_module("user", "get")).stdout.splitlines()
    assert table[0].split() == ["NAME", "TYPE", "TAGS", "APIKEYS", "AGE"]
    row = next(line.split() for line in table if line.split()[0] == name)
    assert row[1:4] == ["person", "roles:id:analyst", "0"]
    assert f"user/{name}" in ok(run_module("user", "list", "-o", "name")).stdout.split()
    line = error_line(run_module("user", "create", name), "EEXIST", 6)
    assert name in line
    error_line(run_module("user", "create", "Not_Valid"), "EINVAL", 2)
    error_line(run_module("user", "get", uniq("nobody")), "ENOENT", 5)


def test_user_tag_and_delete(run_module):
    name = uniq("u")
    ok(run_module("user", "create", name))
    tagged = as_json(run_module("user", "tag", name, "team:a", "team:b", "-o", "json"))
    assert {"team:a", "team:b"} <= set(tagged["tags"])
    untagged = as_json(run_module("user", "tag", name, "team:a", "--remove", "-o", "json"))
    assert "team:a" not in untagged["tags"] and "team:b" in untagged["tags"]
    assert ok(run_module("user", "delete", name)).stdout.strip() == f"user/{name} deleted"
    error_line(run_module("user", "get", name), "ENOENT", 5)


def test_apikey_token_is_printed_once(run_module, module_home):
    name = uniq("u")
    ok(run_module("user", "create", name))
    r = ok(run_module("user", "apikey", "create", name, "--name", "ci", "--expires", "24h"))
    lines = r.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("dos_") and len(lines[0]) >= 47
    token = lines[0]
    assert "shown once" in r.stderr and "expires" in r.stderr and token not in r.stderr
    key = as_json(run_module("user", "apikey", "create", name, "--name", "ci2", "-o", "json"))
    assert key["token"].startswith("dos_") and key["name"] == "ci2" and key["expires"] is None
    assert key["token"] != token

    later = [run_module("user", "get", name, "-o", "json"), run_module("user", "get", name, "-o", "yaml"),
             run_module("user", "get"), run_module("user", "apikey", "list", name),
             run_module("user", "apikey", "list", name, "-o", "json"), run_module("audit", "-o", "json")]
    for r in later:
        ok(r)
        assert token not in r.stdout + r.stderr and key["token"] not in r.stdout + r.stderr
    keys = json.loads(later[4].stdout)
    assert [k["name"] for k in keys] == ["ci", "ci2"]
    assert keys[0]["expires"] is not None and keys[1]["expires"] is None
    assert [k["name"] for k in json.loads(later[0].stdout)["apikeys"]] == ["ci", "ci2"]
    table = later[3].stdout.splitlines()
    assert table[0].split() == ["NAME", "USER", "CREATED", "EXPIRES", "EXPIRED"]
    assert table[2].split()[3:] == ["never", "no"]
    # nothing on disk holds the new tokens either (only hashes)
    for path in module_home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert token.encode() not in data and key["token"].encode() not in data, path


def test_token_acts_as_its_user(run_module, operator):
    name, token = new_user(run_module, "roles:id:analyst")
    env = {"DATAOS_TOKEN": token}
    me = as_json(run_module("whoami", "-o", "json", env=env))
    assert me["id"] == name and "roles:id:operator" not in me["tags"]
    assert as_json(run_module("user", "get", name, "-o", "json", env=env))["id"] == name
    line = error_line(run_module("user", "get", operator, env=env), "EACCES", 4)
    assert f"/heimdall/users/{operator}" in line and "no policy allows" in line
    error_line(run_module("get", "workflow", "anything", env=env), "EACCES", 4)
    error_line(run_module("user", "create", uniq("x"), env=env), "EACCES", 4)
    r = run_module("syscall", "kernel.info", env=env)
    assert r.returncode == 4 and json.loads(r.stdout)["error"]["code"] == "EACCES"


def test_bad_token_exits_3(run_module):
    line = error_line(run_module("whoami", env={"DATAOS_TOKEN": "dos_not-a-real-token"}), "EAUTH", 3)
    assert "dataos login" in line
    r = run_module("syscall", "auth.whoami", env={"DATAOS_TOKEN": "garbage"})
    assert r.returncode == 3 and json.loads(r.stdout)["error"]["code"] == "EAUTH"


def test_deleted_apikey_exits_3(run_module):
    name, token = new_user(run_module, key="temp")
    ok(run_module("whoami", env={"DATAOS_TOKEN": token}))
    assert ok(run_module("user", "apikey", "delete", name, "temp")).stdout.strip() == "apikey/temp deleted"
    error_line(run_module("whoami", env={"DATAOS_TOKEN": token}), "EAUTH", 3)
    error_line(run_module("user", "apikey", "delete", name, "temp"), "ENOENT", 5)
    assert as_json(run_module("user", "apikey", "list", name, "-o", "json")) == []


def test_bad_expiry_is_einval(run_module):
    name = uniq("u")
    ok(run_module("user", "create", name))
    line = error_line(run_module("user", "apikey", "create", name, "--expires", "soon"), "EINVAL", 2)
    assert "expires" in line


# --- policies ------------------------------------------------------------------------------------

def test_policy_check(run_module, operator):
    name, _ = new_user(run_module)
    denied = as_json(run_module("policy", "check", "--user", name, "--predicate", "read",
                                "--object", f"/heimdall/users/{operator}", "-o", "json"))
    assert set(denied) == {"allow", "policy", "reason"}
    assert denied["allow"] is False and denied["policy"] is None and "no policy allows" in denied["reason"]
    own = as_json(run_module("policy", "check", "--user", name, "--predicate", "read",
                             "--object", f"/heimdall/users/{name}", "-o", "json"))
    assert own == {"allow": True, "policy": "self-read", "reason": "allowed by policy 'self-read'"}
    table = ok(run_module("policy", "check", "--user", operator, "--predicate", "delete", "--object", "/x"))
    assert table.stdout.splitlines()[1].split()[:2] == ["allow", "operator-full-access"]
    assert ok(run_module("policy", "check", "--user", name, "--predicate", "read", "--object", "/x",
                         "-o", "name")).stdout.strip() == "deny"
    error_line(run_module("policy", "check", "--user", uniq("nobody"), "--predicate", "read", "--object", "/x"),
               "ENOENT", 5)


def test_policy_resource_grants_and_revokes(run_module, operator, tmp_path):
    role = f"roles:id:{uniq('r')}"
    name, token = new_user(run_module, role)
    env = {"DATAOS_TOKEN": token}
    policy = uniq("readers")
    f = tmp_path / "policy.yaml"
    f.write_text(f"""\
name: {policy}
version: v1
type: policy
policy:
  access:
    subjects:
      tags: [["{role}"]]
    predicates: [read]
    objects:
      paths: ["/heimdall/users/**"]
""")
    error_line(run_module("user", "get", operator, env=env), "EACCES", 4)
    ok(run_module("apply", "-f", f))
    assert as_json(run_module("user", "get", operator, "-o", "json", env=env))["id"] == operator
    check = as_json(run_module("policy", "check", "--user", name, "--predicate", "read",
                               "--object", f"/heimdall/users/{operator}", "-o", "json"))
    assert check["allow"] is True and check["policy"] == policy
    ok(run_module("delete", "-f", f))
    error_line(run_module("user", "get", operator, env=env), "EACCES", 4)


# --- contexts, login, logout ---------------------------------------------------------------------

@pytest.mark.slow
def test_contexts(run_dataos, dataos_home):
    listed = as_json(run_dataos("context", "list", "-o", "json"))
    assert listed == [{"name": "local", "url": "local://", "current": True}]
    assert ok(run_dataos("context", "list")).stdout.splitlines()[1].split() == ["*", "local", "local://"]
    ok(run_dataos("context", "add", "prod", "--url", "https://dataos.example.com"))
    line = error_line(run_dataos("context", "add", "prod", "--url", "https://other.example.com"), "EEXIST", 6)
    assert "prod" in line
    error_line(run_dataos("context", "add", "bad", "--url", "ftp://example.com"), "EINVAL", 2)
    error_line(run_dataos("context", "add", "bad name", "--url", "local://"), "EINVAL", 2)
    assert "switched" in ok(run_dataos("context", "use", "prod")).stdout
    listed = as_json(run_dataos("context", "list", "-o", "json"))
    assert {c["name"]: c["current"] for c in listed} == {"local": False, "prod": True}
    assert {c["name"]: c["url"] for c in listed}["prod"] == "https://dataos.example.com"
    error_line(run_dataos("context", "use", "nope"), "ENOENT", 5)
    # --context picks another context for one command (here: starts the local kernel)
    me = as_json(run_dataos("--context", "local", "whoami", "-o", "json"))
    assert me["context"] == "local"
    ok(run_dataos("context", "use", "local"))
    assert as_json(run_dataos("whoami", "-o", "json"))["id"] == me["id"]
    assert "prod" not in (dataos_home / "config" / "credentials.json").read_text()
    ok(run_dataos("context", "use", "prod"))
    assert "deleted" in ok(run_dataos("context", "delete", "prod")).stdout
    assert [c["name"] for c in as_json(run_dataos("context", "list", "-o", "json"))] == ["local"]
    assert as_json(run_dataos("context", "list", "-o", "json"))[0]["current"]  # back to local
    error_line(run_dataos("context", "delete", "local"), "EINVAL", 2)
    error_line(run_dataos("context", "delete", "prod"), "ENOENT", 5)


@pytest.mark.slow
def test_login_and_logout(run_dataos, dataos_home):
    operator = as_json(run_dataos("whoami", "-o", "json"))["id"]
    operator_token = credentials(dataos_home)["local"]
    name, token = new_user(run_dataos)

    r = ok(run_dataos("login", "--token-stdin", input=token + "\n"))
    assert r.stdout.strip() == f"logged in to local as {name}"
    assert credentials(dataos_home)["local"] == token
    assert as_json(run_dataos("whoami", "-o", "json"))["id"] == name

    # a bad token is refused and not stored
    error_line(run_dataos("login", "--token-stdin", input="dos_bogus\n"), "EAUTH", 3)
    assert credentials(dataos_home)["local"] == token
    error_line(run_dataos("login", "--token-stdin", input="\n"), "EINVAL", 2)

    assert ok(run_dataos("logout")).stdout.strip() == "logged out of local"
    assert "local" not in credentials(dataos_home)
    line = error_line(run_dataos("whoami"), "EAUTH", 3)
    assert "dataos login" in line
    error_line(run_dataos("get", "workflow"), "EAUTH", 3)
    assert as_json(run_dataos("whoami", "-o", "json", env={"DATAOS_TOKEN": token}))["id"] == name
    assert "no stored credential" in ok(run_dataos("logout")).stdout

    ok(run_dataos("login", "--token-stdin", input=operator_token))
    assert as_json(run_dataos("whoami", "-o", "json"))["id"] == operator


# --- audit ---------------------------------------------------------------------------------------

def test_audit_of_a_user(run_module, operator):
    alice, token = new_user(run_module)
    env = {"DATAOS_TOKEN": token}
    ok(run_module("whoami", env=env))
    error_line(run_module("user", "get", operator, env=env), "EACCES", 4)
    records = as_json(run_module("audit", "--user", alice, "-o", "json"))
    assert records and all(r["user"] == alice for r in records)
    assert [r["syscall"] for r in records] == ["user.get", "auth.whoami"]  # newest first
    deny, allow = records
    assert (deny["decision"], deny["errno"], deny["object"]) == ("deny", "EACCES", f"/heimdall/users/{operator}")
    assert (allow["decision"], allow["errno"], allow["policy"]) == ("allow", None, "self-read")
    errors = as_json(run_module("audit", "--user", alice, "--errors", "-o", "json"))
    assert [r["syscall"] for r in errors] == ["user.get"]
    assert [r["syscall"] for r in as_json(run_module("audit", "--user", alice, "--syscall", "auth.*",
                                                     "-o", "json"))] == ["auth.whoami"]
    table = ok(run_module("audit", "--user", alice)).stdout.splitlines()
    assert table[0].split() == ["TIME", "USER", "SYSCALL", "OBJECT", "DECISION", "ERRNO", "DURATION"]
    assert table[1].split()[1:5] == [alice, "user.get", f"/heimdall/users/{operator}", "deny"]
    wide = ok(run_module("audit", "--user", alice, "-o", "wide")).stdout.splitlines()
    assert "POLICY" in wide[0].split()
    error_line(run_module("audit", env=env), "EACCES", 4)
    error_line(run_module("audit", "--since", "yesterday"), "EINVAL", 2)
