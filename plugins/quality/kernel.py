"""The kernel side of the quality plugin (entry point group `dataos.kernel`): a `quality` stack, so
a workflow can run checks on a schedule. The pod checks as the workflow's owner (a token for them)
and records the run; a failing rule fails the job.

    workflow:
      schedule: {cron: "0 6 * * *"}
      dag:
        - name: customers-quality
          spec:
            stack: quality
            stackSpec: {dataset: "dataos://lakehouse:retail/customers", rules: ["not_null(email)", "unique(customer_id)"]}

Nothing here imports the kernel: `api` brings its schema module and stack registry.
"""
from __future__ import annotations

import sys
from typing import Any

UDL = r"dataos://[a-z0-9][-a-z0-9_]*:[A-Za-z0-9_\-]+/[A-Za-z0-9_.\-]+"


def command(spec: dict[str, Any]) -> list[str]:
    """The pod's argv: `python -m plugins.quality DATASET --rule R …`."""
    argv = [sys.executable, "-m", "plugins.quality", spec["dataset"]]
    for rule in spec["rules"]:
        argv += ["--rule", rule]
    return argv


def register(api: Any) -> None:
    s = api.schema
    spec = s.Map({"dataset": s.Str(pattern=UDL, hint="a dataset address such as dataos://depot:collection/dataset"),
                  "rules": s.List(s.Str(validate=_rule), min=1)}, required=("dataset", "rules"))
    api.stack("quality", "Data quality rules checked over a dataset as the owner, recorded in the catalog",
              spec, command, needs_token=True)


def _rule(text: str, path: str) -> None:
    """Apply-time check of one rule (EINVAL naming the field), so a typo fails at apply, not at 6am."""
    from syscalls.errors import SyscallError

    from .rules import parse
    try:
        parse(text)
    except SyscallError as e:
        raise SyscallError("EINVAL", f"{path}: {e.message.split(': ', 1)[-1]}", field=path) from None
