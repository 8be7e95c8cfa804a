"""Signed checkpoints (DESIGN.md section 4): the ledger's Ed25519 key signs a tree head.

A checkpoint is a C2SP ``tlog-checkpoint`` note (``ledger.integrity.note``): the origin (the
ledger's name), the tree size, the base64 Merkle root of the first ``tree_size`` events (RFC 9162,
``ledger.integrity.merkle``), and two extension lines, ``time <ISO-8601 UTC>`` and ``chain <hex>``,
the hash chain's head at seq ``tree_size``. One Ed25519 signature covers all of it, in the
signed-note format, so the tools of the transparency-log ecosystem verify it as it is and
``GET /v1/audit/checkpoint`` serves it unchanged. Since every chain hash covers all events before it
and the root covers every chain hash, one signature vouches for the whole log up to ``seq``.
Auditors keep copies (``Checkpoint.to_json`` or the note) outside the operator's reach.

Checkpoints signed before the tree existed (no ``root_hash``) keep verifying: their signature
covers the compact JSON ``[SIGNING_DOMAIN, ledger, seq, hash, time]``.

Files: the private key is ``keys_path/signing.key`` (PKCS#8 PEM, mode 0600, never overwritten;
outside the data folder); the public key ``keys_path/signing.pub`` and a copy in the checkpoint
store ``HOME/audit.db``, whose tables are append-only (SQLite triggers refuse UPDATE and DELETE).
"""

from __future__ import annotations

import base64
import os
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.config import Settings
from ledger.errors import ConflictError, IntegrityViolationError, InvalidInputError, NotFoundError
from ledger.eventlog.base import GENESIS_HASH
from ledger.files import private_file, private_folder
from ledger.integrity import merkle, note
from ledger.integrity.chain import first_break, load_public_key, public_key_pem, raw_public_key

if TYPE_CHECKING:
    from ledger.application import Ledger

SIGNING_DOMAIN = "social-care-ledger/checkpoint/v1"
DEFAULT_EVERY = 1000
_TYPES = {"ledger_name": str, "seq": int, "hash": str, "time": str, "signature": str, "root_hash": str | None}


def checkpoint_bytes(ledger_name: str, seq: int, hash: str, time: str) -> bytes:
    """What a checkpoint without a root hash (signed before the tree existed) was signed over."""
    return orjson.dumps([SIGNING_DOMAIN, ledger_name, seq, hash, time])


def note_text(ledger_name: str, tree_size: int, root_hash: str, hash: str, time: str) -> str:
    """The checkpoint note's text: origin, size, root, then ``time`` and ``chain`` extension lines."""
    body = note.CheckpointText(note.check_key_name(ledger_name), tree_size, bytes.fromhex(root_hash),
                               (f"time {time}", f"chain {hash}"))
    return str(body)


