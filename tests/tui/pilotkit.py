"""Helpers of the TUI's tests."""
from __future__ import annotations

import asyncio


async def until(pilot, predicate, timeout: float = 20.0) -> None:
    """Wait for a condition (polling screens never go idle: `pilot.pause()` alone is not enough)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached"
        await pilot.pause(0.05)


class Shared:
    """One client on a test module's kernel: the app closing its link leaves the kernel running."""

    def __init__(self, client) -> None:
        self.client = client

    def call(self, name, request=None):
        return self.client.call(name, request)

    def __getattr__(self, name):  # the typed API (client.catalog.search …) the completer's source uses
        return getattr(self.client, name)

    def close(self) -> None:
        pass


def lake_kernel(tmp, tables: dict[str, str]):
    """An embedded kernel with a file depot `lake` (collection `crm`: one Parquet file per table,
    from its SQL), scanned, and `ana`, who may select it: yields (operator, analyst) clients."""
    import duckdb

    import syscalls
    from syscalls.client import Client
    root = tmp / "lake"
    (root / "crm").mkdir(parents=True)
    for name, sql in tables.items():
        duckdb.sql(f"COPY ({sql}) TO '{root}/crm/{name}.parquet'")
    op = syscalls.connect(f"embedded://{tmp}/state")
    op.resource.apply(manifests=[
        {"name": "lake", "version": "v1", "type": "depot", "depot": {"type": "file", "file": {"path": str(root)}}},
        {"name": "analysts-read-lake", "version": "v1", "type": "policy", "policy": {"access": {
            "subjects": {"tags": [["roles:id:lake-analyst"]]}, "predicates": ["select"],
            "objects": {"paths": ["dataos://lake:crm/*"]}}}}])
    list(op.catalog.scan(depot="lake"))
    op.user.create(name="ana", tags=["roles:id:lake-analyst"])
    analyst = Client(op.transport, op.user.apikey.create(user="ana")["token"])
    try:
        yield op, analyst
    finally:
        op.close()


PEOPLE_SQL = "SELECT i AS id, 'p' || i || '@example.com' AS email, 'n' || i AS name FROM range(50) t(i)"
