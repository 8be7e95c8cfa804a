"""The ``KafkaIndex`` contract (``ledger.eventlog.kafka.index``), run against every implementation:
SQLite and PostgreSQL (a real server, ``tests.postgres_fixtures``, a fresh database per test).

Unit level: rows are built here as the writer would build them, no broker is involved. To add an
implementation, add an opener to ``OPENERS``: it returns a fresh, empty index with its tables created.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import cast
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import OperationalError
from eventsourcing.sqlite import SQLiteDatastore

from ledger.errors import IntegrityViolationError
from ledger.eventlog.base import GENESIS_HASH, LogRecord, canonical_id
from ledger.eventlog.kafka.index import IndexRow, KafkaIndex, SQLiteKafkaIndex
from ledger.eventlog.kafka.pgindex import PostgresKafkaIndex
from ledger.integrity.chain import first_break, link_hash
from tests.postgres_fixtures import fresh_database

Opener = Callable[[Path, ExitStack, pytest.FixtureRequest], KafkaIndex]


def sqlite_index(path: Path, stack: ExitStack, _: pytest.FixtureRequest) -> KafkaIndex:
    datastore = SQLiteDatastore(str(path / "index.db"))
    stack.callback(datastore.close)
    index = SQLiteKafkaIndex(datastore)
    index.create_table()
    return index


def postgres_index(path: Path, stack: ExitStack, request: pytest.FixtureRequest) -> KafkaIndex:
    """A fresh database for each index opened (``fresh()`` twice gives two separate indexes)."""
    server = request.getfixturevalue("postgres_server")
    url = stack.enter_context(fresh_database(server))
    index = PostgresKafkaIndex(url)
    stack.callback(index.close)
    index.create_table()
    return index


OPENERS: dict[str, Opener] = {"postgres": postgres_index, "sqlite": sqlite_index}
MARKS = {"postgres": [pytest.mark.postgres]}


@pytest.fixture(params=[pytest.param(name, id=name, marks=MARKS.get(name, [])) for name in sorted(OPENERS)])
def open_index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], KafkaIndex]]:
    """Opens fresh, empty indexes of one implementation (each its own storage)."""
    opener = OPENERS[request.param]
    with ExitStack() as stack:
        count = 0

        def fresh() -> KafkaIndex:
            nonlocal count
            count += 1
            folder = tmp_path / f"index-{count}"
            folder.mkdir()
            return opener(folder, stack, request)

        yield fresh


@pytest.fixture
def index(open_index: Callable[[], KafkaIndex]) -> KafkaIndex:
    return open_index()


def chain(specs: list[tuple[UUID, int]], after: tuple[int, str] = (0, GENESIS_HASH),
          event_ids: bool = True) -> list[IndexRow]:
    """Rows for (stream, version) pairs that link to the chain after ``after`` (seq, hash)."""
    seq, prev_hash = after
    rows = []
    for stream, version in specs:
        seq += 1
        topic, state = "tests:Event", f"{stream}-{version}".encode()
        event_id = str(uuid4()) if event_ids else None
        digest = link_hash(prev_hash, seq, canonical_id(stream), version, topic, event_id, state)
        rows.append(IndexRow(seq, stream, version, topic, state, event_id, prev_hash, digest))
        prev_hash = digest
    return rows


def as_row(record: LogRecord) -> IndexRow:
    return IndexRow(record.id, record.originator_id, record.originator_version, record.topic, record.state,
                    record.event_id, record.prev_hash, record.hash)


def records(index: KafkaIndex, start: int | None = None, *, stop: int | None = None,
            inclusive_of_start: bool = True) -> list[LogRecord]:
    """``select_notifications``: the index's records are ``LogRecord``s."""
    found = list(index.select_notifications(start, 10_000, stop, inclusive_of_start=inclusive_of_start))
    assert all(isinstance(r, LogRecord) for r in found)
    return cast(list[LogRecord], found)


def content(index: KafkaIndex) -> tuple[list[IndexRow], dict[int, int], tuple[int, str]]:
    """Every row, the positions and the head: what a rebuild must reproduce."""
    return [as_row(r) for r in records(index)], index.positions(), index.head()


