"""A job is untrusted code: through the real daemon, a workspace-scoped developer's job tries to
read what its user may not, and finds nothing.

Before the sandbox, a pod ran as the kernel's OS user with its working directory inside the state
directory: it read gateway.key, vault.key and the kernel's databases, the operator's credentials
file, the depots' files, and other pods' /proc/PID/environ (their secrets and tokens).
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import textwrap
from itertools import chain
from pathlib import Path

import duckdb
import pytest

from clitools import DATAOS, wait_for

pytestmark = pytest.mark.slow

PROBE = textwrap.dedent("""\
    import json, os
    for name, path in json.loads(os.environ["TARGETS"]).items():
        try:
            with open(path, "rb") as f:
                print(f"{name}|READ {len(f.read(64))} bytes")
        except OSError as e:
            print(f"{name}|hidden ({type(e).__name__})")
    leaks = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if b"s3cret-mark" in open(f"/proc/{pid}/environ", "rb").read():
                    leaks.append(pid)
            except OSError:
                pass
    print("environ|" + ("LEAK" if leaks else "clean"))
    print(f"cwd|{os.getcwd()} {os.environ.get('HOME')}")
    from syscalls import connect
    with connect() as c:
        print("whoami|" + c.auth.whoami()["id"])
""")


def runtime(run, kind, name, *more):
    r = run("get", "runtime", kind, name, "-o", "json", *more)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.fixture
def team(run_dataos, dataos_home, tmp_path):
    """A depot over a folder of files, a secret-holding worker of the operator's, and `dev`, who may
    create, read and update resources in workspace `team` only (and nothing else)."""
    lake = tmp_path / "lake"
    (lake / "hr").mkdir(parents=True)
    duckdb.sql(f"COPY (SELECT 1 AS id, 'x@example.com' AS email) TO '{lake}/hr/people.parquet' (FORMAT parquet)")
    (tmp_path / "setup.yaml").write_text(textwrap.dedent(f"""\
        name: lake
        version: v1
        type: depot
        depot: {{type: file, file: {{path: {lake}}}}}
        ---
        name: hush
        version: v1
        type: secret
        secret: {{type: key-value, data: {{MARK: s3cret-mark}}}}
        ---
        name: holder
        version: v1
        type: worker
        worker:
          stack: container
          stackSpec: {{command: [sleep, "120"]}}
          dataosSecrets: [{{name: hush}}]
        ---
        name: team-devs
        version: v1
        type: policy
        policy:
          access:
            subjects: {{tags: [[roles:id:dev]]}}
            predicates: [create, read, update]
            objects: {{paths: ['/poros/workspaces/team/**']}}
        """))
    assert run_dataos("apply", "-f", tmp_path / "setup.yaml").returncode == 0
    assert run_dataos("user", "create", "dev", "--tag", "roles:id:dev").returncode == 0
    token = run_dataos("user", "apikey", "create", "dev").stdout.strip()
    wait_for(lambda: runtime(run_dataos, "worker", "holder")["runtime"] == "running:1")
    return {"token": token, "lake": lake, "home": Path(dataos_home)}


def _probe(run_dataos, team, tmp_path, name: str, token: str | None) -> dict[str, str]:
    state = team["home"] / "data" / "kernel"
    targets = {"gateway.key": state / "gateway.key", "vault.key": state / "vault.key",
               "a database": next(chain(state.glob("*.db"), state.glob("database.json"))),  # PostgreSQL's URL
               "audit journal": next(state.glob("audit.*.journal")),
               "credentials": team["home"] / "config" / "credentials.json",
               "depot file": team["lake"] / "hr" / "people.parquet",
               "another pod's dir": next((state / "pods").iterdir()) / "spec.json"}
    assert all(p.exists() for p in targets.values())
    manifest = tmp_path / f"{name}.yaml"
    manifest.write_text(json.dumps({
        "name": name, "version": "v1", "type": "workflow", "workspace": "team", "workflow": {"dag": [{
            "name": "probe", "spec": {"stack": "python", "envs": {"TARGETS": json.dumps({k: str(v) for k, v in
                                                                                          targets.items()})},
                                      "stackSpec": {"script": PROBE}}}]}}))
    r = run_dataos("apply", "-f", manifest, env={"DATAOS_TOKEN": token} if token else None)
    assert r.returncode == 0, r.stderr
    wait_for(lambda: runtime(run_dataos, "workflow", name, "-w", "team")["runtime"] in ("succeeded", "failed"),
             timeout=60)
    out = run_dataos("logs", "-t", "workflow", "-n", name, "-w", "team").stdout
    return dict(line.split("|", 1) for line in out.splitlines() if "|" in line)


@pytest.mark.parametrize("who", ["dev", "the operator"])
def test_a_job_finds_nothing_of_the_kernel_the_user_or_other_pods(run_dataos, team, tmp_path, who):
    seen = _probe(run_dataos, team, tmp_path, "probe-dev" if who == "dev" else "probe-op",
                  team["token"] if who == "dev" else None)
    for target in ("gateway.key", "vault.key", "a database", "audit journal", "credentials", "depot file",
                   "another pod's dir"):
        assert seen[target].startswith("hidden"), seen
    assert seen["environ"] == "clean" and seen["cwd"] == "/pod /pod"
    assert seen["whoami"] == ("dev" if who == "dev" else run_dataos("whoami", "-o", "json").stdout and
                              json.loads(run_dataos("whoami", "-o", "json").stdout)["id"])


def test_a_pods_scratch_is_outside_the_state_and_gone_when_it_ends(run_dataos, team, tmp_path):
    state = team["home"] / "data" / "kernel"
    _probe(run_dataos, team, tmp_path, "short", team["token"])
    pods = json.loads(run_dataos("pods", "-w", "team", "-o", "json").stdout)
    spec = json.loads((state / "pods" / pods[0]["name"] / "spec.json").read_text())
    scratch = Path(spec["scratch"])
    assert not str(scratch).startswith(str(team["home"])) and not scratch.exists()
    assert spec["sandboxed"]
    holder = json.loads(run_dataos("pods", "-r", "worker/holder", "-o", "json").stdout)[0]["name"]
    assert "s3cret-mark" not in (state / "pods" / holder / "spec.json").read_text()  # secrets travel on stdin


def test_secret_files_reach_only_their_pod(run_dataos, team, tmp_path):
    manifest = tmp_path / "reader.yaml"
    manifest.write_text(textwrap.dedent("""\
        name: reader
        version: v1
        type: workflow
        workflow:
          dag:
            - name: read
              spec:
                stack: container
                stackSpec: {command: [sh, -c, 'cat "$$DATAOS_SECRETS_DIR/hush"; ls /run']}
                dataosSecrets: [{name: hush, consumptionType: propFile}]
        """))
    assert run_dataos("apply", "-f", manifest).returncode == 0
    wait_for(lambda: runtime(run_dataos, "workflow", "reader")["runtime"] == "succeeded")
    assert run_dataos("logs", "-t", "workflow", "-n", "reader").stdout.split() == ["MARK=***", "secrets"]  # read, and masked


def test_without_a_sandbox_only_the_operators_workloads_run(run_dataos, dataos_home, tmp_path):
    """With no usable bubblewrap the kernel says so, and refuses other users' workloads at apply."""
    env = {"DATAOS_BWRAP": str(tmp_path / "no-bwrap")}
    assert run_dataos("user", "create", "dev", "--tag", "roles:id:dev", env=env).returncode == 0
    token = run_dataos("user", "apikey", "create", "dev", env=env).stdout.strip()
    (tmp_path / "p.yaml").write_text("name: devs\nversion: v1\ntype: policy\npolicy:\n  access:\n"
                                     "    subjects: {tags: [[roles:id:dev]]}\n    predicates: [create, read, update]\n"
                                     "    objects: {paths: ['/poros/workspaces/public/**']}\n")
    assert run_dataos("apply", "-f", tmp_path / "p.yaml", env=env).returncode == 0
    (tmp_path / "w.yaml").write_text("name: mine\nversion: v1\ntype: workflow\nworkflow:\n  dag:\n"
                                     "    - name: a\n      spec: {stack: container, stackSpec: {command: [echo, hi]}}\n")
    r = run_dataos("apply", "-f", tmp_path / "w.yaml", env={**env, "DATAOS_TOKEN": token})
    assert r.returncode == 4 and "EACCES" in r.stderr and "bubblewrap" in r.stderr
    assert run_dataos("apply", "-f", tmp_path / "w.yaml", env=env).returncode == 0  # the operator's own
    wait_for(lambda: runtime(run_dataos, "workflow", "mine")["runtime"] == "succeeded")
    assert "bubblewrap" in (Path(dataos_home) / "logs" / "kernel.log").read_text()


