"""Reading committed records straight from the topic (projections, verification)."""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Iterator, Mapping

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from ledger.errors import InvalidInputError, UnavailableError
from ledger.eventlog.base import LogRecord
from ledger.eventlog.kafka.records import log_record


class TopicReader:
    """The committed records of the ledger's topic, read straight from Kafka (``read_committed``).

    Every partition is assigned to one consumer without a group: nothing is committed to Kafka,
    the caller keeps its own positions. A position is the next offset to read in a partition.
    Nothing connects before the first call. Not thread-safe: one caller at a time. Kafka
    failures, and a wait for committed records longer than ``client_timeout_ms``, raise
    ``UnavailableError``.
    """

    def __init__(self, bootstrap: str, topic: str, client_timeout_ms: int = 10_000) -> None:
        self.bootstrap, self.topic, self.client_timeout_ms = bootstrap, topic, client_timeout_ms
        self._consumer: KafkaConsumer | None = None
        self._partitions: dict[int, TopicPartition] = {}

    def partitions(self) -> list[int]:
        self._open()
        return sorted(self._partitions)

    def end_offsets(self) -> dict[int, int]:
        """Per partition, the offset after its last committed record (the last stable offset)."""
        consumer = self._open()
        try:
            ends = consumer.end_offsets(list(self._partitions.values()), timeout_ms=self.client_timeout_ms)
        except KafkaError as error:
            raise UnavailableError(f"cannot read the end of topic {self.topic}: {type(error).__name__}") from None
        return {tp.partition: offset for tp, offset in ends.items()}

    def position(self, partition: int) -> int:
        """The next offset to read in a partition that the last ``read`` returned records of: past
        those records and past any transaction markers and aborted records behind them."""
        position = self._open().position(self._partitions[partition])
        return int(position) if position is not None else 0

    def read(self, positions: Mapping[int, int], max_records: int = 500) -> list[tuple[int, int, LogRecord]]:
        """Committed records ``(partition, offset, record)`` at or after ``positions`` (partition -> next
        offset to read); only the partitions named there are read.

        At most ``max_records``, in offset order within a partition; ``[]`` when every named partition
        is at its end. Waits at most ``client_timeout_ms`` for records known to be committed.
        """
        consumer = self._open()
        unknown = sorted(set(positions) - set(self._partitions))
        if unknown:
            raise InvalidInputError(f"topic {self.topic} has no partition(s) {unknown}")
        try:
            named = {self._partitions[p]: offset for p, offset in positions.items()}
            end = consumer.end_offsets(list(named), timeout_ms=self.client_timeout_ms) if named else {}
            behind = {tp: offset for tp, offset in named.items() if offset < end[tp]}
            if not behind:
                return []
            # (re)assigned rather than paused: kafka-python 3.0 can strand a resumed partition's data
            fresh = set(consumer.assignment()) != set(behind)
            if fresh:
                consumer.assign(list(behind))
            for tp, offset in behind.items():
                if fresh or consumer.position(tp) != offset:
                    consumer.seek(tp, offset)
            deadline = time.monotonic() + self.client_timeout_ms / 1000
            while any(consumer.position(tp) < end[tp] for tp in behind):
                fetched = consumer.poll(timeout_ms=10, max_records=max_records)  # short: markers return nothing
                if fetched:
                    return [(tp.partition, r.offset, log_record(r))
                            for tp in sorted(fetched) for r in fetched[tp]]
                if time.monotonic() > deadline:
                    raise UnavailableError(f"no committed records from topic {self.topic} within "
                                           f"{self.client_timeout_ms} ms")
        except KafkaError as error:
            raise UnavailableError(f"cannot read topic {self.topic}: {type(error).__name__}") from None
        return []

    def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with contextlib.suppress(Exception):
                consumer.close()

    def _open(self) -> KafkaConsumer:
        if self._consumer is not None:
            return self._consumer
        try:
            consumer = KafkaConsumer(
                bootstrap_servers=self.bootstrap, isolation_level="read_committed", enable_auto_commit=False,
                group_id=None, auto_offset_reset="earliest", request_timeout_ms=self.client_timeout_ms + 5000,
                fetch_max_wait_ms=50, max_partition_fetch_bytes=8 * 1024 * 1024,
            )
        except KafkaError as error:
            raise UnavailableError(f"cannot reach Kafka at {self.bootstrap}: {type(error).__name__}") from None
        try:
            found = sorted(consumer.partitions_for_topic(self.topic) or ())
            if not found:
                raise UnavailableError(f"topic {self.topic} does not exist")
            self._partitions = {p: TopicPartition(self.topic, p) for p in found}
        except BaseException as error:
            consumer.close()
            if isinstance(error, KafkaError):
                raise UnavailableError(f"cannot read topic {self.topic}: {type(error).__name__}") from None
            raise
        self._consumer = consumer
        return consumer


def committed_records(reader: TopicReader, batch: int = 2000) -> Iterator[LogRecord]:
    """Every committed record of the topic, partitions merged by ``seq`` (what a verifier reads).

    Streams: it holds at most one fetched batch per partition. A record that claims a ``seq``
    out of turn (forged, replayed, reordered) is yielded where its partition puts it, for the
    verifier to name.
    """
    positions = {partition: 0 for partition in reader.partitions()}
    buffers: dict[int, deque[LogRecord]] = {partition: deque() for partition in positions}
    exhausted: set[int] = set()
    while True:
        empty = [p for p in positions if not buffers[p] and p not in exhausted]
        if empty:
            fetched = reader.read({p: positions[p] for p in empty}, batch)
            if not fetched:
                exhausted.update(empty)
            for partition, offset, record in fetched:
                buffers[partition].append(record)
                positions[partition] = offset + 1
            continue
        live = [p for p in positions if buffers[p]]
        if not live:
            return
        yield buffers[min(live, key=lambda p: buffers[p][0].id)].popleft()
