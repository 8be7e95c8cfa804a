"""The Kafka log's application recorder: it holds the index it reads and the writer it writes through."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Notification, OperationalError, StoredEvent, Subscription
from kafka import KafkaProducer

from ledger.eventlog.base import LogRecord, Row
from ledger.eventlog.kafka.catchup import catch_up
from ledger.eventlog.kafka.index import KafkaIndex
from ledger.eventlog.kafka.records import KafkaConfig
from ledger.eventlog.kafka.writer import KafkaWriter
from ledger.integrity import merkle

T = TypeVar("T")


class KafkaRecorder(ApplicationRecorder):
    """Reads answer from the index (``self.index``); writes go through the single transactional
    writer (``self.writer``), which indexes what it committed. A ``read_only`` recorder (a reader API
    process) never opens a producer, so it can never fence the writer: ``insert_events`` raises."""

    def __init__(self, index: KafkaIndex, config: KafkaConfig, *, read_only: bool = False) -> None:
        self.index = index
        self.config = config
        self.read_only = read_only
        self.writer = KafkaWriter(index, config)

    # ---- reading: the index ----------------------------------------------------------------------

    def select_events(
        self, originator_id: UUID | str, *, gt: int | None = None, lte: int | None = None, desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        return self.index.select_events(originator_id, gt=gt, lte=lte, desc=desc, limit=limit)

    def select_notifications(
        self, start: int | None, limit: int, stop: int | None = None, topics: Sequence[str] = (), *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        return self.index.select_notifications(start, limit, stop, topics, inclusive_of_start=inclusive_of_start)

    def max_notification_id(self) -> int | None:
        return self.index.max_notification_id()

    def find_event(self, event_id: str) -> LogRecord | None:
        return self.index.find_event(event_id)

    def select_stream(
        self, originator_id: UUID | str, *, gt: int | None = None, limit: int | None = None
    ) -> list[LogRecord]:
        return self.index.select_stream(originator_id, gt=gt, limit=limit)

    def record_at(self, originator_id: UUID | str, version: int) -> LogRecord | None:
        return self.index.record_at(originator_id, version)

    def merkle(self, work: Callable[[merkle.Node, int], T]) -> T:
        return self.index.merkle(work)

    def raw_rows(self, after: int = 0, batch: int = 10_000) -> Iterator[Row]:
        return self.index.raw_rows(after, batch)

    def subscribe(self, gt: int | None = None, topics: Sequence[str] = ()) -> Subscription[ApplicationRecorder]:
        """Not supported: projections read the topic (``TopicReader``) or poll the index."""
        raise NotImplementedError(f"The {type(self).__qualname__} recorder does not support subscriptions")

    # ---- writing: the writer ---------------------------------------------------------------------

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if not stored_events:
            return []
        if self.read_only:
            raise OperationalError("this process reads the Kafka log only; the writer appends")
        return self.writer.submit(stored_events, kwargs.get("event_ids") or ())

    def catch_up(self) -> int:
        """Reads what the topic committed after the index's positions into the index; returns how many."""
        return catch_up(self.index, self.config)

    def close(self) -> None:
        """Stops the writer thread and closes the producer (the index's datastore is the factory's)."""
        self.writer.close()

    # ---- the writer's state, as the Kafka integration tests reach for it ---------------------------

    @property
    def _stale(self) -> bool:
        return self.writer.stale

    @_stale.setter
    def _stale(self, value: bool) -> None:
        self.writer.stale = value

    @property
    def _producer(self) -> KafkaProducer | None:
        return self.writer.producer
