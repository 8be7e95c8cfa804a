"""Secret keys kept on disk beside (never inside) the event data, created on first use."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from uuid import UUID, uuid5

from ledger.config import Settings
from ledger.domain.values import NAMESPACE
from ledger.errors import InvalidInputError


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


def data_key(settings: Settings, env: Mapping[str, str] | None = None) -> str:
    """The base64 AES-256 key that encrypts event state at rest.

    ``LEDGER_DATA_KEY`` (base64 of 32 bytes) wins; otherwise the key file in the keys folder,
    created on first use. Without it the personal data in the log cannot be read.
    """
    raw = (os.environ if env is None else env).get("LEDGER_DATA_KEY")
    if raw:
        try:
            key = base64.b64decode(raw, validate=True)
        except ValueError:
            raise InvalidInputError("LEDGER_DATA_KEY is not valid base64") from None
        if len(key) != 32:
            raise InvalidInputError("LEDGER_DATA_KEY must encode 32 bytes")
        return raw
    return base64.b64encode(load_or_create_key(settings.data_key_path)).decode()
