"""A small governed world for Gateway tests: raw tables on a locked-down in-memory DuckDB, the
datasets and data policies over them, and helpers to plan and run queries as a test user.

As in the kernel, the engine knows each dataset's raw rows as a view named by its address, and the
keyed hash as a function of the engine's own. It also holds the raw tables under the datasets' own
unqualified names (``employees`` …): a table reference that escaped the rewrite would read raw
rows, and the leak checks would see it.
"""
from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Iterator
from hashlib import sha256
from pathlib import Path
from typing import Any

import duckdb
import pytest

from kernel.gateway import DataPolicy, Dataset, GatewayError, Plan, parse_data_policy, plan
from kernel.gateway.masks import KEYED_HASH, keyed_hash, view_name

HASH_KEY = b"gateway-test-key-0123456789abcdef"
USER_TAGS = frozenset({"users:id:alice", "roles:id:user"})

FIRST = ["Alice", "Bruno", "Chen", "Dana", "Emeka", "Farah", "Goran", "Hana"]
LAST = ["Smith", "Rossi", "Wei", "Levi", "Okafor", "Haddad", "Novak", "Sato"]


def _employees() -> list[tuple]:
    rows = []
    for i, (first, last) in enumerate(zip(FIRST, LAST), start=1):
        region = "EU" if i % 2 else "US"
        rows.append((i, f"{first} {last}", f"{first.lower()}.{last.lower()}@example.com", f"+1-555-01{i:02d}",
                     f"{100 + i}-{10 + i}-{1000 + i}", dt.date(1970 + 3 * i, 1 + i % 12, 2 + i), 15 + 7 * i,
                     region, 1 + i % 3, f"{region}-CODE-{i:03d}", 50000.0 + 1000 * i))
    return rows


EMPLOYEES = _employees()
DEPARTMENTS = [(1, "Data", "dana.levi@example.com"), (2, "Ops", "goran.novak@example.com"),
               (3, "Sales", "bruno.rossi@example.com")]
ORDERS = [(i, 1 + i % 8, 10.5 * i, f"4111-2222-3333-{4000 + i}") for i in range(1, 11)]

# Values no governed query may ever show: personal data, and every column of rows the filter hides.
PROTECTED: frozenset[str] = frozenset(
    [v for e in EMPLOYEES for v in (e[1], e[2], e[3], e[4], e[5].isoformat())]
    + [e[9] for e in EMPLOYEES if e[7] != "EU"]
    + [d[2] for d in DEPARTMENTS] + [o[3] for o in ORDERS]
    + [e[1].split()[0] for e in EMPLOYEES] + [e[2].split("@")[0] for e in EMPLOYEES])

EMPLOYEE_COLUMNS = {"id": "INTEGER", "name": "VARCHAR", "email": "VARCHAR", "phone": "VARCHAR", "ssn": "VARCHAR",
                    "dob": "DATE", "age": "INTEGER", "region": "VARCHAR", "dept_id": "INTEGER",
                    "codename": "VARCHAR", "salary": "DOUBLE"}


def _policy(name: str, data: dict) -> DataPolicy:
    return parse_data_policy(name, {"selector": {"user": {"match": "any", "tags": ["roles:id:user"]},
                                                 **data.pop("selector", {})}, **data})


POLICIES: list[DataPolicy] = [
    _policy("eu-only", {"type": "filter", "priority": 10, "dataset_id": "hr.people.employees",
                        "filters": [{"column": "region", "operator": "equals", "value": "EU"}]}),
    _policy("ssn-digits", {"type": "mask", "priority": 10, "selector": {"column": {"names": ["ssn"]}},
                           "mask": {"operator": "regex_replace",
                                    "regex_replace": {"pattern": "[0-9]", "replacement": "X"}}}),
    _policy("age-buckets", {"type": "mask", "priority": 20, "depot": "hr", "selector": {"column": {"names": ["age"]}},
                            "mask": {"operator": "bucket_number", "bucket_number": {"buckets": [0, 18, 30, 50]}}}),
    _policy("salary-redact", {"type": "mask", "priority": 30, "selector": {"column": {"names": ["salary"]}},
                              "mask": {"operator": "redact"}}),
    _policy("card-pattern", {"type": "mask", "priority": 40, "dataset_id": "shop.sales.orders",
                             "selector": {"column": {"tags": ["PII.CreditCard"]}},
                             "mask": {"operator": "rand_pattern", "rand_pattern": {"pattern": "####-####"}}}),
]


