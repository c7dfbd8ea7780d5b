"""Locked-down DuckDB engines kept between queries: a query on a kept engine sees only what its own
configuration and views give it, one query runs on an engine at a time, and an engine whose query
was interrupted or ran out of memory is closed, never handed to the next query."""
from __future__ import annotations

import os
import threading
import time

import duckdb
import pytest

import syscalls
from kernel.minerva import duckdb_engine
from kernel.minerva.duckdb_engine import Engine, Limits, Query
from kernel.minerva.engines import Engines
from syscalls.errors import SyscallError

LONG = "SELECT count(*) FROM range(10000000000) t(x) WHERE x % 7 = 3"


@pytest.fixture
def lakes(tmp_path):
    """Two depot folders, each with one Parquet file."""
    folders = [tmp_path / "lake" / name for name in ("one", "two")]
    for folder in folders:
        folder.mkdir(parents=True)
        duckdb.sql(f"COPY (SELECT '{folder.name}' AS origin) TO '{folder}/t.parquet' (FORMAT parquet)")
    return folders


@pytest.fixture
def engines():
    """A pool that remembers every engine it opened (`engines.opened`)."""
    opened: list[Engine] = []

    def open_engine(setup):
        opened.append(Engine(setup))
        return opened[-1]

    pool = Engines(open_engine)
    pool.opened = opened
    yield pool
    pool.close()


def source(folder) -> str:
    return f"read_parquet('{folder}/t.parquet')"


def rows(engines, sql, folder, limits=Limits(), views=None, functions=None, owner=None):
    q = Query(sql, [str(folder)], limits, views=views, functions=functions, engines=engines, owner=owner)
    try:
        return q.run().fetchall()
    finally:
        q.close()


def closed(engine: Engine) -> bool:
    return not os.path.isdir(engine.spill)  # its spill folder goes when it closes


VIEWS = "SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1"


def test_the_next_query_of_another_user_reuses_the_engine_without_the_previous_querys_views(engines, lakes):
    one = lakes[0]
    engines.per_key = 1  # (else bob's query would get an engine of its own)
    assert rows(engines, "SELECT origin FROM a", one, views={"a": source(one)}, owner="ana") == [("one",)]
    assert rows(engines, "SELECT origin FROM b", one, views={"b": source(one)}, owner="bob") == [("one",)]
    assert len(engines.opened) == 1  # the same engine, kept
    with pytest.raises(SyscallError) as e:
        rows(engines, "SELECT origin FROM a", one, views={"b": source(one)}, owner="bob")
    assert e.value.code == "EINVAL" and "a" in e.value.message
    assert rows(engines, VIEWS, one, views={"c": source(one)}, owner="ana") == [("c",)]
    assert len(engines.opened) == 1


def test_an_engine_keeps_its_owners_views_for_their_next_queries_up_to_a_bound(engines, lakes, monkeypatch):
    one = lakes[0]
    monkeypatch.setattr(duckdb_engine, "KEPT_VIEWS", 3)
    engines.per_key = 1
    for name in "abcd":
        rows(engines, f"SELECT origin FROM {name}", one, views={name: source(one)}, owner="ana")
    assert rows(engines, VIEWS, one, views={"e": source(one)}, owner="ana") == [("c",), ("d",), ("e",)]
    assert rows(engines, VIEWS, one, views={"c": source(one), "f": source(one)}, owner="ana") == [
        ("c",), ("e",), ("f",)]  # c read again: d is now the least recently read
    assert rows(engines, VIEWS, one, views={"f": source(one)}, owner="bob") == [("f",)]
    assert len(engines.opened) == 1


def test_a_user_takes_the_idle_engine_they_last_ran_on(engines, lakes):
    one = lakes[0]
    first, second = (Query("SELECT 1", [str(one)], Limits(), views={v: source(one)}, engines=engines, owner=u)
                     for u, v in (("ana", "a"), ("bob", "b")))
    first.close()
    second.close()  # both idle, bob's the most recent
    assert rows(engines, VIEWS, one, views={"c": source(one)}, owner="ana") == [("a",), ("c",)]
    assert len(engines.opened) == 2


def test_another_user_gets_an_engine_of_their_own_while_fewer_than_per_key_are_idle(engines, lakes):
    one = lakes[0]
    for owner in ("ana", "bob", "ana", "bob"):
        rows(engines, f"SELECT origin FROM {owner}", one, views={owner: source(one)}, owner=owner)
    assert len(engines.opened) == 2  # each kept their views
    rows(engines, VIEWS, one, views={"c": source(one)}, owner="cid")
    assert len(engines.opened) == 2  # per_key idle: cid took the least recently used one
    assert rows(engines, VIEWS, one, views={"bob": source(one)}, owner="bob") == [("bob",)]


