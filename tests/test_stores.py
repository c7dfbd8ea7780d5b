"""The services' state on either backend: SQLite files on a laptop, a schema per service in
PostgreSQL for a team. (The whole contract suite also runs on a PostgreSQL-backed kernel:
tests/contract, kernel "postgresql".)"""
from __future__ import annotations

import sqlite3

import pytest

import syscalls
from kernel.audit import _glob_regex
from kernel.store import Place
from kernel.store.postgres import to_psycopg
from syscalls.errors import SyscallError

from pgkit import pg_database

DEPOT = {"name": "lake", "version": "v1", "type": "depot",
         "depot": {"type": "file", "file": {"path": "/tmp/nowhere-lake"}}}


def test_portable_parameters_become_psycopgs_outside_quotes_and_casts():
    assert to_psycopg("SELECT * FROM t WHERE a=? AND b LIKE 'x%?' AND c=:c AND d::text = ?") == \
        "SELECT * FROM t WHERE a=%s AND b LIKE 'x%?' AND c=%(c)s AND d::text = %s"
    assert to_psycopg('SELECT "a?b", 5 % 2 FROM t WHERE "user"=?') == 'SELECT "a?b", 5 %% 2 FROM t WHERE "user"=%s'


@pytest.mark.parametrize("pattern", ["query.*", "*.list", "user.?reate", "[a-p]*", "[^q]*", "*", "kernel.info",
                                     "a.b", "x+y*", "(q)*"])
def test_audit_syscall_patterns_match_on_postgresql_as_sqlites_glob(pattern):
    import re
    names = ["query.execute", "query.stream", "user.create", "user.delete", "resource.list", "kernel.info",
             "audit.list", "a.b", "axb", "x+yz", "(q)x"]
    con = sqlite3.connect(":memory:")
    want = [n for n in names if con.execute("SELECT ? GLOB ?", (n, pattern)).fetchone()[0]]
    assert [n for n in names if re.search(_glob_regex(pattern), n)] == want


def test_a_kernel_on_postgresql_keeps_its_state_there_across_restarts(tmp_path, monkeypatch):
    with pg_database() as url:
        monkeypatch.setenv("DATAOS_DATABASE", url)
        with syscalls.connect(f"embedded://{tmp_path / 'state'}") as op:
            op.user.create(name="ana", tags=["roles:id:user"])
            op.resource.apply(manifests=[DEPOT])
            op.query.execute(sql="select 42 as answer")
        assert not (tmp_path / "state" / "poros.db").exists()  # the state is in PostgreSQL
        with syscalls.connect(f"embedded://{tmp_path / 'state'}") as op:
            assert "ana" in [u["id"] for u in op.user.list()]
            assert [r["name"] for r in op.resource.list(type="depot")] == ["lake"]
            assert [h["sql"] for h in op.query.history(limit=5)][:1] == ["select 42 as answer"]
            assert any(r["syscall"] == "user.create" for r in op.audit.list(syscall="user.*"))
        monkeypatch.delenv("DATAOS_DATABASE")
        import psycopg
        with psycopg.connect(url) as con:
            schemas = {r[0] for r in con.execute("SELECT schema_name FROM information_schema.schemata")}
        assert {"audit", "caretaker", "gateway", "heimdall", "poros", "runtime"} <= schemas


def test_an_unreachable_database_is_eunavail_in_one_line(tmp_path):
    with pytest.raises(SyscallError) as e:
        Place(tmp_path, "postgresql://postgres@127.0.0.1:1/none").database("poros", {"postgresql": []})
    assert e.value.code == "EUNAVAIL" and "poros database cannot be reached" in e.value.message
    assert "\n" not in e.value.message


def test_text_postgresql_cannot_store_is_audited_escaped_not_lost(tmp_path):
    from kernel.audit import Audit
    with pg_database() as url:
        audit = Audit(Place(tmp_path, url))
        try:
            audit.record("eve", "user.get", "nul\x00byte", "deny", None, "ENOENT", 5)  # PostgreSQL text takes no NUL
            audit.record("eve", "user.get", "after", "allow", None, None, 5)
            objects = [r["object"] for r in audit.list()]
        finally:
            audit.close()
    assert objects == ["after", "nul\\x00byte"]


def test_text_compares_by_code_point_as_on_sqlite_whatever_the_servers_locale(tmp_path):
    """A server whose databases sort text as English does (a-b before ab, B after a): the
    services' names still order, and their prefix ranges still hold, as on SQLite."""
    from kernel.metis.store import Catalog
    names = ["a-b", "ab", "a_c", "B", "a", "Z", "é", "a\U0001F600"]
    with pg_database(icu_locale="en-US") as url:
        catalog = Catalog(Place(tmp_path, url))
        try:
            for name in names:
                catalog.put(f"dataos://crm:sales/{name}", "schema", {"columns": []}, "test")
            assert catalog.urns("dataos://crm:") == sorted(f"dataos://crm:sales/{n}" for n in names)
            assert catalog.urns("dataos://crm:sales/a") == sorted(f"dataos://crm:sales/{n}" for n in names
                                                                  if n.startswith("a"))
            browsed = [r["name"] for r in catalog.search("", limit=20)["results"]]  # by name, case aside
            letters = [n for n in browsed if n.isascii() and n.isalpha()]
            assert sorted(browsed) == sorted(names)
            assert letters == sorted(letters, key=str.lower) == ["a", "ab", "B", "Z"]
        finally:
            catalog.close()


def test_replicas_keep_their_own_audit_journals_over_one_database(tmp_path):
    """Each kernel appends to journals in its own state directory and records in the one database
    how far it has moved them: a restart moves exactly its own unmoved records, none twice."""
    from kernel.audit import Audit
    with pg_database() as url:
        def audit(name: str) -> Audit:
            (tmp_path / name).mkdir(exist_ok=True)
            return Audit(Place(tmp_path / name, url))

        a, b = audit("a"), audit("b")
        assert a.replica != b.replica
        for n in range(3):
            a.record("ana", "user.get", f"a{n}", "allow", None, None, 10)
            b.record("bo", "user.get", f"b{n}", "allow", None, None, 10)
        a.flush()
        b.close()  # its records moved as it closes
        a.close()
        again = audit("a")  # a restart of a: nothing of its own left to move, nothing of b's taken
        again.record("ana", "user.get", "a3", "allow", None, None, 10)
        assert sorted(r["object"] for r in again.list(limit=100)) == ["a0", "a1", "a2", "a3", "b0", "b1", "b2"]
        again.close()


def test_usage_counted_by_replicas_at_once_adds_up(tmp_path):
    """Two replicas flush their usage counts of one dataset at the same moments: none is lost."""
    import threading

    from kernel.metis.store import Catalog
    urn = "dataos://lake:sales/orders"
    with pg_database() as url:
        catalogs = []
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            catalogs.append(Catalog(Place(tmp_path / name, url)))
        catalogs[0].put(urn, "schema", {"columns": []}, "test")
        start = threading.Barrier(2)

        def flush(catalog: Catalog) -> None:
            start.wait()
            for _ in range(40):
                catalog.count_usage(urn, 1, "gateway")
        threads = [threading.Thread(target=flush, args=(c,)) for c in catalogs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert catalogs[1].aspect(urn, "usage")["queries"] == 80
        catalogs[0].count_usage("dataos://lake:sales/gone", 5, "gateway")  # not in the catalog: nothing
        assert not catalogs[0].exists("dataos://lake:sales/gone")
        for c in catalogs:
            c.close()