class World:
    """The engine, the catalog and the test user's view of them."""

    EMPLOYEES, PROTECTED, POLICIES, HASH_KEY, USER_TAGS = EMPLOYEES, PROTECTED, POLICIES, HASH_KEY, USER_TAGS

    def __init__(self, root: Path) -> None:
        self.con = duckdb.connect()
        self.con.execute("CREATE TABLE employees (id INTEGER, name VARCHAR, email VARCHAR, phone VARCHAR, "
                         "ssn VARCHAR, dob DATE, age INTEGER, region VARCHAR, dept_id INTEGER, codename VARCHAR, "
                         "salary DOUBLE)")
        self.con.executemany("INSERT INTO employees VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", EMPLOYEES)
        self.con.execute("CREATE TABLE departments (id INTEGER, name VARCHAR, manager_email VARCHAR)")
        self.con.executemany("INSERT INTO departments VALUES (?, ?, ?)", DEPARTMENTS)
        self.con.execute("CREATE TABLE orders (id INTEGER, employee_id INTEGER, amount DOUBLE, card VARCHAR)")
        self.con.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)", ORDERS)
        parquet = root / "orders.parquet"
        self.con.execute(f"COPY orders TO '{parquet}' (FORMAT parquet)")
        # The lockdown the kernel applies before any user SQL runs.
        self.con.execute(f"SET allowed_directories = ['{root}/']")
        for setting in ("enable_external_access = false", "autoload_known_extensions = false",
                        "autoinstall_known_extensions = false", "lock_configuration = true"):
            self.con.execute(f"SET {setting}")
        self.key = None
        self.use_key(HASH_KEY)
        self.datasets = {
            ("hr", "people", "employees"): Dataset(
                "hr", "people", "employees", dict(EMPLOYEE_COLUMNS),
                {"name": frozenset({"PII.Name"}), "email": frozenset({"PII.Email"}),
                 "phone": frozenset({"PII.PhoneNumber"}), "ssn": frozenset({"PII.SocialSecurityNumber"}),
                 "dob": frozenset({"PII.DateOfBirth"})}),
            ("hr", "people", "departments"): Dataset(
                "hr", "people", "departments", {"id": "INTEGER", "name": "VARCHAR", "manager_email": "VARCHAR"},
                {"manager_email": frozenset({"PII.Email"})}),
            ("shop", "sales", "orders"): Dataset(
                "shop", "sales", "orders", {"id": "INTEGER", "employee_id": "INTEGER", "amount": "DOUBLE",
                                            "card": "VARCHAR"}, {"card": frozenset({"PII.CreditCard"})}),
            ("hr", "secret", "payroll"): Dataset("hr", "secret", "payroll", {"id": "INTEGER"}),
        }
        for (_, _, name), dataset in self.datasets.items():
            self.expose(dataset, f"read_parquet('{parquet}')" if name == "orders" else
                        '"memory"."main"."employees"' if name == "payroll" else f'"memory"."main"."{name}"')

    def expose(self, dataset: Dataset, source: str) -> None:
        """Let the engine read `dataset` from `source`, as the kernel's engine views do."""
        name = view_name(dataset).replace('"', '""')
        self.con.execute(f'CREATE OR REPLACE TEMPORARY VIEW "{name}" AS SELECT * FROM {source}')

    def use_key(self, key: bytes) -> None:
        """Key the engine's keyed hash with `key`."""
        if key != self.key:
            if self.key is not None:
                self.con.remove_function(KEYED_HASH)
            self.con.create_function(KEYED_HASH, keyed_hash(key), ["VARCHAR"], "VARCHAR", type="arrow",
                                     side_effects=False)
            self.key = key

    def resolve(self, name: str, collection: str | None, depot: str | None) -> Dataset | None:
        return self.datasets.get(((depot or "").lower(), (collection or "").lower(), name.lower()))

    def plan(self, sql: str, **overrides: Any) -> Plan:
        args: dict[str, Any] = {"resolve": self.resolve, "can_select": lambda d: d.collection != "secret",
                                "policies": POLICIES, "user_tags": USER_TAGS,
                                "default_depot": "hr", "default_collection": "people"}
        return plan(sql, **{**args, **overrides})

    def run(self, sql: str, key: bytes = HASH_KEY, **overrides: Any) -> list[tuple]:
        p = self.plan(sql, **overrides)
        self.use_key(key)
        statements = self.con.extract_statements(p.sql)
        assert len(statements) == 1  # what the engine insists on
        return self.con.execute(statements[0]).fetchall()

    def refusal(self, sql: str, **overrides: Any) -> GatewayError:
        with pytest.raises(GatewayError) as info:
            self.plan(sql, **overrides)
        return info.value

    @staticmethod
    def hmac_hex(value: str) -> str:
        return hmac.new(HASH_KEY, value.encode(), sha256).hexdigest()

    @staticmethod
    def leaks(found: Any) -> list[str]:
        """The protected values that occur in `found` (text, or rows of values, nested or not)."""
        text = "\n".join(_flatten(found)).lower()
        return sorted(v for v in PROTECTED if v.lower() in text)


def _flatten(value: Any) -> Iterator[str]:
    if isinstance(value, (list, tuple, set)):
        for item in value:
            yield from _flatten(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _flatten(item)
    else:
        yield str(value)



@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = World(tmp_path_factory.mktemp("gateway"))
    yield w
    w.con.close()
