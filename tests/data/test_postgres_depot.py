"""A PostgreSQL depot against the local server (skipped, saying why, where none answers)."""
from __future__ import annotations

import uuid

import pytest

from lakekit import answers, psql
from syscalls import connect
from syscalls.errors import SyscallError


pytestmark = pytest.mark.skipif(not answers(5432), reason="no PostgreSQL server answers on 127.0.0.1:5432")


@pytest.fixture
def table():
    name = f"people_{uuid.uuid4().hex[:8]}"
    psql(f"CREATE TABLE {name} (id int, email text); "
         f"INSERT INTO {name} SELECT i, 'user' || i || '@example.com' FROM generate_series(1, 20) i")
    yield name
    psql(f"DROP TABLE IF EXISTS {name}")


def test_a_postgres_depot_reads_through_an_instance_secret(tmp_path, table):
    with connect(f"embedded://{tmp_path / 'state'}") as k:
        with pytest.raises(SyscallError) as e:
            k.resource.apply(manifests=[{"name": "pg", "version": "v1", "type": "depot", "depot": {
                "type": "postgresql", "postgresql": {"host": "127.0.0.1", "database": "test", "password": "x"}}}])
        assert e.value.code == "EINVAL" and e.value.details["field"] == "depot.postgresql.password"
        k.resource.apply(manifests=[
            {"name": "pg-creds", "version": "v1", "type": "instance-secret",
             "instance-secret": {"type": "key-value", "data": {"username": "postgres", "password": "s3cret-pw"}}},
            {"name": "pg", "version": "v1", "type": "depot", "depot": {
                "type": "postgresql", "postgresql": {"host": "127.0.0.1", "port": 5432, "database": "test"},
                "secrets": [{"name": "pg-creds"}]}},
            {"name": "mask-pg-email", "version": "v1", "type": "policy", "policy": {"data": {
                "type": "mask", "priority": 10, "dataset_id": f"pg.public.{table}",
                "selector": {"user": {"match": "any", "tags": ["users:id:*"]}, "column": {"names": ["email"]}},
                "mask": {"operator": "redact"}}}}])
        r = k.query.execute(sql=f"select count(*), min(email) from pg.public.{table}")
        assert r["rows"] == [[20, "#####"]] and r["governance"]["policies"] == ["mask-pg-email"]
        assert "s3cret-pw" not in str(k.resource.get(type="depot", name="pg")) + str(k.query.history())


def test_an_unreachable_postgres_is_eunavail_without_the_connection_string(tmp_path):
    with connect(f"embedded://{tmp_path / 'state'}") as k:
        k.resource.apply(manifests=[
            {"name": "pg-creds", "version": "v1", "type": "instance-secret",
             "instance-secret": {"type": "key-value", "data": {"username": "nobody", "password": "s3cret-pw"}}},
            {"name": "gone", "version": "v1", "type": "depot", "depot": {
                "type": "postgresql", "postgresql": {"host": "127.0.0.1", "port": 1, "database": "test"},
                "secrets": [{"name": "pg-creds"}]}}])
        with pytest.raises(SyscallError) as e:
            k.query.execute(sql="select * from gone.public.t")
        assert e.value.code == "EUNAVAIL" and "gone" in e.value.message and "s3cret-pw" not in e.value.message
