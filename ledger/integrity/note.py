"""C2SP signed notes (c2sp.org/signed-note) and transparency-log checkpoints (c2sp.org/tlog-checkpoint).

Pure functions: no I/O. A signed note is a text ending in a newline, a blank line, and signature
lines ``— <key name> base64(key ID || signature)``. An Ed25519 key's ID is the first four bytes of
``SHA-256(name || 0x0A || 0x01 || public key)`` and its verifier key is ``name+hex(ID)+base64(0x01 ||
public key)``, so Go's ``sumdb/note``, transparency-dev and Sigstore tooling check our checkpoints
as they are. A checkpoint's text is the origin, the tree size, the base64 root hash and optional
extension lines.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from hashlib import sha256

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ED25519 = 0x01
DASH = "\u2014"
MAX_SIGNATURES = 100
_KEY_NAME = re.compile(r"[^\s+]+")  # non-empty, no Unicode spaces, no plus
_SIZE = re.compile(r"0|[1-9][0-9]*")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")


class NoteError(ValueError):
    """A note, checkpoint or verifier key that is malformed, or whose signature does not verify."""


@dataclass(frozen=True)
class Verifier:
    """One Ed25519 note key: its name, 4-byte ID and raw 32-byte public key."""

    name: str
    key_id: bytes
    public_key: bytes

    @classmethod
    def of(cls, name: str, public_key: bytes) -> Verifier:
        check_key_name(name)
        if len(public_key) != 32:
            raise NoteError("an Ed25519 public key has 32 bytes")
        return cls(name, key_id(name, public_key), public_key)

    @classmethod
    def parse(cls, text: str) -> Verifier:
        """Parses a verifier key ``name+hexid+base64key``; ``NoteError`` when it is malformed or its ID
        does not match its name and key."""
        name, _, rest = text.strip().partition("+")
        hex_id, _, encoded = rest.partition("+")
        try:
            check_key_name(name)
            raw = base64.b64decode(encoded, validate=True)
            wanted = bytes.fromhex(hex_id) if re.fullmatch(r"[0-9a-f]{8}", hex_id) else b""
        except (NoteError, binascii.Error, ValueError):
            raise NoteError("malformed verifier key") from None
        if len(raw) != 33 or raw[0] != ED25519:
            raise NoteError("the verifier key is not an Ed25519 key")
        verifier = cls.of(name, raw[1:])
        if verifier.key_id != wanted:
            raise NoteError("the verifier key's ID does not match its name and key")
        return verifier

    def __str__(self) -> str:
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(bytes([ED25519]) + self.public_key).decode()}"


def check_key_name(name: str) -> str:
    if not _KEY_NAME.fullmatch(name):
        raise NoteError("a key name must be non-empty, without spaces or '+'")
    return name


def key_id(name: str, public_key: bytes) -> bytes:
    return sha256(name.encode() + b"\n" + bytes([ED25519]) + public_key).digest()[:4]


def sign(text: str, name: str, private_key: Ed25519PrivateKey) -> str:
    """The signed note of ``text`` (which must end in a newline) with one Ed25519 signature by ``name``."""
    _check_text(text)
    public = private_key.public_key().public_bytes_raw()
    signature = key_id(check_key_name(name), public) + private_key.sign(text.encode())
    return f"{text}\n{DASH} {name} {base64.b64encode(signature).decode()}\n"


def open_note(note: str, verifier: Verifier) -> str:
    """The text of ``note`` once ``verifier``'s signature on it has checked out.

    Signatures by other keys are ignored (the spec's rule); ``NoteError`` when the note is malformed,
    carries no signature by this key, or that signature does not verify.
    """
    text, signatures = split(note)
    found = False
    key = Ed25519PublicKey.from_public_bytes(verifier.public_key)
    for name, raw in signatures:
        if name != verifier.name or raw[:4] != verifier.key_id:
            continue
        try:
            key.verify(raw[4:], text.encode())
        except InvalidSignature:
            raise NoteError(f"invalid signature for key {verifier.name}+{verifier.key_id.hex()}") from None
        found = True
    if not found:
        raise NoteError("the note has no signature by the given key")
    return text


def split(note: str) -> tuple[str, list[tuple[str, bytes]]]:
    """``(text, [(key name, key ID || signature), ...])``; ``NoteError`` when the note is malformed."""
    if _CONTROL.search(note) or not note.endswith("\n"):
        raise NoteError("malformed note")
    cut = note.rfind("\n\n")
    if cut < 0:
        raise NoteError("malformed note")
    text, lines = note[: cut + 1], note[cut + 2:].splitlines()
    if not lines or len(lines) > MAX_SIGNATURES:
        raise NoteError("malformed note")
    signatures = []
    for line in lines:
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != DASH or not _KEY_NAME.fullmatch(parts[1]):
            raise NoteError("malformed note")
        try:
            raw = base64.b64decode(parts[2], validate=True)
        except binascii.Error:
            raise NoteError("malformed note") from None
        if len(raw) < 5:
            raise NoteError("malformed note")
        signatures.append((parts[1], raw))
    return text, signatures


def _check_text(text: str) -> None:
    if not text.endswith("\n") or _CONTROL.search(text):
        raise NoteError("a note text ends in a newline and has no control characters")


# ---- tlog checkpoints -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckpointText:
    """The body of a c2sp.org/tlog-checkpoint note."""

    origin: str
    tree_size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __str__(self) -> str:
        lines = [self.origin, str(self.tree_size), base64.b64encode(self.root_hash).decode(), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, text: str) -> CheckpointText:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "" or not all(lines[:-1]):
            raise NoteError("a checkpoint has at least three non-empty lines")
        origin, size, root, *extensions = lines[:-1]
        if not _SIZE.fullmatch(size):
            raise NoteError("the checkpoint's tree size is not a decimal number")
        try:
            root_hash = base64.b64decode(root, validate=True)
        except binascii.Error:
            raise NoteError("the checkpoint's root hash is not base64") from None
        return cls(origin, int(size), root_hash, tuple(extensions))
