"""Restoring a backup (``ledger.exchange.backup`` describes the folder) into an empty ledger.

Everything that can be checked is checked before anything is written: the manifest, every file's
digest, the records' chain and Merkle root against the manifest's head, the backup's own signed
checkpoints against the records, that this ledger has the backup's name and that its data key opens
the events, and that the target holds nothing (no events, checkpoints or tokens). Then the records
are appended in seq order, ``BATCH`` at a time, through the log's own ``insert_events`` (several
streams per batch; the target backend recomputes seq, hashes and its tree), and the result is held
against the manifest once more before the checkpoints and tokens are copied in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import PersistenceError, StoredEvent

from ledger.application import Ledger
from ledger.config import Settings
from ledger.errors import ConflictError, IntegrityViolationError, UnavailableError
from ledger.eventlog.base import GENESIS_HASH, LogRecord
from ledger.exchange.backup import (
    AUDIT,
    AUTH,
    BATCH,
    EMPTY_ROOT,
    EVENTS,
    BackupError,
    Manifest,
    Progress,
    audit_path,
    file_digest,
)
from ledger.exchange.stores import merge_store, rows_in
from ledger.integrity.checkpoints import CheckpointStore
from ledger.integrity.proofs import tree_head
from ledger.integrity.verify import verify_log
from ledger.tokens import auth_path

Phases = Callable[[str], AbstractContextManager[Progress]]
"""Opens a progress bar for a named phase of a restore (``cli.base.progress`` is one)."""


@dataclass(frozen=True)
class RestoreReport:
    events: int
    head_hash: str
    root_hash: str
    checkpoints: int
    tokens: int


def missing_keys(settings: Settings, env: dict[str, str] | None = None) -> list[Path]:
    """The key files a restored ledger needs from the original that the keys folder lacks: the data
    key (unless ``LEDGER_DATA_KEY`` is set or state is stored unencrypted) and the lookup key.
    Opening a ``Ledger`` would create fresh ones, which could not read the restored events."""
    variables = os.environ if env is None else env
    wanted = [settings.lookup_key_path]
    if settings.encrypt and not variables.get("LEDGER_DATA_KEY"):
        wanted.insert(0, settings.data_key_path)
    return [path for path in wanted if not path.exists()]


def restore(ledger: Ledger, directory: Path, phases: Phases | None = None, batch: int = BATCH) -> RestoreReport:
    """Restores the backup in ``directory`` into the empty ``ledger``, ``batch`` records per append;
    see the module docstrings.

    ``BackupError`` (a corrupt or incomplete backup, another ledger's name, a data key that does not
    open the events) and ``ConflictError`` (a target that is not empty) are raised before anything is
    written. ``IntegrityViolationError`` if the restored log does not end at the manifest's head hash
    and root (then the target holds events and must be cleared before a retry).
    """
    bar = phases or (lambda _: nullcontext(lambda done, total: None))
    manifest = Manifest.read(directory)
    for name, expected in manifest.files.items():
        if not (directory / name).is_file():
            raise BackupError(f"the backup is incomplete: {name} is missing")
        if name != EVENTS and file_digest(directory / name) != {k: expected.get(k) for k in ("sha256", "bytes")}:
            raise BackupError(f"the backup is corrupt: {name} does not match its digest in the manifest")
    _check_target(ledger, manifest)
    with bar("checking the backup") as tick:
        _check_events(ledger, directory, manifest, tick)
    with bar("restoring events") as tick:
        _insert_events(ledger, directory, manifest, tick, batch)
    head_hash = ledger.read_log(manifest.head - 1, 1)[0].hash if manifest.head else GENESIS_HASH
    root = tree_head(ledger.log, manifest.head)[1] if manifest.head else EMPTY_ROOT
    if (ledger.head(), head_hash, root) != (manifest.head, manifest.head_hash, manifest.root_hash):
        raise IntegrityViolationError(f"the restored log (head {ledger.head()}) does not match the backup's head "
                                      f"{manifest.head}, head hash or Merkle root: do not use it")
    copied = {name: merge_store(directory / name, target) for name, target in
              ((AUDIT, audit_path(ledger.settings)), (AUTH, auth_path(ledger.settings))) if name in manifest.files}
    return RestoreReport(manifest.head, head_hash, root, copied.get(AUDIT, {}).get("checkpoints", 0),
                         copied.get(AUTH, {}).get("tokens", 0))


def _check_target(ledger: Ledger, manifest: Manifest) -> None:
    settings = ledger.settings
    if settings.ledger_name != manifest.ledger_name:
        raise BackupError(f"the backup is of the ledger {manifest.ledger_name!r}, this one is named "
                          f"{settings.ledger_name!r}: set LEDGER_NAME={manifest.ledger_name} (checkpoints name it)")
    catch_up = getattr(ledger.log, "catch_up", None)  # Kafka: what the topic holds, not just the index
    if callable(catch_up):
        try:
            catch_up()
        except PersistenceError as error:
            raise UnavailableError(f"the event log is unavailable: {error}") from None
    if ledger.head():
        raise ConflictError(f"the target ledger already holds {ledger.head()} events: restore into an empty one "
                            "(a new LEDGER_HOME; on Kafka also a new topic)")
    for store in (audit_path(settings), auth_path(settings)):
        if rows_in(store):
            raise ConflictError(f"{store} already holds rows: restore into an empty LEDGER_HOME")


def _records(directory: Path, digest: Any = None) -> Iterator[LogRecord]:
    """The records of ``events.ndjson``; ``BackupError`` names the first line that is not one."""
    with (directory / EVENTS).open("rb") as handle:
        for line_no, line in enumerate(handle, 1):
            if digest is not None:
                digest.update(line)
            yield _record(line, line_no)


def _record(line: bytes, line_no: int) -> LogRecord:
    try:
        data = orjson.loads(line)
        stream: UUID | str = data["stream"]
        with suppress(ValueError):
            stream = UUID(str(stream))
        record = LogRecord(id=data["seq"], originator_id=stream, originator_version=data["version"],
                           topic=data["topic"], state=base64.b64decode(data["state"], validate=True),
                           event_id=data["event_id"], prev_hash=data["prev_hash"], hash=data["hash"])
        kinds = ((record.id, int), (record.originator_version, int), (record.topic, str), (record.prev_hash, str),
                 (record.hash, str))
        if not all(type(value) is kind for value, kind in kinds) or not isinstance(record.event_id, str | None):
            raise TypeError
    except (orjson.JSONDecodeError, KeyError, TypeError, binascii.Error, ValueError, AttributeError):
        raise BackupError(f"the backup is corrupt: {EVENTS} line {line_no} is not a stored record") from None
    return record


def _check_events(ledger: Ledger, directory: Path, manifest: Manifest, tick: Progress) -> None:
    """Reads the records once: chain, tree root, head, file digest and the backup's own checkpoints,
    and that this ledger's data key opens them."""
    with tempfile.TemporaryDirectory() as scratch:  # the store opens (and may migrate) its file: use a copy
        checkpoints, public_key = [], None
        if AUDIT in manifest.files:
            copy = Path(scratch) / AUDIT
            copy.write_bytes((directory / AUDIT).read_bytes())
            store = CheckpointStore(copy)
            checkpoints, public_key = store.checkpoints(), store.public_key()
            store.close()
    digest, last = hashlib.sha256(), [GENESIS_HASH]

    def records() -> Iterator[LogRecord]:
        for count, record in enumerate(_records(directory, digest), start=1):
            if count == 1:
                _check_data_key(ledger, record)
            last[0] = record.hash
            if count % BATCH == 0:
                tick(count, manifest.head)
            yield record

    report = verify_log(records(), checkpoints, public_key, ledger_name=manifest.ledger_name)
    tick(report.checked, manifest.head)
    if not report.ok:
        raise BackupError(f"the backup is corrupt: {EVENTS} at seq {report.first_bad_seq}: {report.reason}")
    found = {"sha256": digest.hexdigest(), "records": report.checked, "head_hash": last[0],
             "root_hash": report.root_hash}
    expected = {"sha256": manifest.files[EVENTS].get("sha256"), "records": manifest.head,
                "head_hash": manifest.head_hash, "root_hash": manifest.root_hash}
    wrong = [name for name in found if found[name] != expected[name]]
    if wrong:
        raise BackupError(f"the backup is corrupt: {EVENTS} does not match the manifest ({', '.join(wrong)})")


