"""Where the projection runner reads the log from: a log source and its positions.

A source hands out the log's records in ``seq`` order, each tagged with the name of the source
it came from and that source's position once the record is applied. A view stores one position
per source with its rows (``ViewStore.apply``); 0 means nothing of that source applied yet.

* ``EmbeddedSource``: the ledger's own log (``Ledger.read_log``); one source, ``"log"``, whose
  position is the ``seq`` of the last applied record.
* ``TopicSource``: the Kafka topic read straight from the broker (``read_committed``); one source
  per partition, ``"kafka:<partition>"``, whose position is the next offset to read there (the
  offset of the last applied record + 1).

``source_for(ledger)`` picks the one that matches the ledger's backend.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from ledger.application import Ledger
from ledger.errors import IntegrityViolationError, InvalidInputError, UnavailableError
from ledger.eventlog.base import LogRecord
from projections.store import LOG_SOURCE

PARTITION_PREFIX = "kafka:"
SETTLE_S = 5.0
"""How long a read waits for a ``seq`` while later ones are already readable (see ``TopicSource``)."""


@dataclass(frozen=True)
class SourcedRecord:
    """A log record, the source it was read from and that source's position once it is applied."""

    source: str
    position: int
    record: LogRecord

    @property
    def seq(self) -> int:
        return self.record.id


class LogSource(Protocol):
    """The log as the runner reads it. Positions map source names to positions (missing: 0)."""

    def read(self, positions: Mapping[str, int], limit: int) -> list[SourcedRecord]:
        """At most ``limit`` records after ``positions``, in ``seq`` order with no gap; ``[]`` when
        caught up. ``positions`` must cover a prefix of the log (as every view's positions do)."""
        ...

    def last_seq(self, positions: Mapping[str, int]) -> int:
        """The ``seq`` of the last record that ``positions`` cover (0: none)."""
        ...

    def head(self) -> int:
        """The ``seq`` of the last record in the log (0: empty)."""
        ...

    def lag_by_source(self, positions: Mapping[str, int]) -> dict[str, int]:
        """Per source (a topic partition, or the embedded log), how many seqs the last record there is
        past the last one ``positions`` applied from it (0: caught up with that source)."""
        ...

    def close(self) -> None: ...


