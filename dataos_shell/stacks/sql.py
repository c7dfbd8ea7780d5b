"""The `sql` stack's pod program: governed inputs, SQL steps, outputs written to datasets.

    python -m dataos_shell.stacks.sql '{"inputs": [...], "steps": [...], "outputs": [...]}'

Inputs are read through the Gateway as the workflow's owner (the pod's token), so masks and
filters apply to a job exactly as to its owner at the prompt. Steps run on a private DuckDB
that can read nothing but the inputs and earlier steps (no files, no extensions). Outputs go
back through `dataset.write` in Arrow chunks, committed whole.
"""
from __future__ import annotations

import base64
import sys
import time
from typing import Any, Iterator

from syscalls import connect
from syscalls.errors import ERRNO, SyscallError
from userlib.output import counted

CHUNK = 8 * 2**20  # bytes of Arrow IPC per dataset.write call


def main(argv: list[str]) -> int:
    import json
    try:
        run(json.loads(argv[0]))
    except SyscallError as e:
        print(f"error: {e.code}: {e.message}", file=sys.stderr)
        return ERRNO[e.code][1]
    return 0


def run(spec: dict[str, Any]) -> None:
    client = connect()
    con = _engine()
    for source in spec["inputs"]:
        _load(client, con, source)
    for step in spec.get("steps", []):
        started = time.perf_counter()
        _sql(con, f'CREATE VIEW "{step["name"]}" AS {step["sql"]}', f"step {step['name']}")
        _log(f"step {step['name']}: defined in {_ms(started)}")
    for output in spec["outputs"]:
        _write(client, con, output)


def _engine() -> Any:
    import duckdb
    con = duckdb.connect(config={"autoload_known_extensions": False, "autoinstall_known_extensions": False})
    con.execute("SET python_enable_replacements = false")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def _load(client: Any, con: Any, source: dict[str, Any]) -> None:
    """Read an input through the Gateway into a table of the private engine."""
    import pyarrow as pa
    started = time.perf_counter()
    sql = source.get("query") or f"SELECT * FROM {_sql_name(source['dataset'])}"
    items = iter(client.query.stream(sql=sql))
    header = next(items)
    schema = next(items)
    failed: list[SyscallError] = []

    def batches() -> Iterator[Any]:
        try:
            yield from (b for b in items if isinstance(b, pa.RecordBatch))
        except SyscallError as e:  # the stream's own errno, not the one DuckDB would wrap it in
            failed.append(e)
            raise

    con.register("__input", pa.RecordBatchReader.from_batches(schema, batches()))
    try:
        _sql(con, f'CREATE TABLE "{source["name"]}" AS SELECT * FROM __input', f"input {source['name']}")
    except SyscallError:
        if failed:
            raise failed[0] from None
        raise
    finally:
        con.unregister("__input")
    rows = con.execute(f'SELECT count(*) FROM "{source["name"]}"').fetchone()[0]
    policies = ", ".join(header["governance"]["policies"]) or "none"
    _log(f"input {source['name']}: {counted(rows, 'row')} from {source.get('dataset') or 'a query'} in {_ms(started)} "
         f"(policies applied: {policies})")


def _write(client: Any, con: Any, output: dict[str, Any]) -> None:
    """Send a step's rows to `dataset.write` in chunks; the last call commits."""
    started = time.perf_counter()
    mode = (output.get("options") or {}).get("saveMode", "overwrite")
    cursor = _sql(con, f'SELECT * FROM "{output["name"]}"', f"output {output['name']}")
    upload = None
    rows = 0
    for data, last in _chunks(cursor.to_arrow_reader(65_536)):
        answer = client.dataset.write(address=output["dataset"], data=data, mode=mode, upload=upload, commit=last)
        upload, rows = answer["upload"], answer["rows"]
    _log(f"output {output['name']}: {counted(rows, 'row')} to {output['dataset']} ({mode}) in {_ms(started)}")


def _chunks(reader: Any) -> Iterator[tuple[str, bool]]:
    """Base64 Arrow IPC streams of about CHUNK bytes each (at least one), the last one flagged."""
    pending: list[Any] = []
    size = 0
    for batch in reader:
        if pending and size + batch.nbytes > CHUNK:
            yield _ipc(reader.schema, pending), False
            pending, size = [], 0
        pending.append(batch)
        size += batch.nbytes
    yield _ipc(reader.schema, pending), True


def _ipc(schema: Any, batches: list[Any]) -> str:
    import pyarrow as pa
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
    return base64.b64encode(sink.getvalue().to_pybytes()).decode()


def _sql(con: Any, sql: str, what: str) -> Any:
    import duckdb
    try:
        return con.execute(sql)
    except duckdb.Error as e:
        raise SyscallError("EINVAL", f"{what}: {str(e).splitlines()[0]}") from None


def _sql_name(address: str) -> str:
    depot, _, rest = address.removeprefix("dataos://").partition(":")
    collection, _, dataset = rest.partition("/")
    return ".".join(f'"{part}"' for part in (depot, collection, dataset))


def _ms(started: float) -> str:
    return f"{(time.perf_counter() - started) * 1000:.0f} ms"


def _log(line: str) -> None:
    print(line, flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