def _check_data_key(ledger: Ledger, record: LogRecord) -> None:
    try:
        ledger.mapper.to_domain_event(record)
    except Exception:
        raise BackupError(f"this ledger's data key ({ledger.settings.data_key_path} or LEDGER_DATA_KEY) does not open "
                          "the backup's events: use the original ledger's keys folder") from None


def _insert_events(ledger: Ledger, directory: Path, manifest: Manifest, tick: Progress, size: int) -> None:
    def flush(batch: list[LogRecord]) -> None:
        stored = [StoredEvent(r.originator_id, r.originator_version, r.topic, r.state) for r in batch]
        try:
            seqs = ledger.log.insert_events(stored, event_ids=[r.event_id for r in batch])
        except PersistenceError as error:
            raise UnavailableError(f"restore stopped at seq {batch[0].id} ({type(error).__name__}): the target now "
                                   f"holds {ledger.head()} events; clear it before a retry") from None
        if list(seqs or ()) != [r.id for r in batch]:
            raise IntegrityViolationError(f"the target assigned other seqs than the backup's from seq {batch[0].id} "
                                          "(was it written meanwhile?): do not use it")
        tick(batch[-1].id, manifest.head)

    batch: list[LogRecord] = []
    for record in _records(directory):
        batch.append(record)
        if len(batch) == size:
            flush(batch)
            batch = []
    if batch:
        flush(batch)

