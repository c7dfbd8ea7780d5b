"""Secret values, sealed at rest: AES-SIV with a 512-bit key kept in its own file (0600), apart
from the state databases. SIV is deterministic, so re-applying an unchanged secret stays
unchanged; each value is bound to its secret and key name (associated data), so the same
value in two places seals differently and a sealed value cannot be moved between them."""
from __future__ import annotations

import base64
import os
from pathlib import Path

from syscalls.errors import SyscallError

PREFIX = "sealed:v1:"
REDACTED = "<redacted>"


class Vault:
    def __init__(self, key_file: Path) -> None:
        self.key_file = key_file
        self._cipher = None

    def _siv(self):
        if self._cipher is None:
            from cryptography.hazmat.primitives.ciphers.aead import AESSIV
            if not self.key_file.exists():
                fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(AESSIV.generate_key(512))
            self._cipher = AESSIV(self.key_file.read_bytes())
        return self._cipher

    def seal(self, value: str, *context: str) -> str:
        sealed = self._siv().encrypt(value.encode(), [c.encode() for c in context])
        return PREFIX + base64.urlsafe_b64encode(sealed).decode()

    def unseal(self, value: str, *context: str) -> str:
        from cryptography.exceptions import InvalidTag
        try:
            return self._siv().decrypt(base64.urlsafe_b64decode(value[len(PREFIX):]),
                                       [c.encode() for c in context]).decode()
        except (InvalidTag, ValueError):
            raise SyscallError("EIO", f"a sealed secret value ({'/'.join(context)}) does not open with this "
                               f"kernel's key ({self.key_file})") from None