@dataclass(frozen=True)
class Checkpoint:
    """``signature`` (hex) is the Ed25519 signature of ``signed_bytes()``; ``seq`` is the tree size,
    ``hash`` the chain head there, ``root_hash`` (hex) the Merkle root; ``time`` is ISO-8601 UTC
    (``2026-06-30T08:00:00Z``)."""

    ledger_name: str
    seq: int
    hash: str
    time: str
    signature: str
    root_hash: str | None = None

    @property
    def tree_size(self) -> int:
        return self.seq

    def text(self) -> str:
        """The note text the signature covers (``NoteError`` for a checkpoint without a root)."""
        if self.root_hash is None:
            raise note.NoteError(f"the checkpoint at seq {self.seq} predates the Merkle tree: it has no note")
        return note_text(self.ledger_name, self.seq, self.root_hash, self.hash, self.time)

    def signed_bytes(self) -> bytes:
        if self.root_hash is None:
            return checkpoint_bytes(self.ledger_name, self.seq, self.hash, self.time)
        return self.text().encode()

    def note(self, public_key: bytes) -> str:
        """The C2SP signed note: the text, a blank line, ``— <ledger> base64(key ID || signature)``."""
        key_id = note.key_id(self.ledger_name, raw_public_key(public_key))
        line = base64.b64encode(key_id + bytes.fromhex(self.signature)).decode()
        return f"{self.text()}\n{note.DASH} {self.ledger_name} {line}\n"

    @classmethod
    def from_note(cls, text: str, public_key: bytes) -> Checkpoint:
        """Opens a checkpoint note signed by the ledger's key; ``InvalidInputError`` when it is malformed,
        not signed by that key, or lacks the ``time``/``chain`` lines this ledger writes."""
        origin = note.CheckpointText.parse(note.split(text)[0]).origin
        try:
            verifier = note.Verifier.of(origin, raw_public_key(public_key))
            body = note.CheckpointText.parse(note.open_note(text, verifier))
        except note.NoteError as error:
            raise InvalidInputError(f"not a valid checkpoint note: {error}") from None
        lines = dict(line.partition(" ")[::2] for line in body.extensions)
        if set(lines) != {"time", "chain"} or len(body.root_hash) != 32:
            raise InvalidInputError("not a checkpoint of this ledger: the time and chain lines are missing")
        signature = next(raw for name, raw in note.split(text)[1] if name == origin and raw[:4] == verifier.key_id)
        return cls(origin, body.tree_size, lines["chain"], lines["time"], signature[4:].hex(), body.root_hash.hex())

    def verifies(self, public_key: bytes | Ed25519PublicKey) -> bool:
        """True when the signature is valid for these fields under ``public_key`` (raw or PEM)."""
        key = public_key if isinstance(public_key, Ed25519PublicKey) else load_public_key(public_key)
        try:
            key.verify(bytes.fromhex(self.signature), self.signed_bytes())
        except (InvalidSignature, ValueError):
            return False
        return True

    def to_json(self) -> str:
        return orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()

    def to_dict(self) -> dict[str, object]:
        return asdict(self) | {"tree_size": self.seq}

    @classmethod
    def from_json(cls, text: str | bytes) -> Checkpoint:
        """Parses ``to_json`` output; raises ``InvalidInputError`` on anything else."""
        try:
            data = orjson.loads(text)
            fields = {name: data[name] if name != "root_hash" else data.get(name) for name in _TYPES}
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
            raise InvalidInputError(f"not a checkpoint: {type(error).__name__}") from None
        if not all(isinstance(fields[name], kind) and type(fields[name]) is not bool  # type: ignore[arg-type]
                   for name, kind in _TYPES.items()):
            raise InvalidInputError("not a checkpoint: a field has the wrong type")
        if "tree_size" in data and data["tree_size"] != fields["seq"]:
            raise InvalidInputError("not a checkpoint: tree_size and seq differ")
        return cls(**fields)  # type: ignore[arg-type]


# ---- keys ---------------------------------------------------------------------------------------


def signing_key_path(settings: Settings) -> Path:
    return settings.keys_path / "signing.key"


def public_key_path(settings: Settings) -> Path:
    return settings.keys_path / "signing.pub"


