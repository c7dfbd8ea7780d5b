"""Durations (`24h`, `90m`, `7d`) and times (ISO 8601 or `1h` ago) in requests."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from syscalls.errors import SyscallError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_SECONDS = 100 * 366 * 86400
_DURATION = re.compile(r"(\d+)([smhdw])")


def parse_duration(text: str, field: str) -> timedelta:
    """`1h30m`, `24h`, `7d` → timedelta; EINVAL naming the field otherwise."""
    text = text.strip()
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise SyscallError("EINVAL", f"{field}: {text!r} is not a duration (use e.g. 30m, 24h, 7d, 1h30m)",
                           field=field)
    seconds = sum(int(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise SyscallError("EINVAL", f"{field}: the duration must be positive", field=field)
    if seconds > MAX_SECONDS:
        raise SyscallError("EINVAL", f"{field}: {text!r} is longer than 100 years", field=field)
    return timedelta(seconds=seconds)


def parse_since(text: str, field: str) -> datetime:
    """An ISO 8601 time, or a duration meaning that long ago."""
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return datetime.now(timezone.utc) - parse_duration(text, field)
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