def _dev_job(run_dataos, team, tmp_path, name: str, spec: dict, envs: dict | None = None) -> str:
    """Apply a one-job workflow in `team` as dev; its output once it ended."""
    job = {"name": "x", "spec": {**spec, **({"envs": envs} if envs else {})}}
    (tmp_path / f"{name}.yaml").write_text(json.dumps({"name": name, "version": "v1", "type": "workflow",
                                                       "workspace": "team", "workflow": {"dag": [job]}}))
    r = run_dataos("apply", "-f", tmp_path / f"{name}.yaml", env={"DATAOS_TOKEN": team["token"]})
    assert r.returncode == 0, r.stderr
    wait_for(lambda: runtime(run_dataos, "workflow", name, "-w", "team")["runtime"] in ("succeeded", "failed"),
             timeout=60)
    return run_dataos("logs", "-t", "workflow", "-n", name, "-w", "team").stdout


def test_the_kernels_variables_are_not_a_manifests_to_set(run_dataos, team, tmp_path):
    """A DATAOS_URL of the manifest's made the local driver mount any host path into the pod."""
    state = team["home"] / "data" / "kernel"
    (tmp_path / "bad.yaml").write_text(json.dumps({
        "name": "mount", "version": "v1", "type": "workflow", "workspace": "team", "workflow": {"dag": [{
            "name": "x", "spec": {"stack": "container", "envs": {"DATAOS_URL": f"unix://{state}"},
                                  "stackSpec": {"command": ["ls", str(state)]}}}]}}))
    r = run_dataos("apply", "-f", tmp_path / "bad.yaml", env={"DATAOS_TOKEN": team["token"]})
    assert r.returncode == 2 and "DATAOS_" in r.stderr and "envs.DATAOS_URL" in r.stderr