class Signer:
    """Holds the ledger's private key and turns ``(ledger, seq, hash, time)`` into checkpoints."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key

    @classmethod
    def load(cls, settings: Settings) -> Signer:
        """Reads ``keys_path/signing.key``; ``NotFoundError`` when ``ledger keys init`` has not run."""
        path = signing_key_path(settings)
        if not path.exists():
            raise NotFoundError(f"no signing key at {path}: run `ledger keys init` first")
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise InvalidInputError(f"{path} is not an Ed25519 private key")
        return cls(key)

    @property
    def public_key_pem(self) -> bytes:
        return public_key_pem(self._key.public_key())

    def sign(self, ledger_name: str, seq: int, hash: str, time: str, root_hash: str) -> Checkpoint:
        """Signs the checkpoint note of the tree of ``seq`` events with root ``root_hash`` (hex)."""
        signature = self._key.sign(note_text(ledger_name, seq, root_hash, hash, time).encode()).hex()
        return Checkpoint(ledger_name, seq, hash, time, signature, root_hash)


def init_signing_key(settings: Settings) -> Path:
    """Creates the ledger's Ed25519 key (mode 0600) and publishes its public key; returns the key's path.

    Refuses (``ConflictError``) when a signing key exists: an old key must be moved away by hand,
    since checkpoints signed with it verify only with its public key.
    """
    path = signing_key_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # O_EXCL: never overwrite
    except FileExistsError:
        raise ConflictError(f"a signing key already exists at {path}; refusing to overwrite it") from None
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    public = public_key_pem(key.public_key())
    public_key_path(settings).write_bytes(public)
    store = CheckpointStore.for_settings(settings)
    try:
        store.add_public_key(public)
    finally:
        store.close()
    return path


# ---- store --------------------------------------------------------------------------------------

_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS checkpoints (id INTEGER PRIMARY KEY AUTOINCREMENT, ledger_name TEXT NOT NULL,"
    " seq INTEGER NOT NULL, hash TEXT NOT NULL, time TEXT NOT NULL, signature TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS checkpoints_by_seq ON checkpoints (seq)",
    "CREATE TABLE IF NOT EXISTS public_keys (id INTEGER PRIMARY KEY AUTOINCREMENT, pem TEXT NOT NULL,"
    " added TEXT NOT NULL)",
    *(
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{verb} BEFORE {verb.upper()} ON {table}"
        f" BEGIN SELECT RAISE(ABORT, '{table} are append-only'); END"
        for table in ("checkpoints", "public_keys")
        for verb in ("update", "delete")
    ),
]
_COLUMNS = "ledger_name, seq, hash, time, signature, root_hash"


class CheckpointStore:
    """Append-only SQLite store of checkpoints and published public keys (``HOME/audit.db``).

    Thread-safe: one connection, used under a lock. ``append`` is the only write of checkpoints.
    """

    def __init__(self, path: Path) -> None:
        private_folder(path.parent)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        for statement in _SCHEMA:
            self._db.execute(statement)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(checkpoints)")}
        if "root_hash" not in columns:  # a store written before the Merkle tree: its rows keep NULL
            self._db.execute("ALTER TABLE checkpoints ADD COLUMN root_hash TEXT")
        private_file(path)

    @classmethod
    def for_settings(cls, settings: Settings) -> CheckpointStore:
        return cls(settings.home / "audit.db")

    def append(self, checkpoint: Checkpoint) -> None:
        with self._lock:
            row = (checkpoint.ledger_name, checkpoint.seq, checkpoint.hash, checkpoint.time, checkpoint.signature,
                   checkpoint.root_hash)
            self._db.execute(f"INSERT INTO checkpoints ({_COLUMNS}) VALUES (?,?,?,?,?,?)", row)

    def latest(self) -> Checkpoint | None:
        """The checkpoint with the highest ``seq`` (the newest of equals)."""
        found = self._select("ORDER BY seq DESC, id DESC LIMIT 1", ())
        return found[0] if found else None

    def checkpoints(self, after: int = 0, limit: int = 1_000_000) -> list[Checkpoint]:
        """Checkpoints with ``seq > after`` in ``seq`` order, at most ``limit``."""
        return self._select("WHERE seq > ? ORDER BY seq, id LIMIT ?", (after, limit))

    def add_public_key(self, pem: bytes) -> None:
        """Publishes a public key unless it is already the current one."""
        if self.public_key() == pem:
            return
        with self._lock:
            self._db.execute("INSERT INTO public_keys (pem, added) VALUES (?, ?)", (pem.decode(), utc_now()))

    def public_key(self) -> bytes | None:
        """The current (latest published) public key, PEM."""
        with self._lock:
            row = self._db.execute("SELECT pem FROM public_keys ORDER BY id DESC LIMIT 1").fetchone()
        return str(row[0]).encode() if row else None

    def close(self) -> None:
        self._db.close()

    def _select(self, tail: str, params: tuple[object, ...]) -> list[Checkpoint]:
        with self._lock:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM checkpoints {tail}", params).fetchall()
        return [Checkpoint(*row) for row in rows]


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- checkpointer -------------------------------------------------------------------------------


class Checkpointer:
    """Signs the head of ``ledger``'s log on demand and every ``every`` events.

    Before signing it re-checks the chain from the latest stored checkpoint to the head (from seq 1
    the first time), so it never signs over a break: ``IntegrityViolationError`` instead.
    """

    def __init__(
        self, ledger: Ledger, store: CheckpointStore, signer: Signer, every: int = DEFAULT_EVERY,
        clock: Callable[[], str] = utc_now,
    ) -> None:
        if every < 1:
            raise InvalidInputError(f"checkpoint interval must be positive, got {every}")
        self.ledger, self.store, self.signer, self.every, self._clock = ledger, store, signer, every, clock
        self._lock = threading.Lock()
        self._last_seq: int | None = None

    def checkpoint_now(self) -> Checkpoint:
        """Signs and stores the current head; returns the latest checkpoint if it is already at the head.

        ``ConflictError`` when the log is empty; ``IntegrityViolationError`` when the log does not
        extend the latest checkpoint or its chain is broken (nothing is signed then).
        """
        with self._lock:
            head = self.ledger.head()
            if head == 0:
                raise ConflictError("the event log is empty: there is nothing to checkpoint")
            last = self.store.latest()
            if last is not None and last.seq > head:
                raise IntegrityViolationError(f"the log ends at seq {head}, below the checkpoint at seq {last.seq}")
            if last is not None and last.seq == head:
                if self.ledger.read_log(head - 1, 1)[0].hash != last.hash:
                    raise IntegrityViolationError(f"the event at seq {head} does not match its signed checkpoint")
                self._checked_root(last, head, last.hash)
                self._last_seq = head
                return last
            head_hash = self._checked_head_hash(last, head)
            root_hash = self._checked_root(last, head, head_hash)
            self.store.add_public_key(self.signer.public_key_pem)
            checkpoint = self.signer.sign(self.ledger.settings.ledger_name, head, head_hash, self._clock(), root_hash)
            self.store.append(checkpoint)
            self._last_seq = head
            return checkpoint

    def maybe_checkpoint(self) -> Checkpoint | None:
        """Checkpoints when the head crossed a multiple of ``every`` since the last checkpoint (else ``None``).

        Cheap when nothing is due (one ``head()`` query). ``on_append`` is the same as a
        ``ledger.after_append`` hook.
        """
        head = self.ledger.head()
        if self._last_seq is None:
            latest = self.store.latest()
            self._last_seq = latest.seq if latest is not None else 0
        if head // self.every > self._last_seq // self.every:
            return self.checkpoint_now()
        return None

    def on_append(self) -> None:
        self.maybe_checkpoint()

    def _checked_root(self, last: Checkpoint | None, head: int, head_hash: str) -> str:
        """The stored tree's root at ``head``, once its last leaf is the chain head just checked and
        the tree at the last checkpoint's size still has the root signed then (a log never signs a
        tree inconsistent with one it signed before)."""
        def work(node: merkle.Node, size: int) -> str:
            if size < head or node(0, head - 1) != merkle.leaf_hash(bytes.fromhex(head_hash)):
                raise IntegrityViolationError(f"refusing to sign: the Merkle tree does not hold seq {head}")
            if last is not None and last.root_hash is not None and merkle.root(node, last.seq).hex() != last.root_hash:
                raise IntegrityViolationError(f"refusing to sign: the tree is not the one signed at {last.seq}")
            return merkle.root(node, head).hex()
        return self.ledger.log.merkle(work)

    def _checked_head_hash(self, last: Checkpoint | None, head: int) -> str:
        prev_hash, expected = (last.hash, last.seq + 1) if last is not None else (GENESIS_HASH, 1)
        for record in self.ledger.iter_log(after=expected - 1):
            if record.id > head:
                break
            broken = first_break([record], prev_hash=prev_hash, start_seq=expected)
            if broken is not None:
                raise IntegrityViolationError(f"refusing to sign: seq {broken.seq}: {broken.reason}")
            prev_hash, expected = record.hash, expected + 1
        if expected <= head:
            raise IntegrityViolationError(f"refusing to sign: the log has no event at seq {expected}")
        return prev_hash
