"""A data policy that no longer loads (a downgrade, an upgrade that reads it differently) fails
closed: the datasets it governs are refused, naming it, until it is fixed — never served without
the filter or the mask it stood for."""
from __future__ import annotations

import json
import sqlite3

from clitools import as_json, error_line, ok
from govkit import ORDERS, governed_lake
from pgkit import ON_SQLITE_ONLY


@ON_SQLITE_ONLY  # it edits the stored policy in the SQLite file
def test_a_data_policy_that_no_longer_loads_closes_its_datasets(run_dataos, tmp_path):
    (tmp_path / "lake").mkdir()
    lake = governed_lake(run_dataos, tmp_path / "lake")
    ask = ("query", "select count(*) as n from lake.shop.orders", "-o", "json")
    assert as_json(lake.as_("ana", *ask))["rows"] == [[ORDERS // 2]]  # EU rows only
    ok(run_dataos("kernel", "stop"))
    [db] = list(run_dataos.home.rglob("poros.db"))
    with sqlite3.connect(db) as con:
        manifest = json.loads(con.execute("SELECT manifest FROM resources WHERE name='eu-only'").fetchone()[0])
        manifest["policy"]["data"]["filters"][0]["operator"] = "roughly"  # what this version cannot read
        con.execute("UPDATE resources SET manifest=? WHERE name='eu-only'", (json.dumps(manifest),))
    line = error_line(lake.as_("ana", *ask), "EACCES", 4)
    assert "eu-only" in line and "does not load" in line, line
    status = as_json(lake.as_("op", "get", "policy", "eu-only", "-o", "json"))["status"]
    assert status["aggregateStatus"] == "error"
    # Fixed by applying it again: the filter holds again.
    fixed = {k: v for k, v in manifest.items() if k not in ("status", "owner")}
    fixed["policy"]["data"]["filters"][0]["operator"] = "equals"
    (tmp_path / "fixed.json").write_text(json.dumps(fixed))
    ok(lake.as_("op", "apply", "-f", str(tmp_path / "fixed.json")))
    assert as_json(lake.as_("ana", *ask))["rows"] == [[ORDERS // 2]]