def test_no_variable_of_a_pod_acts_outside_its_sandbox(run_dataos, team, tmp_path):
    """LD_PRELOAD of a library the pod wrote made the host's bwrap (root) run its code."""
    if not shutil.which("gcc"):
        pytest.skip("no C compiler to build the library")
    marker = tmp_path / "escaped"
    source = tmp_path / "evil.c"
    source.write_text('#include <stdio.h>\n__attribute__((constructor)) static void run(void) {\n'
                      f'  FILE *f = fopen("{marker}", "w"); if (f) {{ fputs("out", f); fclose(f); }} }}\n')
    library = tmp_path / "evil.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    library.chmod(0o755)
    tmp_path.chmod(0o755)
    out = _dev_job(run_dataos, team, tmp_path, "preload", {"stack": "container", "stackSpec": {
        "command": ["sh", "-c", "echo ran"]}}, envs={"LD_PRELOAD": str(library)})
    assert "ran" in out and not marker.exists()


def test_a_pod_has_no_network_but_its_kernels_socket(run_dataos, team, tmp_path):
    """Pods reached loopback services (a trust-auth PostgreSQL, Redis) past the Gateway."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        out = _dev_job(run_dataos, team, tmp_path, "net", {"stack": "python", "stackSpec": {"script": textwrap.dedent(f"""\
            import socket
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout=2)
                print("connected")
            except OSError as e:
                print("refused", type(e).__name__)
            from syscalls import connect
            print("kernel", connect().auth.whoami()["id"])
            """)}})
    assert "refused" in out and "kernel dev" in out and "connected" not in out


def test_a_forbidden_pods_logs_and_kill_are_answered_as_a_missing_ones(run_dataos, team):
    holder = json.loads(run_dataos("pods", "-r", "worker/holder", "-o", "json").stdout)[0]["name"]
    as_dev = {"DATAOS_TOKEN": team["token"]}
    answers = {}
    for name in (holder, holder + "x"):
        r = run_dataos("logs", name, env=as_dev)
        answers[name] = (r.returncode, r.stderr.replace(name, "NAME"))
    assert len(set(answers.values())) == 1 and "ENOENT" in answers[holder][1]


def test_a_pods_output_cannot_drive_the_terminal(run_dataos, tmp_path):
    """`dataos logs` on a terminal shows a pod's escape sequences, it does not obey them."""
    import pexpect
    (tmp_path / "esc.yaml").write_text("name: esc\nversion: v1\ntype: workflow\nworkflow:\n  dag:\n"
                                       "    - name: a\n      spec: {stack: container, stackSpec: {command: "
                                       "[printf, '\\033]0;owned\\007\\033[2Jhello\\n']}}\n")
    assert run_dataos("apply", "-f", tmp_path / "esc.yaml").returncode == 0
    wait_for(lambda: runtime(run_dataos, "workflow", "esc")["runtime"] == "succeeded")
    pod = json.loads(run_dataos("pods", "-o", "json").stdout)[0]["name"]
    child = pexpect.spawn(DATAOS[0], [*DATAOS[1:], "logs", pod], env={**os.environ, "DATAOS_HOME": str(run_dataos.home)},
                          encoding="utf-8", timeout=20)
    child.expect(pexpect.EOF)
    assert "^[]0;owned^G^[[2Jhello" in child.before and "\x1b" not in child.before
