"""The event-log contract of DESIGN.md section 3, run on every backend."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent

from ledger.application import Ledger
from ledger.config import Settings
from ledger.eventlog.base import GENESIS_HASH, EventLog
from ledger.integrity.chain import first_break
from tests.backends import backend_settings  # noqa: F401  (fixture)


@pytest.fixture
def log(backend_settings: Settings) -> Iterator[EventLog]:  # noqa: F811
    app = Ledger(backend_settings)
    yield app.log
    app.close()


def events(stream: object, first: int, count: int) -> list[StoredEvent]:
    return [StoredEvent(stream, first + i, "tests:Event", f"state-{first + i}".encode()) for i in range(count)]  # type: ignore[arg-type]


def test_multi_event_save_gets_dense_sequence_numbers(log: EventLog) -> None:
    a, b = uuid4(), uuid4()
    assert list(log.insert_events(events(a, 1, 3)) or []) == [1, 2, 3]
    assert list(log.insert_events(events(b, 1, 2)) or []) == [4, 5]
    assert [r.id for r in log.select_notifications(None, 10)] == [1, 2, 3, 4, 5]
    assert log.max_notification_id() == 5


def test_expected_version_conflict_writes_nothing_of_the_save(log: EventLog) -> None:
    a, b = uuid4(), uuid4()
    log.insert_events(events(a, 1, 2))
    with pytest.raises(IntegrityError):
        log.insert_events(events(b, 1, 1) + events(a, 2, 1))  # b is fine, a@2 exists: all or nothing
    assert log.select_stream(b) == []
    assert log.max_notification_id() == 2
    assert list(log.insert_events(events(b, 1, 1)) or []) == [3]


def test_per_stream_reads_keep_version_order_and_global_seq(log: EventLog) -> None:
    a, b = uuid4(), uuid4()
    log.insert_events(events(a, 1, 1))
    log.insert_events(events(b, 1, 1))
    log.insert_events(events(a, 2, 2))
    records = log.select_stream(a)
    assert [(r.originator_version, r.id, r.state) for r in records] == [
        (1, 1, b"state-1"), (2, 3, b"state-2"), (3, 4, b"state-3"),
    ]


def test_event_ids_are_unique_and_found_again(log: EventLog) -> None:
    a = uuid4()
    event_id = str(uuid4())
    log.insert_events(events(a, 1, 1), event_ids=[event_id])
    with pytest.raises(IntegrityError):
        log.insert_events(events(uuid4(), 1, 1), event_ids=[event_id])
    found = log.find_event(event_id)
    assert found is not None and (found.id, found.originator_id, found.originator_version) == (1, a, 1)
    assert log.find_event(str(uuid4())) is None
    assert log.max_notification_id() == 1


def test_reading_from_a_position_returns_what_follows(log: EventLog) -> None:
    for _ in range(5):
        log.insert_events(events(uuid4(), 1, 2))
    after_four = log.select_notifications(4, 3, inclusive_of_start=False)
    assert [r.id for r in after_four] == [5, 6, 7]
    assert [r.id for r in log.select_notifications(9, 5, inclusive_of_start=False)] == [10]


def test_every_record_links_into_the_hash_chain(log: EventLog) -> None:
    for _ in range(3):
        log.insert_events(events(uuid4(), 1, 2))
    records = list(log.select_notifications(None, 100))
    assert records[0].prev_hash == GENESIS_HASH  # type: ignore[attr-defined]
    assert first_break(records) is None  # type: ignore[arg-type]


def test_concurrent_writers_never_share_a_sequence_number(log: EventLog) -> None:
    errors: list[Exception] = []

    def write() -> None:
        try:
            for _ in range(20):
                log.insert_events(events(uuid4(), 1, 2))
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    ids = [r.id for r in log.select_notifications(None, 1000)]
    assert ids == list(range(1, 161))
    assert first_break(log.select_notifications(None, 1000)) is None  # type: ignore[arg-type]