class EmbeddedSource:
    """The ledger's own log, read through ``Ledger.read_log``; one source, ``"log"`` (position = seq)."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    def read(self, positions: Mapping[str, int], limit: int) -> list[SourcedRecord]:
        records = self._ledger.read_log(after=positions.get(LOG_SOURCE, 0), limit=limit)
        return [SourcedRecord(LOG_SOURCE, record.id, record) for record in records]

    def last_seq(self, positions: Mapping[str, int]) -> int:
        return positions.get(LOG_SOURCE, 0)

    def head(self) -> int:
        return self._ledger.head()

    def lag_by_source(self, positions: Mapping[str, int]) -> dict[str, int]:
        return {LOG_SOURCE: max(self._ledger.head() - positions.get(LOG_SOURCE, 0), 0)}

    def close(self) -> None:
        """Nothing to close: the ledger belongs to the caller."""


def source_for(ledger: Ledger, partitions: Sequence[int] | None = None) -> LogSource:
    """The topic itself for a Kafka ledger (bootstrap and topic from ``ledger.settings``), or only
    ``partitions`` of it (``PartitionSource``); else the embedded log. Nothing connects before the first read."""
    if ledger.settings.backend == "kafka":
        from ledger.eventlog.kafka import TopicReader  # kafka-python is loaded only for a Kafka ledger

        reader = TopicReader(ledger.settings.kafka_bootstrap, ledger.settings.kafka_topic)
        return TopicSource(reader) if partitions is None else PartitionSource(reader, partitions)
    if partitions is not None:
        raise InvalidInputError("only a Kafka log has partitions to own (--partitions needs --log kafka://...)")
    return EmbeddedSource(ledger)


def partition_source(partition: int) -> str:
    """The source name of a topic partition: ``kafka:<partition>``."""
    return f"{PARTITION_PREFIX}{partition}"


class PartitionReader(Protocol):
    """What ``TopicSource`` needs from a topic reader (``ledger.eventlog.kafka.TopicReader``)."""

    def partitions(self) -> list[int]: ...

    def end_offsets(self) -> dict[int, int]: ...

    def position(self, partition: int) -> int: ...

    def read(self, positions: Mapping[int, int], max_records: int = 500) -> list[tuple[int, int, LogRecord]]: ...

    def close(self) -> None: ...


Offsets = dict[int, int]
Key = tuple[tuple[int, int], ...]


def _key(offsets: Mapping[int, int]) -> Key:
    return tuple(sorted((p, o) for p, o in offsets.items() if o))


@dataclass
class _ReadAhead:
    """Where the last read stopped: records fetched beyond it, per partition, and where to fetch next."""

    key: Key
    next_seq: int
    buffers: dict[int, deque[tuple[int, LogRecord]]]
    cursor: Offsets


class TopicSource:
    """The ledger's Kafka topic, read straight from the broker; one source per partition.

    A stream's records share a partition, but a save's records, and the log's order, span
    partitions. The dense ``seq`` restores the order: a record is handed out only after every
    record with a smaller ``seq``, so the records a view has applied are always a prefix of the
    log, and its positions say exactly which. Partitions can become readable out of step (a
    transaction's markers reach its partitions one by one); a read that finds later records but
    not the next ``seq`` waits up to ``settle_s`` for it, then raises ``UnavailableError``.
    """

    def __init__(self, reader: PartitionReader, settle_s: float = SETTLE_S) -> None:
        self._reader = reader
        self._settle_s = settle_s
        self._ahead: _ReadAhead | None = None
        self._known: dict[Key, int] = {}  # the last seq under recently seen positions
        self._covered: dict[tuple[str, Key], int] = {}  # ``covered_seq`` of recently seen positions (it only grows)
        self._prefixes: dict[Key, None] = {}  # recent positions that ``read`` reached (so cover a prefix)

    def read(self, positions: Mapping[str, int], limit: int) -> list[SourcedRecord]:
        offsets = self._offsets(positions)
        state = self._resume(offsets)
        found: list[SourcedRecord] = []
        waiting_since: float | None = None
        while len(found) < limit:
            record = self._take(state)
            if record is not None:
                found.append(record)
            elif not self._fetch(state, limit):
                if found or not any(state.buffers.values()):
                    break  # caught up, or the next seq is not readable yet: hand out what is in order
                if all(state.buffers.values()):
                    raise IntegrityViolationError(f"seq {state.next_seq} is missing from the topic: every "
                                                  "partition goes on past it")
                waiting_since = waiting_since or time.monotonic()
                if time.monotonic() - waiting_since > self._settle_s:
                    raise UnavailableError(f"seq {state.next_seq} is not readable from the topic while later "
                                           f"records are (waited {self._settle_s:g}s)")
                time.sleep(0.01)
        for record in found:
            offsets[int(record.source.removeprefix(PARTITION_PREFIX))] = record.position
        state.key = _key(offsets)
        self._ahead = state
        self._remember(state.key, state.next_seq - 1)
        self._prefixes[state.key] = None
        while len(self._prefixes) > 64:
            del self._prefixes[next(iter(self._prefixes))]
        return found

    def last_seq(self, positions: Mapping[str, int]) -> int:
        offsets = self._offsets(positions)
        key = _key(offsets)
        if key not in self._known:
            self._remember(key, max((self._seq_before(p, o) for p, o in key), default=0))
        return self._known[key]

    def covered_seq(self, positions: Mapping[str, int]) -> int:
        """The last ``seq`` up to which ``positions`` cover EVERY record: below the first record not yet
        applied in any partition. It is ``last_seq`` for positions that cover a prefix of the log; a view
        folded by partition owners may be further on in one partition than in another."""
        key = _key(self._offsets(positions))
        if key in self._prefixes:  # where this source's own reads in seq order stopped: a prefix
            return self.last_seq(positions)
        if ("covered", key) not in self._covered:
            nexts = [seq for p, at in self._offsets(positions).items() if (seq := self._seq_at(p, at))]
            self._covered[("covered", key)] = min(nexts) - 1 if nexts else self.last_seq(positions)
            while len(self._covered) > 64:
                del self._covered[next(iter(self._covered))]
        return self._covered[("covered", key)]

    def _seq_at(self, partition: int, offset: int) -> int:
        """The seq of the first record at or after ``offset`` in ``partition`` (0: none yet)."""
        fetched = self._reader.read({partition: offset}, 1)
        return min((record.id for p, _, record in fetched if p == partition), default=0)

    def head(self) -> int:
        # a partition's last offset is usually its last transaction's marker: look from two back
        ends = self._reader.end_offsets().items()
        return max((self._seq_before(p, end, window=2) for p, end in ends if end), default=0)

    def lag_by_source(self, positions: Mapping[str, int]) -> dict[str, int]:
        """Per partition, the seq of its last record less that of the last record applied from it (offsets
        would count transaction markers too)."""
        offsets = self._offsets(positions)
        return {partition_source(p): max(self._seq_before(p, end, window=2) - self._seq_before(p, offsets[p]), 0)
                for p, end in sorted(self._reader.end_offsets().items())}

    def close(self) -> None:
        self._ahead = None
        self._reader.close()

    def _offsets(self, positions: Mapping[str, int]) -> Offsets:
        return {p: positions.get(partition_source(p), 0) for p in self._reader.partitions()}

    def _resume(self, offsets: Offsets) -> _ReadAhead:
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead.key == _key(offsets):
            return ahead
        return _ReadAhead(_key(offsets), self._last_seq_of(offsets) + 1, {p: deque() for p in offsets},
                          dict(offsets))

    def _last_seq_of(self, offsets: Offsets) -> int:
        return self.last_seq({partition_source(p): o for p, o in offsets.items()})

    def _take(self, state: _ReadAhead) -> SourcedRecord | None:
        for partition, buffer in state.buffers.items():
            if not buffer:
                continue
            offset, record = buffer[0]
            if record.id < state.next_seq:
                raise IntegrityViolationError(
                    f"seq {record.id} at {partition_source(partition)} offset {offset} repeats or precedes "
                    f"seq {state.next_seq - 1}, already applied")
            if record.id == state.next_seq:
                buffer.popleft()
                state.next_seq += 1
                return SourcedRecord(partition_source(partition), offset + 1, record)
        return None

    def _fetch(self, state: _ReadAhead, limit: int) -> bool:
        """Reads on in the partitions with nothing buffered (only they can hold the next seq)."""
        empty = {p: state.cursor[p] for p, buffer in state.buffers.items() if not buffer}
        fetched = self._reader.read(empty, limit) if empty else []
        for partition, offset, record in fetched:
            state.buffers[partition].append((offset, record))
        for partition in {partition for partition, _, _ in fetched}:
            state.cursor[partition] = self._reader.position(partition)
        return bool(fetched)

    def _seq_before(self, partition: int, offset: int, window: int = 1) -> int:
        """The seq of the last record of ``partition`` before ``offset`` (0: none); looks ``window``
        offsets back first, then further."""
        while True:
            start, found = max(offset - window, 0), 0
            at = start
            while at < offset:
                fetched = self._reader.read({partition: at}, window)
                found = max([found, *(record.id for _, o, record in fetched if o < offset)])
                if not fetched:
                    break
                at = self._reader.position(partition)
            if found or start == 0:
                return found
            window *= 16

    def _remember(self, key: Key, seq: int) -> None:
        self._known[key] = seq
        while len(self._known) > 64:
            del self._known[next(iter(self._known))]


class PartitionSource(TopicSource):
    """Only ``partitions`` of the topic, each read in offset order, for a worker that owns them
    (``projections.shards``): no order across partitions, so no wait for another partition's seqs.

    ``last_seq`` and ``lag_by_source`` cover the owned partitions only; ``head`` is the topic's.
    """

    def __init__(self, reader: PartitionReader, partitions: Sequence[int], settle_s: float = SETTLE_S) -> None:
        super().__init__(reader, settle_s)
        self.owned = tuple(sorted(set(partitions)))

    def read(self, positions: Mapping[str, int], limit: int) -> list[SourcedRecord]:
        fetched = self._reader.read(self._offsets(positions), limit)
        return [SourcedRecord(partition_source(p), offset + 1, record) for p, offset, record in fetched]

    def lag_by_source(self, positions: Mapping[str, int]) -> dict[str, int]:
        offsets, ends = self._offsets(positions), self._reader.end_offsets()
        return {partition_source(p): max(self._seq_before(p, ends[p], window=2) - self._seq_before(p, at), 0)
                for p, at in sorted(offsets.items())}

    def _offsets(self, positions: Mapping[str, int]) -> Offsets:
        unknown = sorted(set(self.owned) - set(self._reader.partitions()))
        if unknown:
            raise InvalidInputError(f"the topic has no partition(s) {unknown}")
        return {p: positions.get(partition_source(p), 0) for p in self.owned}
