"""A pod's output as anyone who may read it sees it: the values of the secrets the pod was given
(and the API keys it holds) read `***`, as CI systems mask theirs; a failed run's stored status
names the job, pod and exit code, never lines of its output."""
from __future__ import annotations

import base64
import json

from clitools import ok, wait_for


PASSWORD = "hunter2-Very-Secret-Value"
ROTATED = "rotated-Very-Secret-Value"
CERT = "line-one-AAAA\nline-two-BBBB"


def secret(password: str = PASSWORD) -> dict:
    return {"name": "db", "version": "v1", "type": "secret",
            "secret": {"type": "key-value", "data": {"password": password, "pin": "123", "cert": CERT}}}


def job(name: str, spec: dict) -> dict:
    return {"name": name, "version": "v1", "type": "workflow", "workflow": {"dag": [{"name": "a", "spec": {
        **spec, "dataosSecrets": [{"name": "db"}]}}]}}


def sh(script: str) -> dict:
    return {"stack": "container", "stackSpec": {"command": ["sh", "-c", script]}}


def pod_of(k, name: str) -> str:
    rt = wait_for(lambda: (r := k.runtime.get(type="workflow", name=name))["runtime"] in ("succeeded", "failed") and r)
    return rt["pods"][0]["name"]


def test_a_pods_output_shows_no_value_of_its_secrets(k):
    k.resource.apply(manifests=[secret(), job("leak", sh(
        'echo "pw=$password"; printf %s "$password" | base64; printf "app:%s" "$password" | base64;'
        ' echo "pin=$pin"; echo "$cert"'))])
    pod = pod_of(k, "leak")
    for lines in (k.pod.logs(name=pod), k.pod.logs(name=pod, follow=True), k.pod.logs(name=pod, tail=6)):
        text = "".join(lines)
        assert "pw=***\n" in text and "pin=123\n" in text and "***\n***\n" in text, text
        assert PASSWORD not in text and "line-one-AAAA" not in text and "line-two-BBBB" not in text, text
        assert base64.b64encode(PASSWORD.encode()).decode()[:-4] not in text
        assert base64.b64encode(f"app:{PASSWORD}".encode()).decode()[8:-8] not in text


def test_a_rotated_secrets_old_value_stays_masked_and_api_keys_too(k):
    k.resource.apply(manifests=[secret(), job("token", {"stack": "python", "stackSpec": {
        "script": "import os; print(os.environ['password'], os.environ['DATAOS_TOKEN'])"}})])
    pod = pod_of(k, "token")
    k.resource.apply(manifests=[secret(ROTATED)])
    text = "".join(k.pod.logs(name=pod))
    assert text == "*** ***\n", text


def test_a_failed_runs_status_holds_no_line_of_its_output(k):
    k.resource.apply(manifests=[secret(), job("bad", sh('echo "pw=$password"; echo "disk full" >&2; exit 5'))])
    pod = pod_of(k, "bad")
    message = k.runtime.get(type="workflow", name="bad")["message"]
    assert message.startswith(f"job a failed (pod {pod}, exit code 5"), message
    status = json.dumps([r["status"] for r in k.resource.list()])
    assert "disk full" not in status and "pw=" not in status and PASSWORD not in status


def test_logs_follow_and_describe_mask_the_secret(run_dataos, tmp_path):
    docs = [secret(), job("told", sh('echo "pw=$$password"; exit 5'))]
    (tmp_path / "m.yaml").write_text("\n---\n".join(map(json.dumps, docs)))
    ok(run_dataos("apply", "-f", tmp_path / "m.yaml"))
    wait_for(lambda: json.loads(ok(run_dataos("get", "workflow", "told", "-o", "json")).stdout)
             ["status"].get("runtime") == "failed", timeout=60)
    followed = ok(run_dataos("logs", "-t", "workflow", "-n", "told", "-f")).stdout
    described = ok(run_dataos("describe", "workflow", "told")).stdout
    assert "pw=***" in followed and "pw=***" in described and "exit code 5" in described
    assert PASSWORD not in followed + described
