"""Secret keys kept on disk beside (never inside) the event data, created on first use."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path
from uuid import UUID, uuid5

from ledger.domain.values import NAMESPACE


def load_or_create_key(path: Path, size: int = 32) -> bytes:
    """Reads a hex key file; creates it (mode 0600, parent 0700) when it does not exist."""
    if path.exists():
        return bytes.fromhex(path.read_text().strip())
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_bytes(size)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key.hex())
    return key


class IdentityHasher:
    """Keyed hash of national ID numbers: lookups without storing the number as a key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def claim_id(self, id_number: str) -> UUID:
        normalized = id_number.strip().upper().encode()
        digest = hmac.new(self._key, normalized, hashlib.sha256).hexdigest()
        return uuid5(NAMESPACE, f"identity:{digest}")
