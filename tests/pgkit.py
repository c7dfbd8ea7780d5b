"""A PostgreSQL database of a test's own on the machine's server (started by scripts/services.sh)."""
from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Iterator

import pytest

ON_SQLITE_ONLY = pytest.mark.skipif(os.environ.get("DATAOS_TEST_POSTGRESQL") == "1",
                                    reason="reads or breaks the kernel's SQLite files, or chooses the database itself")
PG_SERVER = "postgresql://postgres@127.0.0.1:5432"  # the machine's server (trust auth), started by scripts/services.sh


@contextlib.contextmanager
def pg_database(icu_locale: str | None = None) -> Iterator[str]:
    """A new, empty PostgreSQL database on the local server (dropped afterwards): its URL. With
    `icu_locale` (e.g. "en-US"), text in it compares by that language's rules by default."""
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=2).close()
    except OSError:
        if os.environ.get("CI"):  # scripts/services.sh starts it there: its absence is a failure, not a skip
            pytest.fail("no PostgreSQL server answers on 127.0.0.1:5432")
        pytest.skip("no PostgreSQL server answers on 127.0.0.1:5432")
    import psycopg
    name = f"dataos_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}" + (f" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE "
                                                    f"'{icu_locale}'" if icu_locale else ""))
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
