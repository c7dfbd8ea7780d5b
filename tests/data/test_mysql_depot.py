"""A MySQL depot against the local MariaDB server (skipped, saying why, where none answers)."""
from __future__ import annotations

import subprocess
import uuid

import pytest

from lakekit import answers
from syscalls import connect


pytestmark = pytest.mark.skipif(not answers(3306), reason="no MySQL/MariaDB server answers on 127.0.0.1:3306")


def mysql(sql: str) -> None:
    subprocess.run(["mariadb", "-h", "127.0.0.1", "-u", "root", "test", "-e", sql], check=True,
                   capture_output=True, timeout=30)


@pytest.fixture
def table():
    name = f"orders_{uuid.uuid4().hex[:8]}"
    mysql(f"CREATE TABLE {name} (id INT, phone VARCHAR(20)); "
          f"INSERT INTO {name} VALUES (1, '+49 30 1234567'), (2, '+33 1 2345678')")
    yield name
    mysql(f"DROP TABLE IF EXISTS {name}")


def test_a_mysql_depot_reads_through_an_instance_secret(tmp_path, table):
    with connect(f"embedded://{tmp_path / 'state'}") as k:
        k.resource.apply(manifests=[
            {"name": "my-creds", "version": "v1", "type": "instance-secret",
             "instance-secret": {"type": "key-value", "data": {"username": "root", "password": ""}}},
            {"name": "shop", "version": "v1", "type": "depot", "depot": {
                "type": "mysql", "mysql": {"host": "127.0.0.1", "port": 3306, "database": "test"},
                "secrets": [{"name": "my-creds"}]}},
            {"name": "mask-phone", "version": "v1", "type": "policy", "policy": {"data": {
                "type": "mask", "priority": 10, "dataset_id": f"shop.test.{table}",
                "selector": {"user": {"match": "any", "tags": ["users:id:*"]}, "column": {"names": ["phone"]}},
                "mask": {"operator": "redact"}}}}])
        r = k.query.execute(sql=f"select id, phone from shop.test.{table} order by id")
        assert r["rows"] == [[1, "#####"], [2, "#####"]]
        with pytest.raises(Exception):
            k.query.execute(sql="select * from shop.mysql.user")  # system schemas are not datasets


def test_a_rotated_secret_reconnects_its_depot(tmp_path, table):
    secret = {"name": "my-creds", "version": "v1", "type": "instance-secret",
              "instance-secret": {"type": "key-value", "data": {"username": "nobody-here", "password": "x"}}}
    with connect(f"embedded://{tmp_path / 'state'}") as k:
        k.resource.apply(manifests=[secret, {"name": "shop", "version": "v1", "type": "depot", "depot": {
            "type": "mysql", "mysql": {"host": "127.0.0.1", "port": 3306, "database": "test"},
            "secrets": [{"name": "my-creds"}]}}])
        with pytest.raises(Exception) as refused:
            k.query.execute(sql=f"select id from shop.test.{table}")
        assert refused.value.code == "EUNAVAIL" and "nobody-here" not in str(refused.value.message).split("user")[0]
        secret["instance-secret"]["data"] = {"username": "root", "password": ""}
        k.resource.apply(manifests=[secret])  # only the secret: the depot picks it up
        assert k.query.execute(sql=f"select id from shop.test.{table} order by id")["rows"] == [[1], [2]]