def test_an_empty_index_has_the_genesis_head_no_positions_and_no_rows(index: KafkaIndex) -> None:
    stream = uuid4()
    assert index.head() == (0, GENESIS_HASH)
    assert index.positions() == {}
    assert index.max_notification_id() is None
    assert records(index) == []
    assert (index.select_stream(stream), list(index.select_events(stream))) == ([], [])
    assert index.find_event(str(uuid4())) is None
    assert index.taken([(stream, 1)], [str(uuid4())]) == ([False], [False])
    assert index.taken([], []) == ([], [])


def test_appended_rows_read_back_in_seq_order_with_their_hashes(index: KafkaIndex) -> None:
    a, b = uuid4(), uuid4()
    rows = chain([(a, 1), (b, 1), (a, 2)])
    index.append(rows, {0: 3})
    assert [as_row(r) for r in records(index)] == rows
    assert index.max_notification_id() == 3
    assert [r.id for r in records(index, 1, inclusive_of_start=False)] == [2, 3]
    assert [r.id for r in records(index, 2)] == [2, 3]
    assert [r.id for r in records(index, None, stop=2)] == [1, 2]
    assert [r.id for r in index.select_notifications(None, 2)] == [1, 2]
    assert first_break(records(index)) is None


def test_per_stream_reads_keep_version_order_and_the_global_seq(index: KafkaIndex) -> None:
    a, b = uuid4(), uuid4()
    index.append(chain([(a, 1), (b, 1), (a, 2), (b, 2), (a, 3)]), {0: 5})
    assert [(r.originator_id, r.originator_version, r.id) for r in index.select_stream(a)] == [
        (a, 1, 1), (a, 2, 3), (a, 3, 5),
    ]
    assert [(e.originator_id, e.originator_version, e.state) for e in index.select_events(b)] == [
        (b, 1, f"{b}-1".encode()), (b, 2, f"{b}-2".encode()),
    ]
    assert [e.originator_version for e in index.select_events(a, gt=1)] == [2, 3]
    assert [e.originator_version for e in index.select_events(a, lte=2)] == [1, 2]
    assert [e.originator_version for e in index.select_events(a, desc=True, limit=2)] == [3, 2]


def test_head_is_the_last_seq_and_its_hash(index: KafkaIndex) -> None:
    first = chain([(uuid4(), 1), (uuid4(), 1)])
    index.append(first, {0: 2})
    assert index.head() == (2, first[-1].hash)
    second = chain([(uuid4(), 1)], after=index.head())
    index.append(second, {0: 3})
    assert index.head() == (3, second[0].hash)
    assert second[0].prev_hash == first[-1].hash


def test_positions_are_kept_per_partition_and_only_move_forward(index: KafkaIndex) -> None:
    rows = chain([(uuid4(), 1), (uuid4(), 1)])
    index.append(rows[:1], {0: 1, 1: 0})
    index.append(rows[1:], {1: 4})
    assert index.positions() == {0: 1, 1: 4}
    index.append([], {0: 3, 2: 2})  # only transaction markers read: positions advance without rows
    assert index.positions() == {0: 3, 1: 4, 2: 2}
    index.append([], {0: 2, 1: 1})  # a slower reader of the same index cannot move them back
    assert index.positions() == {0: 3, 1: 4, 2: 2}
    assert index.max_notification_id() == 2


def test_the_same_rows_appended_again_are_ignored(index: KafkaIndex) -> None:
    stream = uuid4()
    rows = chain([(stream, 1), (stream, 2), (stream, 3)])
    index.append(rows[:2], {0: 2})
    before = content(index)
    index.append(rows[:2], {0: 2})  # a second process catching up the same records
    assert content(index) == before
    index.append(rows[1:], {0: 3})  # overlapping: seq 2 again, seq 3 new
    assert content(index) == (rows, {0: 3}, (3, rows[-1].hash))


def test_a_second_different_record_for_an_indexed_seq_is_refused_and_nothing_is_indexed(
    index: KafkaIndex,
) -> None:
    rows = chain([(uuid4(), 1), (uuid4(), 1)])
    index.append(rows, {0: 2})
    before = content(index)
    forged = chain([(uuid4(), 1)], after=(1, rows[0].hash))[0]  # another record claiming seq 2
    new = chain([(uuid4(), 1)], after=index.head())
    with pytest.raises(IntegrityViolationError, match="second, different record for seq 2"):
        index.append([forged, *new], {0: 4})
    assert content(index) == before


