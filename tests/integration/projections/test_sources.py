"""Log sources: the topic source's merge of partitions into seq order, on an in-memory topic."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping

import pytest

from ledger.application import Ledger
from ledger.errors import IntegrityViolationError, InvalidInputError, UnavailableError
from ledger.eventlog.base import LogRecord
from projections.sources import EmbeddedSource, PartitionSource, SourcedRecord, TopicSource, source_for
from tests.integration.projections.support import Hunan


def record(seq: int) -> LogRecord:
    return LogRecord(id=seq, originator_id=uuid.uuid4(), originator_version=1, topic="t", state=b"",
                     event_id=None, prev_hash="", hash="")


class MemoryTopic:
    """A topic in memory: per partition, the seq at each offset (``None``: a transaction marker).

    ``visible`` is each partition's last stable offset (what ``read_committed`` may see).
    """

    def __init__(self, partitions: dict[int, list[int | None]]) -> None:
        self.logs = partitions
        self.visible = {p: len(log) for p, log in partitions.items()}
        self.reads = 0
        self._at: dict[int, int] = {}

    def partitions(self) -> list[int]:
        return sorted(self.logs)

    def end_offsets(self) -> dict[int, int]:
        return dict(self.visible)

    def position(self, partition: int) -> int:
        return self._at[partition]

    def read(self, positions: Mapping[int, int], max_records: int = 500) -> list[tuple[int, int, LogRecord]]:
        self.reads += 1
        found: list[tuple[int, int, LogRecord]] = []
        for partition, offset in sorted(positions.items()):
            at = offset
            while at < self.visible[partition] and len(found) < max_records:
                seq, at = self.logs[partition][at], at + 1
                if seq is not None:
                    found.append((partition, at - 1, record(seq)))
            self._at[partition] = at
        return found

    def close(self) -> None:
        self.closed = True


def seqs(found: list[SourcedRecord]) -> list[int]:
    return [r.seq for r in found]


def test_partitions_are_merged_in_seq_order_with_next_offsets_as_positions() -> None:
    topic = MemoryTopic({0: [1, None, 3, None], 1: [2, None, 4, 5, None]})
    source = TopicSource(topic)
    found = source.read({}, 10)
    assert [(r.seq, r.source, r.position) for r in found] == [
        (1, "kafka:0", 1), (2, "kafka:1", 1), (3, "kafka:0", 3), (4, "kafka:1", 3), (5, "kafka:1", 4)]
    positions = {"kafka:0": 3, "kafka:1": 4}
    assert source.read(positions, 10) == []
    assert (source.last_seq(positions), source.head()) == (5, 5)


def test_small_batches_continue_where_the_last_one_stopped_even_in_a_new_process() -> None:
    topic = MemoryTopic({0: [1, 2, None, 5, None], 1: [3, 4, None, 6, None]})
    source, positions, batches = TopicSource(topic), dict[str, int](), list[list[int]]()
    while found := source.read(positions, 2):
        batches.append(seqs(found))
        positions.update({r.source: r.position for r in found})
    assert batches == [[1, 2], [3, 4], [5, 6]]
    restarted = TopicSource(topic)  # knows nothing but the stored positions
    assert restarted.last_seq({"kafka:0": 2, "kafka:1": 1}) == 3
    assert seqs(restarted.read({"kafka:0": 2, "kafka:1": 1}, 10)) == [4, 5, 6]
    assert restarted.last_seq({}) == 0 and restarted.read({"kafka:0": 4, "kafka:1": 4}, 10) == []


def test_a_partition_that_becomes_readable_late_is_waited_for_not_skipped() -> None:
    topic = MemoryTopic({0: [1, None, 3, None], 1: [2, None]})
    topic.visible[1] = 0  # seq 2's transaction marker has not reached partition 1 yet
    source = TopicSource(topic, settle_s=5)
    assert seqs(source.read({}, 10)) == [1]  # seq 3 is readable but must wait for seq 2
    threading.Timer(0.1, lambda: topic.visible.update({1: 2})).start()
    assert seqs(source.read({"kafka:0": 1}, 10)) == [2, 3]


def test_a_seq_that_never_becomes_readable_is_unavailable_after_the_settle_time() -> None:
    topic = MemoryTopic({0: [1, None, 3, None], 1: [2, None]})
    topic.visible[1] = 0
    source = TopicSource(topic, settle_s=0.05)
    source.read({}, 10)
    with pytest.raises(UnavailableError, match="seq 2 is not readable"):
        source.read({"kafka:0": 1}, 10)


def test_a_gap_in_the_sequence_is_an_integrity_violation() -> None:
    source = TopicSource(MemoryTopic({0: [1, 3], 1: [4]}))
    assert seqs(source.read({}, 10)) == [1]
    with pytest.raises(IntegrityViolationError, match="seq 2 is missing"):
        source.read({"kafka:0": 1}, 10)


def test_the_embedded_source_is_the_ledgers_own_log(ledger: Ledger) -> None:
    Hunan(ledger).community("CS-YL-001")
    source = source_for(ledger)
    assert isinstance(source, EmbeddedSource)
    found = source.read({}, 10)
    assert [(r.source, r.position, r.seq) for r in found] == [("log", 1, 1)]
    assert source.read({"log": 1}, 10) == [] and source.last_seq({"log": 1}) == source.head() == 1


def test_a_partition_owner_reads_its_partitions_in_offset_order_and_says_what_is_covered() -> None:
    topic = MemoryTopic({0: [1, None, 3, None], 1: [2, None, 4, 5, None], 2: [6, None]})
    owner = PartitionSource(topic, [1, 2])
    assert [(r.seq, r.source, r.position) for r in owner.read({}, 10)] == [
        (2, "kafka:1", 1), (4, "kafka:1", 3), (5, "kafka:1", 4), (6, "kafka:2", 1)]
    assert owner.read({"kafka:1": 4, "kafka:2": 1}, 10) == []
    assert owner.lag_by_source({"kafka:1": 1}) == {"kafka:1": 3, "kafka:2": 6}
    reader = TopicSource(MemoryTopic(topic.logs))  # what an API process makes of the owners' positions
    owners_at = {"kafka:1": 4, "kafka:2": 1}  # partition 0's owner has applied nothing yet
    assert (reader.last_seq(owners_at), reader.covered_seq(owners_at)) == (6, 0)
    assert reader.covered_seq({**owners_at, "kafka:0": 1}) == 2  # seq 3 still missing
    assert reader.covered_seq({**owners_at, "kafka:0": 3}) == 6
    ordered = TopicSource(MemoryTopic(topic.logs))
    ordered.read({}, 3)  # seqs 1-3 in seq order: a prefix, known without looking
    reads = ordered._reader.reads  # type: ignore[attr-defined]
    assert ordered.covered_seq({"kafka:0": 3, "kafka:1": 1}) == 3 and ordered._reader.reads == reads  # type: ignore[attr-defined]
    with pytest.raises(InvalidInputError, match=r"no partition\(s\) \[7\]"):
        PartitionSource(topic, [7]).read({}, 10)
