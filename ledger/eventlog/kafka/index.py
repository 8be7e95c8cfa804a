"""The local index of the Kafka event log: a cache of the topic in one SQLite file.

It holds what Kafka cannot answer quickly: per-stream versions and reads, the event-id table
and the dense global sequence (the same ``stored_events`` table as the embedded log), plus the
next offset to read per partition. Everything in it can be rebuilt from the topic alone
(``ledger index rebuild``). Rows are written with ``INSERT OR IGNORE``: the same ``seq`` always
carries the same bytes, so two processes catching up the same file cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import OperationalError
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore

from ledger.errors import IntegrityViolationError
from ledger.eventlog.base import GENESIS_HASH, canonical_id
from ledger.eventlog.sqlite import LedgerSQLiteRecorder
from ledger.integrity import link_hash


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


class KafkaIndex(LedgerSQLiteRecorder):
    """Read side of the Kafka log; ``append`` is the only way rows get in."""

    def __init__(self, datastore: SQLiteDatastore) -> None:
        super().__init__(datastore)
        self._insert_or_ignore = self.insert_events_statement.replace("INSERT INTO", "INSERT OR IGNORE INTO")

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            "CREATE TABLE IF NOT EXISTS kafka_positions (partition INTEGER PRIMARY KEY, next_offset INTEGER NOT NULL)",
        ]

    def head(self) -> tuple[int, str]:
        """The last ``seq`` and its hash (0 and the genesis hash when empty)."""
        with self.datastore.transaction(commit=False) as c:
            c.execute(self._head_statement)
            row = c.fetchone()
        return (row[0], row[1]) if row else (0, GENESIS_HASH)

    def positions(self) -> dict[int, int]:
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT partition, next_offset FROM kafka_positions")
            return {row[0]: row[1] for row in c.fetchall()}

    def conflicts(self, keys: Iterable[tuple[UUID | str, int]], event_ids: Iterable[str]) -> bool:
        """True when a (stream, version) or an event id is already in the index."""
        table = self.events_table_name
        with self.datastore.transaction(commit=False) as c:
            for stream, version in keys:
                c.execute(f"SELECT 1 FROM {table} WHERE originator_id=? AND originator_version=?",
                          (stream.hex if isinstance(stream, UUID) else stream, version))
                if c.fetchone():
                    return True
            for event_id in event_ids:
                c.execute(f"SELECT 1 FROM {table} WHERE event_id=?", (event_id,))
                if c.fetchone():
                    return True
        return False

    def append(self, rows: list[IndexRow], positions: Mapping[int, int]) -> None:
        """Adds committed rows in ``seq`` order and advances the partition positions, atomically.

        Every new row must link to the chain (``prev_hash`` and a recomputed ``hash``) and a row
        for a ``seq`` already indexed must be the same record: otherwise ``IntegrityViolationError``
        names the seq and nothing is indexed, so the writer refuses to build on a tampered topic.
        Raises ``OperationalError`` when the rows would leave a gap in the sequence.
        """
        with self._immediate() as c:
            self._append(c, rows, positions)

    def _append(self, c: SQLiteCursor, rows: list[IndexRow], positions: Mapping[int, int]) -> None:
        c.execute(self._head_statement)
        head = c.fetchone()
        last, last_hash = (head[0], head[1]) if head else (0, GENESIS_HASH)
        for row in rows:
            if row.seq <= last:
                c.execute(f"SELECT hash FROM {self.events_table_name} WHERE rowid=?", (row.seq,))
                known = c.fetchone()
                if known is None or known[0] != row.hash:
                    raise IntegrityViolationError(f"the topic holds a second, different record for seq {row.seq}")
                continue
            if row.seq > last + 1:
                raise OperationalError(f"the topic has a gap: seq {row.seq} follows {last}")
            expected = link_hash(last_hash, row.seq, canonical_id(row.originator_id), row.originator_version,
                                 row.topic, row.event_id, row.state)
            if row.prev_hash != last_hash or row.hash != expected:
                raise IntegrityViolationError(f"the record at seq {row.seq} in the topic does not link to the chain")
            last, last_hash = row.seq, row.hash
        c.executemany(self._insert_or_ignore, [row.params() for row in rows])
        c.executemany(
            "INSERT INTO kafka_positions (partition, next_offset) VALUES (?, ?) "
            "ON CONFLICT(partition) DO UPDATE SET next_offset=max(next_offset, excluded.next_offset)",
            list(positions.items()),
        )
