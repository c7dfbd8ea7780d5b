"""For the Workbench's tests: a fake syscalls client (fixed rows, no times, for `query.stream`; a
history; a small catalog for the sidebar: depot `lake`, collection `retail`, dataset `sales` with a
column named `order`), and `burst` to send keys as fast as a terminal can."""
from __future__ import annotations

import pyarrow as pa
from textual import events

from syscalls.errors import SyscallError

TABLE = pa.table({"city": [f"city-{i}" for i in range(12)], "sales": [i * 10 + 5 for i in range(12)],
                  "email": [f"u{i}@example.com" for i in range(12)]})
SALES = "dataos://lake:retail/sales"
CATALOG = {
    "resource.list": [{"name": "lake", "type": "depot"}],
    "catalog.search": {"total": 1, "results": [], "facets": {"depot": {"lake": 1}}},
    "dataset.list": {
        "dataos://lake": [{"name": "retail", "address": "dataos://lake:retail", "kind": "collection", "datasets": 1}],
        "dataos://lake:retail": [{"name": "sales", "address": SALES, "kind": "dataset", "rows": 12, "tags": []}],
    },
    "catalog.get": {"urn": SALES, "kind": "dataset", "masked": {"email": "hash"},
                    "aspects": {"schema": {"columns": [{"name": "city", "type": "VARCHAR"},
                                                       {"name": "sales", "type": "BIGINT"},
                                                       {"name": "email", "type": "VARCHAR"},
                                                       {"name": "order", "type": "INTEGER"}]},
                                "tags": {"columns": {"email": ["PII.Email"]}}}},
}


async def burst(pilot, *keys: str) -> None:
    """Keys sent all at once, as a terminal delivers them when they come faster than the app reads."""
    for key in keys:
        char = key if len(key) == 1 else " " if key == "space" else None
        event = events.Key(key, char)
        event.set_sender(pilot.app)
        pilot.app._driver.send_message(event)
    await pilot.pause(0.3)


class FakeClient:
    def __init__(self) -> None:
        self.cancelled: list[str] = []

    def call(self, name, request=None):
        request = request or {}
        if name == "query.stream":
            limit = request.get("limit", -1)
            table = TABLE if limit < 0 else TABLE.slice(0, limit)
            return iter([
                {"id": request.get("id"), "columns": [{"name": "city", "type": "VARCHAR", "masked": False},
                                                      {"name": "sales", "type": "BIGINT", "masked": False},
                                                      {"name": "email", "type": "VARCHAR", "masked": "hash"}],
                 "governance": {"policies": ["mask-pii"], "datasets": ["dataos://lake:retail/sales"],
                                "sql": "SELECT city, sales, md5(email) AS email FROM lake.retail.sales"}},
                table.schema, *table.to_batches(max_chunksize=5), {"row_count": table.num_rows, "elapsed_ms": 7}])
        if name == "query.history":
            return [{"sql": "select city, sales from lake.retail.sales"}, {"sql": "select 1"}]
        if name == "query.cancel":
            self.cancelled.append(request["id"])
            return {}
        answer = CATALOG.get(name)
        if isinstance(answer, dict) and "address" in request:
            answer = answer.get(request["address"], [])
        if answer is None:
            raise SyscallError("ENOSYS", f"{name} is not faked")
        return answer

    def close(self) -> None:
        pass
