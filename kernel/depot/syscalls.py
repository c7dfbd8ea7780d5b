"""Syscall handlers of depots: dataset.write."""
from __future__ import annotations

import base64
import binascii
from typing import Any

from syscalls.errors import SyscallError

from ..call import Call
from ..metis.syscalls import as_seen
from ..poros.reconcile import POD_KEY
from . import Address
from .writes import MAX_CHUNK


def dataset_write(call: Call, address: str, data: str, mode: str, upload: str | None,
                  commit: bool) -> dict[str, Any]:
    """One chunk of Arrow data for a dataset; the first call starts an upload, `commit` ends it."""
    where = Address.parse(address)
    if not where.collection or not where.dataset:
        raise SyscallError("EINVAL", f"{address}: name a dataset, dataos://depot:collection/dataset",
                           field="address")
    call.authorize("write", str(where))
    table = _arrow(data)
    uploads = call.kernel.uploads
    current = (uploads.get(upload, call.caller.id, where) if upload
               else uploads.begin(call.caller.id, where, call.kernel.depots.get(where.depot), mode))
    try:
        uploads.append(current, table)
        if commit:
            uploads.commit(current)
    except BaseException:
        uploads.abort(current)
        raise
    if commit:  # a job's reads through the Gateway are the dataset's upstream (its key is its own)
        key = call.caller.key or ""
        reads = call.kernel.gateway.datasets_read(call.caller.id, key) if key.startswith(POD_KEY) else []
        call.kernel.metis.written(str(where), call.caller.id, reads)
    return {"address": str(where), "upload": current.id, "rows": current.rows, "committed": commit}


def dataset_list(call: Call, address: str) -> list[dict[str, Any]]:
    """A depot's collections, or a collection's datasets with what the catalog knows of them."""
    where = Address.parse(address)
    driver = call.kernel.depots.get(where.depot)
    if where.dataset:
        raise SyscallError("EINVAL", f"{address} is a dataset; list its collection", field="address")
    if where.collection is None:
        out = []
        for collection in driver.collections():
            visible = [d for d in driver.datasets(collection)
                       if call.allowed("select", str(Address(where.depot, collection, d)))]
            if visible:
                out.append({"name": collection, "address": str(Address(where.depot, collection)),
                            "kind": "collection", "datasets": len(visible)})
        return out
    out = []
    for dataset in driver.datasets(where.collection):
        urn = str(Address(where.depot, where.collection, dataset))
        if not call.allowed("select", urn):
            continue
        found = call.kernel.metis.catalog.get(urn)
        entry = as_seen(call, found) if found else {"aspects": {}}  # no counts under a row filter
        properties = entry["aspects"].get("properties") or {}
        tags = entry["aspects"].get("tags") or {}
        out.append({"name": dataset, "address": urn, "kind": "dataset", "rows": properties.get("rows"),
                    "bytes": properties.get("bytes"), "format": properties.get("format"),
                    "owner": (entry["aspects"].get("ownership") or {}).get("owner"),
                    "tags": sorted({*tags.get("dataset", []), *(t for ts in tags.get("columns", {}).values()
                                                                 for t in ts)})})
    return out


def _arrow(data: str) -> Any:
    """An Arrow IPC stream, base64-encoded, as a table (EINVAL when it is not one)."""
    import pyarrow as pa
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise SyscallError("EINVAL", "data: not base64", field="data") from None
    if len(raw) > MAX_CHUNK:
        raise SyscallError("EINVAL", f"data: a chunk is at most {MAX_CHUNK // 2**20} MiB of Arrow; send more "
                           f"chunks with `upload`", field="data")
    try:
        return pa.ipc.open_stream(raw).read_all()
    except (pa.ArrowException, OSError) as e:  # a bad message is OSError, not ArrowInvalid
        problem = (str(e) or type(e).__name__).splitlines()[0]
        raise SyscallError("EINVAL", f"data: not an Arrow IPC stream ({problem})", field="data") from None


HANDLERS = {"dataset.write": dataset_write, "dataset.list": dataset_list}
