"""Backups that keep the audit trail: the log as stored, with its checkpoints and tokens.

A backup folder (0700; files 0600) holds:

* ``events.ndjson``: every stored record ``1..H`` in seq order, one JSON object a line:
  ``{"seq", "stream", "version", "topic", "event_id", "state" (base64 of the stored bytes, so
  ciphertext), "prev_hash", "hash"}``. Timestamps and authors are inside ``state``;
* ``audit.db``: the checkpoint store's rows with ``seq <= H`` and its public keys (every table and
  column it has); ``auth.db``: the token store (hashes only), when the ledger has one;
* ``manifest.json``, written last: format, ledger name, backend, ``head`` H, ``head_hash``, the Merkle
  ``root_hash`` of the first H events, creation time, and the SHA-256 and size of each file.

**Online and consistent without a lock.** The log is append-only and its seq dense: once the head
H is read, records ``1..H`` and the tree of their first H leaves never change, however many events
are appended meanwhile. So a backup reads H once, streams ``1..H`` (checking the chain and the
tree root as it goes) and keeps only checkpoints up to H. Backends do not matter: the chain hash is
a function of seq, stream, version, topic, event id and the stored bytes only.

**Restore** refuses a ledger that holds anything (events, checkpoints, tokens) and a backup that
does not check out (a missing file, a digest, chain, tree root or checkpoint that does not match)
before writing anything; then it appends the same records in the same order in batches through the
log's own insert path (so seq, hashes and the tree are recomputed by the target backend, SQLite or
an empty Kafka topic), checks that the head hash and root equal the manifest's, and copies the
checkpoints and tokens. Views and snapshots are not in a backup: they are rebuilt from the log.

Keys are NOT in a backup (they live in the keys folder, ``Settings.keys_path``): the restored ledger
needs the original's data key to read the events and its lookup key to find retirees by ID number.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from ledger.application import Ledger
from ledger.config import Settings
from ledger.errors import IntegrityViolationError, InvalidInputError
from ledger.eventlog.base import GENESIS_HASH, LogRecord, canonical_id
from ledger.exchange.stores import Filter, snapshot_store
from ledger.files import open_private, private_folder
from ledger.integrity import merkle
from ledger.integrity.chain import record_hash
from ledger.integrity.proofs import tree_head
from ledger.tokens import auth_path

FORMAT = "social-care-ledger/backup/1"
MANIFEST, EVENTS, AUDIT, AUTH = "manifest.json", "events.ndjson", "audit.db", "auth.db"
BATCH = 1000
EMPTY_ROOT = hashlib.sha256(b"").hexdigest()
Progress = Callable[[int, int], None]


class BackupError(InvalidInputError):
    """A backup that cannot be taken or restored as asked; nothing was written or restored."""


@dataclass(frozen=True)
class Manifest:
    format: str
    ledger_name: str
    backend: str
    head: int
    head_hash: str
    root_hash: str
    created: str
    files: dict[str, dict[str, Any]]

    @property
    def checkpoints(self) -> int:
        return int(self.files.get(AUDIT, {}).get("rows", {}).get("checkpoints", 0))

    @property
    def tokens(self) -> int:
        return int(self.files.get(AUTH, {}).get("rows", {}).get("tokens", 0))

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        path = directory / MANIFEST
        if not path.is_file():
            raise BackupError(f"{directory} is not a complete backup: {MANIFEST} is missing")
        try:
            data = orjson.loads(path.read_bytes())
            manifest = cls(**{name: data[name] for name in cls.__dataclass_fields__})
        except (orjson.JSONDecodeError, KeyError, TypeError):
            raise BackupError(f"{path} is not a backup manifest") from None
        if manifest.format != FORMAT:
            raise BackupError(f"{path}: unknown backup format {str(manifest.format)[:40]!r} (expected {FORMAT})")
        kinds = (int, str, str, str, dict)
        values = (manifest.head, manifest.head_hash, manifest.root_hash, manifest.created, manifest.files)
        typed = all(type(value) is kind for value, kind in zip(values, kinds, strict=True))
        if not typed or EVENTS not in manifest.files:
            raise BackupError(f"{path}: a field of the manifest has the wrong type")
        return manifest


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def audit_path(settings: Settings) -> Path:
    """The checkpoint store's file (``CheckpointStore.for_settings``)."""
    return settings.home / AUDIT


