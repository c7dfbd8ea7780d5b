"""What operators scrape and probe: `/metrics` in Prometheus's text format (syscalls by name and
errno with latency histograms, pods by phase, the reconciler, the audit backlog), nothing in it
naming a user or an object; `/readyz` failing while the kernel's database is gone."""
from __future__ import annotations

import asyncio
import os

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

import syscalls
from syscalls.errors import SyscallError

from pgkit import pg_database


def families(text: str) -> dict[str, dict[tuple, float]]:
    """{sample name: {sorted labels: value}}, parsed as Prometheus parses it."""
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


def test_metrics_count_syscalls_by_name_and_errno_and_name_no_one(kernel_server):
    server = kernel_server()
    token = (server.state / "operator.token").read_text().strip()
    with syscalls.connect(server.url, token) as op:
        op.user.create(name="secret-sam", tags=["roles:id:user"])
        sam = op.user.apikey.create(user="secret-sam")["token"]
        for _ in range(3):
            op.auth.whoami()
        with pytest.raises(SyscallError):
            op.user.get(name="nobody-here")
    with syscalls.connect(server.url, sam) as client, pytest.raises(SyscallError):
        client.user.create(name="mallory")  # EACCES
    with syscalls.connect(server.url, "dataos_not-a-token") as stranger, pytest.raises(SyscallError):
        stranger.auth.whoami()  # EAUTH
    response = httpx.get(server.url + "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text
    assert not [secret for secret in ("secret-sam", "nobody-here", "mallory", sam, token) if secret in text]
    found = families(text)
    calls = found["dataos_syscalls_total"]
    assert calls[(("errno", ""), ("syscall", "auth.whoami"))] >= 3
    assert calls[(("errno", "ENOENT"), ("syscall", "user.get"))] == 1
    assert calls[(("errno", "EACCES"), ("syscall", "user.create"))] == 1
    assert calls[(("errno", "EAUTH"), ("syscall", "auth.whoami"))] == 1
    buckets = found["dataos_syscall_duration_seconds_bucket"]
    whoami = sorted((float(dict(k)["le"]), v) for k, v in buckets.items() if dict(k)["syscall"] == "auth.whoami")
    assert [v for _, v in whoami] == sorted(v for _, v in whoami)  # cumulative
    assert whoami[-1] == (float("inf"), found["dataos_syscall_duration_seconds_count"][(("syscall", "auth.whoami"),)])
    assert set(dict(k)["phase"] for k in found["dataos_pods"]) >= {"Pending", "Running", "Succeeded", "Failed"}
    assert "dataos_reconcile_ticks_total" in found and "dataos_reconcile_backlog" in found
    assert "dataos_audit_backlog" in found
    [(labels, one)] = found["dataos_kernel_info"].items()
    database = "postgresql" if os.environ.get("DATAOS_DATABASE") else "sqlite"  # DATAOS_TEST_POSTGRESQL=1
    assert one == 1 and dict(labels)["database"] == database and dict(labels)["cloud"] == "local"
    ready = httpx.get(server.url + "/readyz")
    assert ready.status_code == 200 and ready.json() == {"ok": True, "problems": []}


def test_names_a_caller_makes_up_never_become_labels(kernel_server):
    """An unauthenticated caller asking for 100 made-up syscalls adds one label, not 100 (nor its
    text) to what the kernel keeps and Prometheus stores."""
    server = kernel_server()
    with httpx.Client(base_url=server.url) as client:
        for i in range(100):
            assert client.post(f"/api/v1/syscalls/x{i}.evil", json={}).status_code == 501
    text = httpx.get(server.url + "/metrics").text
    assert "evil" not in text
    unknown = families(text)["dataos_syscalls_total"][(("errno", "ENOSYS"), ("syscall", "(unknown)"))]
    assert unknown == 100


def test_readyz_fails_while_the_database_is_gone_and_recovers(tmp_path):
    import psycopg

    from kernel.api import create_app
    from kernel.kernel import Kernel

    def get(app, path: str) -> httpx.Response:
        async def go() -> httpx.Response:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://kernel") as client:
                return await client.get(path)
        return asyncio.run(go())

    with pg_database() as url:
        kernel = Kernel(tmp_path / "state", operator="ops", database=url)
        try:
            app = create_app(kernel)
            assert get(app, "/readyz").json() == {"ok": True, "problems": []}
            name = url.rsplit("/", 1)[1]
            with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
                admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
                gone = get(app, "/readyz")
                assert gone.status_code == 503 and not gone.json()["ok"]
                [problem] = gone.json()["problems"]
                assert problem.startswith("EUNAVAIL: ") and "database cannot be reached" in problem
                assert get(app, "/healthz").status_code == 200  # alive, not ready
                admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
            assert get(app, "/readyz").json() == {"ok": True, "problems": []}
        finally:
            kernel.close()


def test_connections_the_server_cut_cost_no_failed_call(tmp_path, monkeypatch):
    """PostgreSQL restarted (every connection ended): the next call of every service answers."""
    import psycopg
    with pg_database() as url:
        monkeypatch.setenv("DATAOS_DATABASE", url)
        with syscalls.connect(f"embedded://{tmp_path / 'state'}") as op:
            op.user.create(name="ana", tags=["roles:id:user"])
            op.query.execute(sql="select 1 as one")
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = current_database() AND pid <> pg_backend_pid()")
            op.user.create(name="bo", tags=["roles:id:user"])  # a transaction, begun again
            assert {"ana", "bo"} <= {u["id"] for u in op.user.list()}
            op.query.execute(sql="select 2 as two")
            assert [h["sql"] for h in op.query.history(limit=2)] == ["select 2 as two", "select 1 as one"]
            assert any(r["syscall"] == "user.create" for r in op.audit.list(syscall="user.*"))
            assert op.catalog.search(text="")["total"] >= 0
