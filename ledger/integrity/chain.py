"""Tamper evidence: the hash chain along the global sequence (DESIGN.md section 4).

``hash = SHA-256(prev_hash || header || "\n" || SHA-256(state))`` where ``header`` is the JSON
array ``[seq, stream id, version, topic, event id]`` and ``state`` the event bytes as stored
(ciphertext when encryption is on), so verifying needs no decryption key. Hashing the digest
of the state (not the state itself) lets an evidence bundle prove the chain between one
retiree's events and a checkpoint with only the headers and state digests of other events.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from hashlib import sha256

import orjson
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger.errors import InvalidInputError
from ledger.eventlog.base import GENESIS_HASH, LogRecord, canonical_id


def link_hash(
    prev_hash: str, seq: int, originator_id: str, version: int, topic: str, event_id: str | None, state: bytes
) -> str:
    return link_hash_of_digest(prev_hash, seq, originator_id, version, topic, event_id, sha256(state).digest())


def link_hash_of_digest(
    prev_hash: str, seq: int, originator_id: str, version: int, topic: str, event_id: str | None, state_digest: bytes
) -> str:
    """The same link, from the SHA-256 digest of the state (what evidence bundles carry)."""
    return link_digest(bytes.fromhex(prev_hash), seq, originator_id, version, topic, event_id, state_digest).hex()


def link_digest(
    prev: bytes, seq: int, originator_id: str, version: int, topic: str, event_id: str | None, state_digest: bytes
) -> bytes:
    """The one definition of a link, on bytes: ``SHA-256(prev ‖ header ‖ "\n" ‖ SHA-256(state))``."""
    digest = sha256(prev)
    digest.update(orjson.dumps((seq, originator_id, version, topic, event_id)))
    digest.update(b"\n")
    digest.update(state_digest)
    return digest.digest()


def record_hash(prev_hash: str, record: LogRecord) -> str:
    return link_hash(
        prev_hash,
        record.id,
        canonical_id(record.originator_id),
        record.originator_version,
        record.topic,
        record.event_id,
        record.state,
    )


@dataclass(frozen=True)
class ChainBreak:
    """The first record that does not match the chain, and why."""

    seq: int
    reason: str


def first_break(records: Iterable[LogRecord], prev_hash: str = GENESIS_HASH, start_seq: int = 1) -> ChainBreak | None:
    """Walks records in order and returns the first gap, reordering or hash mismatch."""
    expected_seq = start_seq
    for record in records:
        if record.id != expected_seq:
            return ChainBreak(expected_seq, f"expected seq {expected_seq}, found {record.id}")
        if record.prev_hash != prev_hash:
            return ChainBreak(record.id, "prev_hash does not link to the previous event")
        if record_hash(prev_hash, record) != record.hash:
            return ChainBreak(record.id, "hash does not match the stored bytes")
        prev_hash = record.hash
        expected_seq += 1
    return None


# ---- public keys of signed checkpoints (ledger.integrity.checkpoints) --------------------------------------


def load_public_key(data: bytes) -> Ed25519PublicKey:
    """Accepts a raw 32-byte Ed25519 public key or a PEM ``PUBLIC KEY`` block."""
    if len(data) == 32:
        return Ed25519PublicKey.from_public_bytes(data)
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidInputError("the public key is neither raw Ed25519 bytes nor a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidInputError("the public key is not an Ed25519 key")
    return key


def public_key_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def raw_public_key(data: bytes) -> bytes:
    """The 32 raw bytes of a public key given raw or as PEM (to compare keys)."""
    return load_public_key(data).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
