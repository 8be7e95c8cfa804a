"""Backup and restore on real ledgers: under write load, against the original's checkpoints, and refusals.

A backup must restore to a ledger with the same records (ids, seq, hashes, times, authors) that
verifies against checkpoints signed on the original; a corrupt backup or a non-empty target must be
refused before anything is written.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import orjson
import pytest

from ledger import commands as c
from ledger.application import Ledger
from ledger.config import Settings
from ledger.errors import ConflictError, RuleViolationError
from ledger.exchange.backup import AUDIT, AUTH, EVENTS, MANIFEST, BackupError, Manifest, take_backup
from ledger.exchange.restore import restore
from ledger.exchange.stores import rows_in
from ledger.integrity.checkpoints import Checkpoint, Checkpointer, CheckpointStore, Signer, init_signing_key
from ledger.integrity.proofs import tree_head
from ledger.integrity.verify import VerifyReport, verify_log
from ledger.tokens import TokenStore
from tests.backends import settings_for
from tests.integration.ledger.integrity.test_tamper import deliver, seed

TODAY = date(2026, 6, 30)
FIRST_ID, SECOND_ID = "430102195505051235", "430102195203041234"  # born 1955-05-05 and 1952-03-04


def open_ledger(settings: Settings) -> Ledger:
    return Ledger(settings, clock=lambda: TODAY)


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    return tmp_path / "keys"  # one keys folder for the original and its copies: backups carry no keys


@pytest.fixture
def original(tmp_path: Path, keys: Path) -> Iterator[Ledger]:
    ledger = open_ledger(Settings(home=tmp_path / "original", keys_dir=keys))
    init_signing_key(ledger.settings)
    yield ledger
    ledger.close()


@pytest.fixture
def copy(tmp_path: Path, keys: Path) -> Iterator[Ledger]:
    ledger = open_ledger(Settings(home=tmp_path / "copy", keys_dir=keys))
    yield ledger
    ledger.close()


def signer(ledger: Ledger) -> tuple[Checkpointer, CheckpointStore]:
    store = CheckpointStore.for_settings(ledger.settings)
    return Checkpointer(ledger, store, Signer.load(ledger.settings), every=10_000), store


def verify_against(ledger: Ledger, trusted: Checkpoint | None = None) -> VerifyReport:
    """The restored log against its own stored checkpoints (and one kept by an auditor)."""
    store = CheckpointStore.for_settings(ledger.settings)
    try:
        return verify_log(ledger.iter_log(), store.checkpoints(), store.public_key(), trusted,
                          ledger_name=ledger.settings.ledger_name)
    finally:
        store.close()


def records(ledger: Ledger, head: int) -> list[tuple[object, ...]]:
    return [(r.id, str(r.originator_id), r.originator_version, r.topic, r.event_id, r.state, r.prev_hash, r.hash)
            for r in ledger.read_log(0, head)]


def small(ledger: Ledger) -> UUID:
    retiree = seed(ledger, services=6, id_number=FIRST_ID)
    TokenStore.of(ledger.settings).create("auditor", label="backup test")
    checkpointer, store = signer(ledger)
    checkpointer.checkpoint_now()
    store.close()
    return retiree


def test_a_backup_taken_under_write_load_restores_to_the_same_verifiable_ledger(original: Ledger, copy: Ledger,
                                                                                tmp_path: Path) -> None:
    retiree = seed(original, services=30, id_number=FIRST_ID)
    checkpointer, store = signer(original)
    before = checkpointer.checkpoint_now()
    during: list[Checkpoint] = []
    appended = [0]
    stop = threading.Event()

    def write() -> None:  # appends through the Ledger, and signs checkpoints, while the backup runs
        while not stop.is_set():
            deliver(original, retiree, 1)
            appended[0] += 1
            if appended[0] == 5:
                original.handle(c.Enroll(name="Li Hua", id_number=SECOND_ID, sex="male", birth_date=date(1952, 3, 4),
                                         danwei_code="D-TEX-01", danwei_name="Changsha Textile Mill",
                                         retirement_date=date(2012, 4, 1), monthly_pension=Decimal("2300"),
                                         agency="CS-SIA", city="Changsha", district="Yuelu"))
            if appended[0] % 4 == 0:
                during.append(checkpointer.checkpoint_now())

    def slow_progress(done: int, total: int) -> None:  # hold the backup open until the writer has appended
        seen = appended[0]
        deadline = time.monotonic() + 10
        while appended[0] < seen + 3 and time.monotonic() < deadline:
            time.sleep(0.005)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while appended[0] < 8:
            time.sleep(0.005)
        started = appended[0]
        manifest = take_backup(original, tmp_path / "backup", progress=slow_progress)
        ended = appended[0]
    finally:
        stop.set()
        writer.join()
    head = manifest.head
    assert ended >= started + 3 and original.head() > head  # events were appended while the backup ran
    signed_in_copy = [cp for cp in [before, *during] if cp.seq <= head]
    later = next(cp for cp in during if cp.seq > head) if any(cp.seq > head for cp in during) else None

    report = restore(copy, tmp_path / "backup")

    assert (report.events, copy.head()) == (head, head)
    assert records(copy, head) == records(original, head)  # ids, seq, stored bytes (times, authors), hashes
    assert tree_head(copy.log) == tree_head(original.log, head) == (head, manifest.root_hash)
    second = original.find_retiree(SECOND_ID)
    assert second is not None and copy.find_retiree(SECOND_ID) == second
    for stream in (retiree, second):  # decoded: types, data, business dates, times, authors, seq, hashes
        assert copy.history(stream) == [e for e in original.history(stream) if e.seq <= head]
    assert report.checkpoints == len(signed_in_copy) and report.tokens == 0
    assert verify_against(copy).ok and verify_against(copy).signed == max(cp.seq for cp in signed_in_copy)
    for kept in signed_in_copy:  # an auditor's checkpoint of the original verifies the copy
        assert verify_against(copy, trusted=kept).ok
    if later is not None:  # one signed after the backup's head shows the copy is a prefix
        assert "log ends at seq" in (verify_against(copy, trusted=later).reason or "")
    with pytest.raises(RuleViolationError):  # the identity claims came along: one enrollment per ID number
        seed(copy, services=0, code="CS-YL-009", id_number=FIRST_ID)
    assert copy.find_retiree(FIRST_ID) == retiree
    store.close()


def test_backup_files_are_private_and_the_manifest_describes_them(original: Ledger, tmp_path: Path) -> None:
    small(original)
    folder = tmp_path / "backup"

    manifest = take_backup(original, folder)

    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert sorted(p.name for p in folder.iterdir()) == sorted([AUDIT, AUTH, EVENTS, MANIFEST])
    assert {oct(p.stat().st_mode & 0o777) for p in folder.iterdir()} == {"0o600"}
    assert Manifest.read(folder) == manifest
    last = original.read_log(original.head() - 1, 1)[0]
    assert (manifest.head, manifest.head_hash, manifest.backend) == (original.head(), last.hash, "sqlite")
    assert (manifest.checkpoints, manifest.tokens) == (1, 1)
    line = orjson.loads((folder / EVENTS).read_bytes().splitlines()[0])
    assert set(line) == {"seq", "stream", "version", "topic", "event_id", "state", "prev_hash", "hash"}
    assert base64.b64decode(line["state"]) == original.read_log(0, 1)[0].state  # as stored: ciphertext


def test_a_backup_folder_that_is_not_empty_is_refused(original: Ledger, tmp_path: Path) -> None:
    small(original)
    folder = tmp_path / "backup"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")

    with pytest.raises(BackupError, match="not an empty folder"):
        take_backup(original, folder)
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]


def test_restore_into_a_ledger_that_holds_events_is_refused_and_changes_nothing(
    original: Ledger, tmp_path: Path
) -> None:
    small(original)
    take_backup(original, tmp_path / "backup")
    head, checkpoints = original.head(), rows_in(original.settings.home / AUDIT)

    with pytest.raises(ConflictError, match=f"already holds {head} events"):
        restore(original, tmp_path / "backup")
    assert (original.head(), rows_in(original.settings.home / AUDIT)) == (head, checkpoints)


def test_restore_into_a_home_that_holds_tokens_is_refused(original: Ledger, copy: Ledger, tmp_path: Path) -> None:
    small(original)
    take_backup(original, tmp_path / "backup")
    TokenStore.of(copy.settings).create("viewer")

    with pytest.raises(ConflictError, match=r"auth\.db already holds rows"):
        restore(copy, tmp_path / "backup")
    assert copy.head() == 0


def _flip_state(folder: Path) -> None:
    lines = (folder / EVENTS).read_bytes().splitlines(keepends=True)
    line = orjson.loads(lines[3])
    state = line["state"]
    line["state"] = state[:10] + ("A" if state[10] != "A" else "B") + state[11:]
    lines[3] = orjson.dumps(line) + b"\n"
    (folder / EVENTS).write_bytes(b"".join(lines))


def _flip_byte(folder: Path) -> None:
    data = bytearray((folder / EVENTS).read_bytes())
    data[len(data) // 2] ^= 0x01
    (folder / EVENTS).write_bytes(bytes(data))


def _drop_last_record(folder: Path) -> None:
    lines = (folder / EVENTS).read_bytes().splitlines(keepends=True)
    (folder / EVENTS).write_bytes(b"".join(lines[:-1]))


def _manifest(change: Callable[[dict[str, object]], None]) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        data = orjson.loads((folder / MANIFEST).read_bytes())
        change(data)
        (folder / MANIFEST).write_bytes(orjson.dumps(data))
    return edit


CORRUPTIONS: dict[str, tuple[Callable[[Path], None], str]] = {
    "a flipped base64 character of a state": (_flip_state, "seq 4: hash does not match"),
    "a flipped byte in the records file": (_flip_byte, "the backup is corrupt"),
    "the last record missing": (_drop_last_record, "the backup is corrupt"),
    "the records file missing": (lambda folder: (folder / EVENTS).unlink(), "events.ndjson is missing"),
    "the checkpoint store missing": (lambda folder: (folder / AUDIT).unlink(), "audit.db is missing"),
    "the checkpoint store altered": (lambda folder: (folder / AUDIT).write_bytes(b"x" + (folder / AUDIT).read_bytes()),
                                     "audit.db does not match its digest"),
    "the manifest missing": (lambda folder: (folder / MANIFEST).unlink(), "manifest.json is missing"),
    "another head hash in the manifest": (_manifest(lambda m: m.update(head_hash="0" * 64)), "head_hash"),
    "another root in the manifest": (_manifest(lambda m: m.update(root_hash="0" * 64)), "root_hash"),
    "a manifest that is not JSON": (lambda folder: (folder / MANIFEST).write_bytes(b"{"), "not a backup manifest"),
}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS))
def test_a_corrupt_backup_is_refused_with_one_line_and_nothing_is_restored(
    original: Ledger, copy: Ledger, tmp_path: Path, corruption: str
) -> None:
    small(original)
    folder = tmp_path / "backup"
    take_backup(original, folder)
    corrupt, message = CORRUPTIONS[corruption]
    corrupt(folder)

    with pytest.raises(BackupError, match=message) as caught:
        restore(copy, folder)
    assert "\n" not in caught.value.detail
    assert copy.head() == 0
    assert rows_in(copy.settings.home / AUDIT) == 0 and rows_in(copy.settings.home / AUTH) == 0


def test_a_forged_checkpoint_in_the_backup_is_refused(original: Ledger, copy: Ledger, tmp_path: Path) -> None:
    small(original)
    folder = tmp_path / "backup"
    take_backup(original, folder)
    records_file = folder / EVENTS
    lines = records_file.read_bytes().splitlines(keepends=True)
    records_file.write_bytes(b"".join(lines[:-1]))  # a shorter log, manifest rewritten to match it...
    data = orjson.loads((folder / MANIFEST).read_bytes())
    last = orjson.loads(lines[-2])
    data.update(head=last["seq"], head_hash=last["hash"], root_hash=tree_head(original.log, last["seq"])[1])
    data["files"][EVENTS]["sha256"] = hashlib.sha256(records_file.read_bytes()).hexdigest()
    (folder / MANIFEST).write_bytes(orjson.dumps(data))

    with pytest.raises(BackupError, match="below the signed checkpoint"):  # ...but the signed checkpoint says more
        restore(copy, folder)
    assert copy.head() == 0


def test_restore_with_another_data_key_is_refused(original: Ledger, tmp_path: Path) -> None:
    small(original)
    take_backup(original, tmp_path / "backup")
    stranger = open_ledger(Settings(home=tmp_path / "stranger", keys_dir=tmp_path / "other-keys"))
    try:
        with pytest.raises(BackupError, match="data key"):
            restore(stranger, tmp_path / "backup")
        assert stranger.head() == 0
    finally:
        stranger.close()


def test_restore_into_a_ledger_of_another_name_is_refused(original: Ledger, keys: Path, tmp_path: Path) -> None:
    small(original)
    take_backup(original, tmp_path / "backup")
    other = open_ledger(Settings(home=tmp_path / "other", keys_dir=keys, ledger_name="elsewhere"))
    try:
        with pytest.raises(BackupError, match="LEDGER_NAME=ledger"):
            restore(other, tmp_path / "backup")
    finally:
        other.close()


@pytest.mark.kafka
def test_kafka_to_sqlite_and_sqlite_to_kafka_keep_every_record_and_checkpoint(
    tmp_path: Path, keys: Path, request: pytest.FixtureRequest
) -> None:
    kafka_settings = replace(settings_for("kafka", tmp_path / "kafka", request), keys_dir=keys)
    source = open_ledger(kafka_settings)
    init_signing_key(source.settings)
    retiree = small(source)
    deliver(source, retiree, 40)
    checkpointer, store = signer(source)
    later = checkpointer.checkpoint_now()
    store.close()
    take_backup(source, tmp_path / "from-kafka")
    head, expected, history = source.head(), records(source, source.head()), source.history(retiree)
    assert Manifest.read(tmp_path / "from-kafka").backend == "kafka"

    embedded = open_ledger(Settings(home=tmp_path / "sqlite", keys_dir=keys, ledger_name=kafka_settings.ledger_name))
    try:
        restore(embedded, tmp_path / "from-kafka", batch=16)  # several streams per batch, several batches
        assert records(embedded, head) == expected and embedded.history(retiree) == history
        assert verify_against(embedded, trusted=later).ok
        take_backup(embedded, tmp_path / "from-sqlite")
        with pytest.raises(ConflictError):  # a topic that holds events is not a restore target
            restore(source, tmp_path / "from-sqlite")
    finally:
        embedded.close()
        source.close()  # the copy's writer has the same transactional id (the ledger's name)

    fresh_topic = settings_for("kafka", tmp_path / "kafka-again", request).kafka_topic
    again = open_ledger(replace(kafka_settings, home=tmp_path / "kafka-again", kafka_topic=fresh_topic))
    try:
        report = restore(again, tmp_path / "from-sqlite", batch=16)
        assert report.events == head and records(again, head) == expected
        assert verify_against(again, trusted=later).ok
        assert again.history(retiree) == history
    finally:
        again.close()