DAMAGES: dict[str, Callable[[IndexRow], IndexRow]] = {
    "prev_hash": lambda row: replace(row, prev_hash="0" * 64),  # links to another record
    "hash": lambda row: replace(row, hash="0" * 64),  # a hash not computed over the record
    "state": lambda row: replace(row, state=b"tampered"),  # the bytes changed after hashing
}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_row_that_does_not_link_to_the_chain_is_refused_with_its_whole_batch(
    index: KafkaIndex, damage: str
) -> None:
    index.append(chain([(uuid4(), 1)]), {0: 1})
    before = content(index)
    good, bad = chain([(uuid4(), 1), (uuid4(), 1)], after=index.head())
    broken = DAMAGES[damage](bad)
    with pytest.raises(IntegrityViolationError, match="record at seq 3 in the topic does not link to the chain"):
        index.append([good, broken], {0: 3})
    assert content(index) == before


def test_a_row_that_leaves_a_gap_is_refused_and_nothing_is_indexed(index: KafkaIndex) -> None:
    rows = chain([(uuid4(), 1), (uuid4(), 1), (uuid4(), 1)])
    with pytest.raises(OperationalError, match="gap: seq 3 follows 1"):
        index.append([rows[0], rows[2]], {0: 3})
    assert content(index) == ([], {}, (0, GENESIS_HASH))


def test_find_event_returns_the_record_with_its_seq(index: KafkaIndex) -> None:
    a = uuid4()
    rows = chain([(a, 1), (a, 2)])
    index.append(rows, {0: 2})
    found = index.find_event(rows[1].event_id or "")
    assert found is not None and as_row(found) == rows[1]
    assert index.find_event(str(uuid4())) is None


def test_taken_answers_each_stream_version_and_event_id_in_order(index: KafkaIndex) -> None:
    a, b = uuid4(), uuid4()
    rows = chain([(a, 1), (b, 1), (a, 2)])
    index.append(rows, {0: 3})
    ids = [row.event_id or "" for row in rows]
    assert index.taken([(a, 1)], []) == ([True], [])
    assert index.taken([(a, 3), (b, 1), (uuid4(), 1), (a, 2), (b, 2)], [str(uuid4()), ids[2], ids[0]]) == (
        [False, True, False, True, False], [False, True, True])


def test_taken_answers_more_keys_than_one_query_holds(index: KafkaIndex) -> None:
    streams = [uuid4() for _ in range(450)]
    rows = chain([(s, 1) for s in streams[::2]])
    index.append(rows, {0: len(rows)})
    keys = [(s, v) for s in streams for v in (1, 2)]  # 900 keys: three chunks
    ids = [row.event_id or "" for row in rows] + [str(uuid4()) for _ in range(500)]
    keys_taken, ids_taken = index.taken(keys, ids)
    assert keys_taken == [v == 1 and n % 2 == 0 for n, s in enumerate(streams) for v in (1, 2)]
    assert ids_taken == [True] * len(rows) + [False] * 500


def test_rows_without_event_ids_are_indexed_and_not_found_by_id(index: KafkaIndex) -> None:
    rows = chain([(uuid4(), 1), (uuid4(), 1)], event_ids=False)
    index.append(rows, {0: 2})
    assert [r.event_id for r in records(index)] == [None, None]
    assert index.head() == (2, rows[-1].hash)


def test_an_index_rebuilt_from_the_rows_alone_has_identical_content(open_index: Callable[[], KafkaIndex]) -> None:
    original = open_index()
    streams = [uuid4() for _ in range(3)]
    specs = [(stream, version) for version in range(1, 5) for stream in streams]
    rows = chain(specs)
    for start, end, offset in ((0, 5, 5), (5, 9, 10), (9, 12, 14)):  # in batches, as commits arrive
        original.append(rows[start:end], {0: offset, 1: offset // 2})
    rebuilt = open_index()
    rebuilt.append([as_row(r) for r in records(original)], original.positions())
    assert content(rebuilt) == content(original) == (rows, {0: 14, 1: 7}, (12, rows[-1].hash))
    assert all(rebuilt.select_stream(s) == original.select_stream(s) for s in streams)