def test_a_kept_engine_stays_locked_down(engines, lakes):
    one, two = lakes
    for _ in range(2):
        assert rows(engines, "SELECT current_setting('enable_external_access'), "
                             "current_setting('lock_configuration')", one) == [(False, True)]
    assert len(engines.opened) == 1
    for sql in ("SET enable_external_access = true", "SET lock_configuration = false",
                f"SELECT * FROM {source(two)}"):
        with pytest.raises(SyscallError) as e:
            rows(engines, sql, one)
        assert e.value.code == "EINVAL"


def test_other_directories_get_another_engine_with_only_their_own(engines, lakes):
    one, two = lakes
    assert rows(engines, f"SELECT origin FROM {source(one)}", one) == [("one",)]
    [(allowed,)] = rows(engines, "SELECT current_setting('allowed_directories')", two)
    assert len(engines.opened) == 2
    assert any(d.startswith(str(two)) for d in allowed) and not any(d.startswith(str(one)) for d in allowed)
    with pytest.raises(SyscallError) as e:
        rows(engines, f"SELECT origin FROM {source(one)}", two)
    assert e.value.code == "EINVAL"


@pytest.mark.parametrize("change", ["memory", "threads", "functions"])
def test_other_limits_or_functions_get_another_engine(engines, lakes, change):
    one = lakes[0]
    hashed = {"f": lambda values: values}
    base = {"limits": Limits(memory="256MiB", threads=1), "functions": None}
    other = {"memory": {"limits": Limits(memory="128MiB", threads=1)},
             "threads": {"limits": Limits(memory="256MiB", threads=2)},
             "functions": {"functions": hashed}}[change]
    setting = "SELECT current_setting('memory_limit'), current_setting('threads')"
    first = rows(engines, setting, one, **base)
    second = rows(engines, setting, one, **{**base, **other})
    assert len(engines.opened) == 2
    assert (first != second) == (change != "functions")
    if change == "functions":  # the function is the second engine's alone
        assert rows(engines, "SELECT f('x')", one, **{**base, **other}) == [("x",)]
        with pytest.raises(SyscallError):
            rows(engines, "SELECT f('x')", one, **base)
        assert len(engines.opened) == 2


def test_a_cancel_that_comes_just_before_the_engine_starts_still_stops_the_query(engines, lakes):
    """DuckDB drops an interrupt sent to an idle connection: one that lands after the query's own
    check and before DuckDB starts executing was lost, and the query ran to its timeout."""
    q = Query(LONG, [str(lakes[0])], Limits(timeout=20), engines=engines)

    class JustTooEarly:  # cancels in the last moment before the engine executes
        def __init__(self, con):
            self.con = con

        def execute(self, statement):
            q.cancel()
            return self.con.execute(statement)

        def __getattr__(self, name):
            return getattr(self.con, name)

    q.con = JustTooEarly(q.con)
    start = time.monotonic()
    try:
        with pytest.raises(SyscallError) as e:
            q.run()
    finally:
        q.close()
    assert e.value.code == "ECANCELED" and time.monotonic() - start < 5


def test_no_interrupt_reaches_an_engine_once_its_query_closed(engines, lakes):
    one = lakes[0]
    first = Query("SELECT 1", [str(one)], Limits(), engines=engines)
    assert first.run().fetchall() == [(1,)]
    first.close()
    second = Query("SELECT count(*) FROM range(3000000) t(x) WHERE x % 7 = 3", [str(one)], Limits(), engines=engines)
    assert second._engine is first._engine  # the same engine, kept
    try:
        first.cancel()  # late: its query is over
        assert second.run().fetchall() == [(428571,)]
    finally:
        second.close()
    assert not second.cancelled


@pytest.mark.parametrize("how", ["cancelled", "timed out", "out of memory"])
def test_an_engine_whose_query_failed_that_way_is_closed_not_reused(engines, lakes, how):
    one = lakes[0]
    limits = {"timed out": Limits(timeout=0.3), "out of memory": Limits(memory="16MiB", threads=1)}.get(how, Limits())
    sql = "SELECT median(md5(i::varchar)) FROM range(1000000) t(i)" if how == "out of memory" else LONG
    q = Query(sql, [str(one)], limits, engines=engines)
    if how == "cancelled":
        threading.Timer(0.3, q.cancel).start()
    with pytest.raises(SyscallError) as e:
        q.run().fetchall()
    q.close()
    assert e.value.code == {"cancelled": "ECANCELED", "timed out": "ETIMEDOUT", "out of memory": "ENOMEM"}[how]
    assert closed(engines.opened[0])
    assert rows(engines, "SELECT 1", one, limits) == [(1,)]
    assert len(engines.opened) == 2


