"""DataOS name and tag rules, shared by every service."""
from __future__ import annotations

import re

from syscalls.errors import SyscallError

NAME_MAX = 48
NAME_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
TAG_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9:._/\-]{0,127}")


def check_name(value: object, field: str = "name", what: str = "name") -> str:
    """A DataOS name: lowercase letters, digits and '-', starting and ending alphanumeric, ≤ 48."""
    if not isinstance(value, str) or not value:
        raise SyscallError("EINVAL", f"{field}: a {what} is required (a non-empty string)", field=field)
    if len(value) > NAME_MAX:
        raise SyscallError("EINVAL", f"{field}: {value!r} is longer than {NAME_MAX} characters", field=field)
    if not NAME_RE.fullmatch(value):
        raise SyscallError("EINVAL", f"{field}: {value!r} is not a valid {what} (lowercase letters, digits "
                           "and '-', starting and ending with a letter or digit)", field=field)
    return value


def check_tag(value: object, field: str = "tags") -> str:
    if not isinstance(value, str) or not TAG_RE.fullmatch(value):
        raise SyscallError("EINVAL", f"{field}: {value!r} is not a valid tag (letters, digits and : . _ / -, "
                           "≤ 128 characters)", field=field)
    return value


def sanitize(value: str) -> str:
    """Turn an arbitrary login name into a valid DataOS name (for the first operator)."""
    name = re.sub(r"[^a-z0-9-]+", "-", value.lower()).strip("-")[:NAME_MAX].strip("-")
    return name or "operator"