# ---- backup ---------------------------------------------------------------------------------------


def check_backup_folder(directory: Path) -> None:
    """``BackupError`` unless ``directory`` is missing or an empty folder."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise BackupError(f"{directory} exists and is not an empty folder: back up into a new or empty one")


def take_backup(ledger: Ledger, directory: Path, progress: Progress | None = None,
                clock: Callable[[], str] = utc_now) -> Manifest:
    """Writes a backup of ``ledger`` as it is at its head now into ``directory`` (new or empty) while
    the ledger may keep appending; see the module docstring. The chain and the tree root of the copied
    records are checked on the way (``IntegrityViolationError``: the log itself does not verify).
    On any failure the files written are removed again."""
    check_backup_folder(directory)
    created = not directory.exists()
    private_folder(directory)
    try:
        return _write_backup(ledger, directory, progress, clock)
    except BaseException:
        for name in (MANIFEST, EVENTS, AUDIT, AUTH):
            (directory / name).unlink(missing_ok=True)
        if created:
            directory.rmdir()
        raise


def _write_backup(ledger: Ledger, directory: Path, progress: Progress | None, clock: Callable[[], str]) -> Manifest:
    head = ledger.head()  # records 1..head are final from here on
    root = tree_head(ledger.log, head)[1] if head else EMPTY_ROOT
    files = {EVENTS: _write_events(ledger, head, root, directory / EVENTS, progress)}
    settings = ledger.settings
    keep: dict[str, Filter] = {"checkpoints": ("seq <= ?", (head,))}  # later ones sign events not copied
    stores: list[tuple[str, Path, dict[str, Filter]]] = [(AUDIT, audit_path(settings), keep),
                                                         (AUTH, auth_path(settings), {})]
    for name, source, keep in stores:
        if source.exists():
            rows = snapshot_store(source, directory / name, keep)
            files[name] = {**file_digest(directory / name), "rows": rows}
    head_hash = files[EVENTS].pop("head_hash")
    manifest = Manifest(FORMAT, settings.ledger_name, settings.backend, head, head_hash, root, clock(), files)
    with open_private(directory / MANIFEST) as out:
        out.write(manifest.to_json())
    return manifest


def _write_events(ledger: Ledger, head: int, root: str, path: Path, progress: Progress | None) -> dict[str, Any]:
    digest, size, prev_hash, tree = hashlib.sha256(), 0, GENESIS_HASH, merkle.Frontier()
    with open_private(path) as out:
        after = 0
        while after < head:
            batch = ledger.log.select_notifications(after + 1, BATCH, stop=head)
            for record in batch:
                assert isinstance(record, LogRecord)
                linked = record.id == after + 1 and record.prev_hash == prev_hash
                if not linked or record_hash(prev_hash, record) != record.hash:
                    raise IntegrityViolationError(f"the log does not verify at seq {after + 1}: run `ledger verify`")
                line = orjson.dumps({
                    "seq": record.id, "stream": canonical_id(record.originator_id),
                    "version": record.originator_version, "topic": record.topic, "event_id": record.event_id,
                    "state": base64.b64encode(record.state).decode(), "prev_hash": record.prev_hash,
                    "hash": record.hash}) + b"\n"
                out.write(line)
                digest.update(line)
                size += len(line)
                tree.append(bytes.fromhex(record.hash))
                prev_hash, after = record.hash, record.id
            if not batch:
                raise IntegrityViolationError(f"the log has no event at seq {after + 1} below its head {head}")
            if progress is not None:
                progress(after, head)
    if tree.root().hex() != root:
        raise IntegrityViolationError("the stored Merkle tree does not match the log: run `ledger verify`")
    return {"sha256": digest.hexdigest(), "bytes": size, "records": head, "head_hash": prev_hash}


def file_digest(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return {"sha256": digest.hexdigest(), "bytes": path.stat().st_size}
