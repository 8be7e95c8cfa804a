"""The local index of the Kafka event log: a cache of the topic that the recorder holds.

It holds what Kafka cannot answer quickly: per-stream versions and reads, the event-id table
and the dense global sequence, plus the next offset to read per partition. Everything in it can
be rebuilt from the topic alone (``ledger index rebuild``). Rows are written with ``INSERT OR
IGNORE`` semantics: the same ``seq`` always carries the same bytes, so two processes catching up
the same index cannot disagree.

``KafkaIndex`` is the port (what the recorder and the writer need); ``SQLiteKafkaIndex`` keeps it
in one SQLite file, in the same ``stored_events`` table as the embedded log.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from uuid import UUID

from eventsourcing.persistence import Notification, OperationalError, StoredEvent
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore

from ledger.errors import IntegrityViolationError
from ledger.eventlog import tree
from ledger.eventlog.base import GENESIS_HASH, LogRecord, Row, canonical_id
from ledger.eventlog.sqlite import LedgerSQLiteRecorder, immediate
from ledger.integrity import merkle
from ledger.integrity.chain import link_hash

T = TypeVar("T")


@dataclass(frozen=True)
class IndexRow:
    """One committed record as the index stores it (and as Kafka headers describe it)."""

    seq: int
    originator_id: UUID | str
    originator_version: int
    topic: str
    state: bytes
    event_id: str | None
    prev_hash: str
    hash: str
    mac: str | None = None  # the writer's MAC from the record's headers (not stored in the index)

    def params(self) -> tuple[Any, ...]:
        key = self.originator_id.hex if isinstance(self.originator_id, UUID) else self.originator_id
        return (self.seq, key, self.originator_version, self.topic, self.state, self.event_id, self.prev_hash,
                self.hash)


class KafkaIndex(Protocol):
    """The index port. ``append`` is the only way rows get in; everything else reads."""

    def create_table(self) -> None:
        """Creates the index's tables if missing."""

    def append(self, rows: list[IndexRow], positions: Mapping[int, int]) -> None:
        """Adds committed rows in ``seq`` order and advances the partition positions, atomically.

        A row for a ``seq`` already indexed is skipped if it is the same record (same hash) and an
        ``IntegrityViolationError`` naming the seq if not; every new row must link to the chain
        (``prev_hash`` and a recomputed ``hash``), else ``IntegrityViolationError``; a row that
        would leave a gap in the sequence is an ``OperationalError``. On any error nothing of the
        call is indexed. Positions only move forward.
        """

    def head(self) -> tuple[int, str]:
        """The last ``seq`` and its hash (0 and the genesis hash when empty)."""

    def positions(self) -> dict[int, int]:
        """Per partition, the next offset to read."""

    def taken(
        self, keys: Sequence[tuple[UUID | str, int]], event_ids: Sequence[str] = ()
    ) -> tuple[list[bool], list[bool]]:
        """For each (stream, version) of ``keys`` and each of ``event_ids``, in their order, whether it
        is already indexed: the writer asks once per transaction, for every save in it."""

    def select_notifications(
        self, start: int | None, limit: int, stop: int | None = None, topics: Sequence[str] = (), *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        """Records (``LogRecord``) in ``seq`` order, as ``ApplicationRecorder.select_notifications``."""

    def select_events(
        self, originator_id: UUID | str, *, gt: int | None = None, lte: int | None = None, desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        """One stream's events, as ``AggregateRecorder.select_events``."""

    def max_notification_id(self) -> int | None:
        """The last ``seq``, ``None`` when empty."""

    def find_event(self, event_id: str) -> LogRecord | None:
        """The record with this event id."""

    def select_stream(
        self, originator_id: UUID | str, *, gt: int | None = None, limit: int | None = None
    ) -> list[LogRecord]:
        """One stream's records in version order, with their ``seq`` and hashes: those with a version
        above ``gt``, at most ``limit``."""

    def record_at(self, originator_id: UUID | str, version: int) -> LogRecord | None:
        """One stream's record at a version (None if there is none)."""

    def merkle(self, work: Callable[[merkle.Node, int], T]) -> T:
        """Runs ``work(node, tree_size)`` on one consistent read of the stored Merkle tree."""

    def raw_rows(self, after: int = 0, batch: int = 10_000) -> Iterator[Row]:
        """Every record after ``after`` as ``Row`` tuples, in seq order."""


def fresh_rows(rows: Sequence[IndexRow], head: tuple[int, str], hash_at: Callable[[int], str | None]) -> list[IndexRow]:
    """The rows of ``rows`` that the index does not hold yet, checked as ``KafkaIndex.append`` promises.

    ``head`` is the index's last ``(seq, hash)``; ``hash_at(seq)`` the stored hash of an indexed seq.
    A row for an indexed seq must be the same record (same hash); every new row must follow the one
    before it with no gap and link to the chain (``prev_hash`` and a recomputed ``hash``).
    """
    last, last_hash = head
    fresh: dict[int, IndexRow] = {}
    for row in rows:
        if row.seq <= last:
            known = hash_at(row.seq) if row.seq <= head[0] else fresh[row.seq].hash
            if known != row.hash:
                raise IntegrityViolationError(f"the topic holds a second, different record for seq {row.seq}")
            continue
        if row.seq > last + 1:
            raise OperationalError(f"the topic has a gap: seq {row.seq} follows {last}")
        expected = link_hash(last_hash, row.seq, canonical_id(row.originator_id), row.originator_version,
                             row.topic, row.event_id, row.state)
        if row.prev_hash != last_hash or row.hash != expected:
            raise IntegrityViolationError(f"the record at seq {row.seq} in the topic does not link to the chain")
        last, last_hash = row.seq, row.hash
        fresh[row.seq] = row
    return list(fresh.values())


CHUNK = 400
"""Keys or event ids per ``taken`` query (SQLite bounds the parameters of one statement)."""

POSITIONS_TABLE = ("CREATE TABLE IF NOT EXISTS kafka_positions "
                   "(partition INTEGER PRIMARY KEY, next_offset INTEGER NOT NULL)")


class SQLiteKafkaIndex:
    """The index in one SQLite file: the embedded log's ``stored_events`` table plus ``kafka_positions``.

    The table's schema and its reads are those of a ``LedgerSQLiteRecorder`` held inside (so the
    file is the embedded log's format); its write path is never used: rows get in by ``append``.
    """

    def __init__(self, datastore: SQLiteDatastore) -> None:
        self.datastore = datastore
        self._events = LedgerSQLiteRecorder(datastore)
        self._table = self._events.events_table_name
        self._insert_or_ignore = self._events.insert_events_statement.replace("INSERT INTO", "INSERT OR IGNORE INTO")
        self._head_statement = f"SELECT rowid, hash FROM {self._table} ORDER BY rowid DESC LIMIT 1"
        self._write_lock = threading.Lock()

    def create_table(self) -> None:
        with self.datastore.transaction(commit=True) as c:
            for statement in [*self._events.create_table_statements, POSITIONS_TABLE]:
                c.execute(statement)
        self._events.create_table()  # fills in the tree of an index written before it existed

    def merkle(self, work: Callable[[merkle.Node, int], T]) -> T:
        return self._events.merkle(work)

    def raw_rows(self, after: int = 0, batch: int = 10_000) -> Iterator[Row]:
        return self._events.raw_rows(after, batch)

    # ---- reading -------------------------------------------------------------------------------

    def head(self) -> tuple[int, str]:
        with self.datastore.transaction(commit=False) as c:
            return self._head(c)

    def positions(self) -> dict[int, int]:
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT partition, next_offset FROM kafka_positions")
            return {row[0]: row[1] for row in c.fetchall()}

    def taken(
        self, keys: Sequence[tuple[UUID | str, int]], event_ids: Sequence[str] = ()
    ) -> tuple[list[bool], list[bool]]:
        params = [(stream.hex if isinstance(stream, UUID) else stream, version) for stream, version in keys]
        found_keys: set[tuple[str, int]] = set()
        found_ids: set[str] = set()
        # one statement per CHUNK keys and CHUNK ids, each on its own (rows are only ever added, so
        # no read transaction is needed around them): a JOIN on a VALUES list, the list as the outer
        # loop, probes the primary key once per key (a row-value IN would scan the whole index)
        with self.datastore.get_connection(commit=False) as connection, connection.cursor() as c:
            for start in range(0, max(len(params), len(event_ids)), CHUNK):
                chunk, ids = params[start:start + CHUNK], list(event_ids[start:start + CHUNK])
                parts, args = [], []
                if chunk:
                    parts.append(f"SELECT 0, e.originator_id, e.originator_version FROM "
                                 f"(VALUES {','.join(['(?,?)'] * len(chunk))}) AS k CROSS JOIN {self._table} AS e "
                                 "ON e.originator_id = k.column1 AND e.originator_version = k.column2")
                    args += [value for key in chunk for value in key]
                if ids:
                    parts.append(f"SELECT 1, event_id, 0 FROM {self._table} WHERE event_id IN "
                                 f"({','.join('?' * len(ids))})")
                    args += ids
                c.execute(" UNION ALL ".join(parts), args)
                for kind, name, version in c.fetchall():
                    if kind == 0:
                        found_keys.add((name, version))
                    else:
                        found_ids.add(name)
        return [key in found_keys for key in params], [event_id in found_ids for event_id in event_ids]

    def select_notifications(
        self, start: int | None, limit: int, stop: int | None = None, topics: Sequence[str] = (), *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        return self._events.select_notifications(start, limit, stop, topics, inclusive_of_start=inclusive_of_start)

    def select_events(
        self, originator_id: UUID | str, *, gt: int | None = None, lte: int | None = None, desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        return self._events.select_events(originator_id, gt=gt, lte=lte, desc=desc, limit=limit)

    def max_notification_id(self) -> int | None:
        return self._events.max_notification_id()

    def find_event(self, event_id: str) -> LogRecord | None:
        return self._events.find_event(event_id)

    def select_stream(
        self, originator_id: UUID | str, *, gt: int | None = None, limit: int | None = None
    ) -> list[LogRecord]:
        return self._events.select_stream(originator_id, gt=gt, limit=limit)

    def record_at(self, originator_id: UUID | str, version: int) -> LogRecord | None:
        return self._events.record_at(originator_id, version)

    # ---- writing -------------------------------------------------------------------------------

    def append(self, rows: list[IndexRow], positions: Mapping[int, int]) -> None:
        with self._immediate() as c:
            fresh = fresh_rows(rows, self._head(c), lambda seq: self._hash_at(c, seq))
            c.executemany(self._insert_or_ignore, [row.params() for row in fresh])
            if fresh:
                tree.add(c, fresh[0].seq, [row.hash for row in fresh])  # the tree grows with the index
            c.executemany(
                "INSERT INTO kafka_positions (partition, next_offset) VALUES (?, ?) "
                "ON CONFLICT(partition) DO UPDATE SET next_offset=max(next_offset, excluded.next_offset)",
                list(positions.items()),
            )

    def _hash_at(self, c: SQLiteCursor, seq: int) -> str | None:
        c.execute(f"SELECT hash FROM {self._table} WHERE rowid=?", (seq,))
        known = c.fetchone()
        return None if known is None else str(known[0])

    def _head(self, c: SQLiteCursor) -> tuple[int, str]:
        c.execute(self._head_statement)
        row = c.fetchone()
        return (row[0], row[1]) if row else (0, GENESIS_HASH)

    def _immediate(self) -> AbstractContextManager[SQLiteCursor]:
        return immediate(self.datastore, self._write_lock)  # other processes may catch up the same file
