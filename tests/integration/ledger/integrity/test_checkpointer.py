"""The Checkpointer on a real ledger: on demand, every N events through after_append, and never over a break."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator

import pytest

from ledger.application import Ledger
from ledger.config import Settings
from ledger.errors import ConflictError, IntegrityViolationError, InvalidInputError
from ledger.integrity.checkpoints import Checkpointer, CheckpointStore, Signer, init_signing_key
from tests.integration.ledger.integrity.test_tamper import SQLiteTamperer, deliver, seed


@pytest.fixture
def store(settings: Settings) -> Iterator[CheckpointStore]:
    init_signing_key(settings)
    store = CheckpointStore.for_settings(settings)
    yield store
    store.close()


def checkpointer(ledger: Ledger, store: CheckpointStore, settings: Settings, every: int = 5) -> Checkpointer:
    return Checkpointer(ledger, store, Signer.load(settings), every=every)


def test_checkpointing_an_empty_log_is_refused(ledger: Ledger, store: CheckpointStore, settings: Settings) -> None:
    with pytest.raises(ConflictError, match="empty"):
        checkpointer(ledger, store, settings).checkpoint_now()
    assert store.latest() is None


def test_checkpoint_now_signs_the_current_head(ledger: Ledger, store: CheckpointStore, settings: Settings) -> None:
    seed(ledger, services=3)
    checkpoint = checkpointer(ledger, store, settings).checkpoint_now()
    last = ledger.read_log(ledger.head() - 1, 1)[0]
    assert (checkpoint.seq, checkpoint.hash, checkpoint.ledger_name) == (8, last.hash, settings.ledger_name)
    assert checkpoint.verifies(store.public_key() or b"")
    assert store.latest() == checkpoint


def test_checkpoint_now_at_an_unchanged_head_returns_the_existing_checkpoint(
    ledger: Ledger, store: CheckpointStore, settings: Settings
) -> None:
    seed(ledger, services=1)
    signer = checkpointer(ledger, store, settings)
    first = signer.checkpoint_now()
    assert signer.checkpoint_now() == first
    assert len(store.checkpoints()) == 1


def test_after_append_checkpoints_every_n_events(ledger: Ledger, store: CheckpointStore, settings: Settings) -> None:
    ledger.after_append.append(checkpointer(ledger, store, settings, every=5).on_append)
    seed(ledger, services=12)  # 17 events; the enrollment appends two at once
    assert [cp.seq for cp in store.checkpoints()] == [5, 10, 15]


def test_maybe_checkpoint_does_nothing_until_the_next_multiple(
    ledger: Ledger, store: CheckpointStore, settings: Settings
) -> None:
    retiree = seed(ledger, services=0)  # 5 events
    signer = checkpointer(ledger, store, settings, every=5)
    made = signer.maybe_checkpoint()
    assert made is not None and made.seq == 5
    deliver(ledger, retiree, 4)
    assert signer.maybe_checkpoint() is None
    deliver(ledger, retiree, 1)
    made = signer.maybe_checkpoint()
    assert made is not None and made.seq == 10


def test_a_restarted_checkpointer_resumes_from_the_store(
    ledger: Ledger, store: CheckpointStore, settings: Settings
) -> None:
    retiree = seed(ledger, services=2)
    checkpointer(ledger, store, settings).maybe_checkpoint()
    restarted = checkpointer(ledger, store, settings)
    assert restarted.maybe_checkpoint() is None
    deliver(ledger, retiree, 3)
    made = restarted.maybe_checkpoint()
    assert made is not None and made.seq == 10
    assert [cp.seq for cp in store.checkpoints()] == [7, 10]  # the head when each came due


def test_concurrent_requests_store_one_checkpoint_per_head(
    ledger: Ledger, store: CheckpointStore, settings: Settings
) -> None:
    seed(ledger, services=3)
    signer = checkpointer(ledger, store, settings)
    threads = [threading.Thread(target=signer.checkpoint_now) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [cp.seq for cp in store.checkpoints()] == [8]


def test_it_refuses_to_sign_over_a_broken_chain(ledger: Ledger, store: CheckpointStore, settings: Settings) -> None:
    retiree = seed(ledger, services=2)
    signer = checkpointer(ledger, store, settings, every=1000)
    signer.checkpoint_now()
    deliver(ledger, retiree, 3)
    SQLiteTamperer(settings.events_path).alter_state_byte(9)
    with pytest.raises(IntegrityViolationError, match="seq 9"):
        signer.checkpoint_now()
    assert [cp.seq for cp in store.checkpoints()] == [7]


def test_it_refuses_when_the_log_no_longer_extends_the_latest_checkpoint(
    ledger: Ledger, store: CheckpointStore, settings: Settings
) -> None:
    retiree = seed(ledger, services=2)
    signer = checkpointer(ledger, store, settings)
    signer.checkpoint_now()
    SQLiteTamperer(settings.events_path).rewrite_from(4)
    with pytest.raises(IntegrityViolationError, match="does not match its signed checkpoint"):
        signer.checkpoint_now()
    deliver(ledger, retiree, 1)
    with pytest.raises(IntegrityViolationError, match="prev_hash does not link"):
        signer.checkpoint_now()
    SQLiteTamperer(settings.events_path).delete(8)
    SQLiteTamperer(settings.events_path).delete(7)
    with pytest.raises(IntegrityViolationError, match="below the checkpoint at seq 7"):
        signer.checkpoint_now()


def test_the_interval_must_be_positive(ledger: Ledger, store: CheckpointStore, settings: Settings) -> None:
    with pytest.raises(InvalidInputError):
        checkpointer(ledger, store, settings, every=0)


def test_checkpoints_written_by_the_checkpointer_cannot_be_updated(
    ledger: Ledger, store: CheckpointStore, settings: Settings
) -> None:
    seed(ledger, services=0)
    checkpointer(ledger, store, settings).checkpoint_now()
    with sqlite3.connect(store.path) as db, pytest.raises(sqlite3.IntegrityError):
        db.execute("UPDATE checkpoints SET seq = 1")