def test_a_query_the_engine_refused_leaves_it_kept(engines, lakes):
    with pytest.raises(SyscallError):
        rows(engines, "SELECT nothing FROM nowhere", lakes[0])
    assert rows(engines, "SELECT 1", lakes[0]) == [(1,)] and len(engines.opened) == 1


def test_a_kept_statement_is_bound_anew_on_each_run_and_only_its_exact_text_reuses_it(engines, lakes):
    one, two = lakes
    sql = "SELECT origin FROM a"
    assert rows(engines, sql, one, views={"a": source(one)}, owner="ana") == [("one",)]
    assert rows(engines, sql, two, views={"a": source(two)}, owner="bob") == [("two",)]  # its own view, not ana's
    assert sql in duckdb_engine._statements
    for _ in range(2):  # refused each time: what is kept passed the check
        with pytest.raises(SyscallError) as e:
            rows(engines, sql + "; SELECT 2", one, views={"a": source(one)})
        assert e.value.code == "EINVAL" and "2 statements" in e.value.message


def test_concurrent_queries_never_share_an_engine(engines, lakes):
    one = lakes[0]
    first = Query(LONG, [str(one)], Limits(), engines=engines)
    second = Query("SELECT 1", [str(one)], Limits(), engines=engines)
    assert len(engines.opened) == 2  # the first one's engine was not free
    assert second.run().fetchall() == [(1,)]
    second.close()
    first.close()
    running: set[int] = set()
    lock, together = threading.Lock(), threading.Barrier(3, timeout=30)
    clashes: list[int] = []
    errors: list[BaseException] = []

    def exclusive():
        try:
            for i in range(10):
                q = Query("SELECT 1", [str(one)], Limits(), engines=engines)
                with lock:
                    if id(q._engine) in running:
                        clashes.append(id(q._engine))
                    running.add(id(q._engine))
                if i == 0:
                    together.wait()  # all three hold a query at once at least this time
                q.run().fetchall()
                with lock:
                    running.discard(id(q._engine))
                q.close()
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=exclusive) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and clashes == [] and len(engines.opened) >= 3


def test_idle_engines_are_bounded_and_closed_after_a_while(lakes):
    engines = Engines(Engine, per_key=1, most=2, seconds=0.5)
    queries = [Query("SELECT 1", [str(folder)], Limits(), engines=engines) for folder in (*lakes, lakes[0])]
    kept = [q._engine for q in queries]
    for q in queries:
        q.close()
    assert closed(kept[0]) and not closed(kept[1]) and not closed(kept[2])  # one per configuration
    deadline = time.monotonic() + 10
    while not (closed(kept[1]) and closed(kept[2])) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert closed(kept[1]) and closed(kept[2])
    engines.close()


def test_closing_the_pool_closes_idle_engines_and_those_still_running_on_their_return(lakes):
    engines = Engines(Engine)
    idle = Query("SELECT 1", [str(lakes[0])], Limits(), engines=engines)
    busy = Query("SELECT 1", [str(lakes[0])], Limits(), engines=engines)
    idle.close()
    engines.close()
    assert closed(idle._engine) and not closed(busy._engine)
    busy.close()
    assert closed(busy._engine)


def test_engines_with_setup_statements_are_not_kept(engines, lakes):
    q = Query("SELECT 1", [str(lakes[0])], Limits(), setup=("SELECT 1",), engines=engines)
    q.close()
    assert engines.opened == [] and closed(q._engine)


def test_the_kernel_keeps_engines_between_queries_and_closes_them_at_shutdown(tmp_path, lakes):
    spill = tmp_path / "state" / "spill"
    with syscalls.connect(f"embedded://{tmp_path / 'state'}") as k:
        k.resource.apply(manifests=[{"name": "lake", "version": "v1", "type": "depot",
                                     "depot": {"type": "file", "file": {"path": str(lakes[0].parent)}}}])
        for _ in range(3):
            assert k.query.execute(sql="SELECT origin FROM lake.one.t")["rows"] == [["one"]]
        assert len(os.listdir(spill)) == 1  # one engine, kept
    assert os.listdir(spill) == []
