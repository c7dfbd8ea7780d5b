"""The kernel's log: text for people (`--log-format text`, the default) or one JSON object a line
for a log pipeline (`json`), each record carrying the id of the request it was written for.

A request's id comes from its `X-Request-Id` header when that is a plain token (a gateway or a
client in front chose it, so one id follows the call), else it is made here; the answer carries
it back in the same header, and an internal error names it.
"""
from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import uuid
from datetime import datetime, timezone

REQUEST: contextvars.ContextVar[str | None] = contextvars.ContextVar("dataos_request", default=None)
HEADER = "X-Request-Id"
FORMATS = ("text", "json")
_TOKEN = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_id(given: str | None) -> str:
    """The caller's id if it is a plain token of at most 64 characters, else a new one."""
    return given if given and _TOKEN.fullmatch(given) else uuid.uuid4().hex[:16]


class _Request(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request = REQUEST.get()
        return True


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
               "level": record.levelname, "logger": record.name, "message": record.getMessage(),
               "request": getattr(record, "request", None)}
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


class _Text(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request = getattr(record, "request", None)
        return f"{line} [request {request}]" if request else line


def configure(form: str = "text", stream=None) -> None:
    """Send the kernel's records (INFO and up) to `stream` (stderr) in `form`."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(_Request())
    handler.setFormatter(JsonLines() if form == "json" else _Text("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
