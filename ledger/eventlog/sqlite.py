"""The embedded event log: the ``eventsourcing`` SQLite persistence module, extended.

Select it with ``PERSISTENCE_MODULE=ledger.eventlog.sqlite:LedgerSQLiteFactory``. The ``stored_events`` table keeps
the library's columns and adds ``event_id`` (unique), ``prev_hash`` and ``hash``; its rowid is
the global ``seq``. Appends run in ``BEGIN IMMEDIATE`` transactions, one writer at a time, so
``seq`` stays dense and each hash links to the row before it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Notification, OperationalError, StoredEvent
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteFactory,
)

from ledger.eventlog import tree
from ledger.eventlog.base import GENESIS_HASH, LogRecord, Row, canonical_id, share_digits
from ledger.integrity import merkle
from ledger.integrity.chain import link_hash

T = TypeVar("T")


class LedgerSQLiteRecorder(SQLiteApplicationRecorder):
    """Application recorder with event ids, a dense sequence and the hash chain."""

    checks_unchanged = True
    """``insert_events(unchanged={stream: version})`` refuses (``IntegrityError``, nothing written) when
    one of those streams holds a later version, checked in the write transaction."""

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name)
        self._write_lock = threading.Lock()
        table = self.events_table_name
        self.insert_events_statement = f"INSERT INTO {table} (rowid, originator_id, originator_version, topic, state, event_id, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?)"  # noqa: E501
        self._head_statement = f"SELECT rowid, hash FROM {table} ORDER BY rowid DESC LIMIT 1"
        self._moved_statement = f"SELECT 1 FROM {table} WHERE originator_id=? AND originator_version>? LIMIT 1"
        self._frontier: tuple[int, tree.Nodes] = (0, {})
        """The Merkle tree's right edge at a size, as this process last committed it (read instead of
        selected when the log still has that size at the next append)."""
        self._record_columns = "rowid, originator_id, originator_version, topic, state, event_id, prev_hash, hash"

    def construct_create_table_statements(self) -> list[str]:
        return [
            f"CREATE TABLE IF NOT EXISTS {self.events_table_name} ("
            "originator_id TEXT NOT NULL, originator_version INTEGER NOT NULL, topic TEXT NOT NULL, "
            "state BLOB NOT NULL, event_id TEXT UNIQUE, prev_hash TEXT NOT NULL, hash TEXT NOT NULL, "
            "PRIMARY KEY (originator_id, originator_version))",
            tree.CREATE,
        ]

    def create_table(self) -> None:
        """Creates the tables, moves a tree stored in the first layout over (``tree.migrate``), then fills
        in the Merkle tree of a log written before it existed."""
        super().create_table()
        with self._immediate() as c:
            tree.migrate(c)
            head = self._head_seq(c)
            if tree.size(c) < head:
                c.execute(f"SELECT rowid, hash FROM {self.events_table_name} WHERE rowid>? ORDER BY rowid",
                          (tree.size(c),))
                tree.fill(c, head, [(int(seq), str(digest)) for seq, digest in c.fetchall()])

    def _head_seq(self, c: SQLiteCursor) -> int:
        c.execute(self._head_statement)
        row = c.fetchone()
        return int(row[0]) if row else 0

    def raw_rows(self, after: int = 0, batch: int = 10_000) -> Iterator[Row]:
        """Records as ``Row`` tuples, the stream id put in canonical form by SQLite itself."""
        stream = ("CASE WHEN length(originator_id) = 32 THEN substr(originator_id, 1, 8) || '-' || "
                  "substr(originator_id, 9, 4) || '-' || substr(originator_id, 13, 4) || '-' || "
                  "substr(originator_id, 17, 4) || '-' || substr(originator_id, 21) ELSE originator_id END")
        select = (f"SELECT rowid, {stream}, originator_version, topic, state, event_id, prev_hash, hash "
                  f"FROM {self.events_table_name} WHERE rowid > ? ORDER BY rowid LIMIT ?")
        while True:
            with self.datastore.transaction(commit=False) as c:
                c.execute(select, (after, batch))
                rows = c.fetchall()
            if not rows:
                return
            yield from rows
            after = rows[-1][0]

    def merkle(self, work: Callable[[merkle.Node, int], T]) -> T:
        """Runs ``work(node, tree_size)`` on one consistent read of the stored tree."""
        with self.datastore.transaction(commit=False) as c:
            return work(tree.reader(c), tree.size(c))

    def _immediate(self) -> AbstractContextManager[SQLiteCursor]:
        return immediate(self.datastore, self._write_lock)

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        grown: list[tuple[int, tree.Nodes]] = []
        with self._immediate() as cursor:
            seqs = self._insert_events(cursor, stored_events, grown=grown, **kwargs)
        if grown and grown[0][0] > self._frontier[0]:  # committed: the next append may read it
            self._frontier = grown[0]
        return seqs

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], *, event_ids: Sequence[str | None] = (),
        unchanged: Mapping[UUID, int] | None = None, grown: list[tuple[int, tree.Nodes]] | None = None, **_: Any
    ) -> Sequence[int] | None:
        for stream_id, version in (unchanged or {}).items():
            c.execute(self._moved_statement, (stream_id.hex, version))
            if c.fetchone() is not None:
                raise IntegrityError(f"stream {stream_id} moved past version {version} since it was read")
        c.execute(self._head_statement)
        head = c.fetchone()
        seq, prev_hash = (head[0], head[1]) if head else (0, GENESIS_HASH)
        ids = list(event_ids) + [None] * (len(stored_events) - len(event_ids))
        rows = []
        for stored, event_id in zip(stored_events, ids, strict=True):
            seq += 1
            stream = canonical_id(stored.originator_id)
            digest = link_hash(prev_hash, seq, stream, stored.originator_version, stored.topic, event_id, stored.state)
            key = stored.originator_id.hex if isinstance(stored.originator_id, UUID) else stored.originator_id
            rows.append((seq, key, stored.originator_version, stored.topic, stored.state, event_id, prev_hash, digest))
            prev_hash = digest
        c.executemany(self.insert_events_statement, rows)
        if rows:
            size, edge = self._frontier
            known = edge if size == rows[0][0] - 1 else None
            made = tree.add(c, rows[0][0], [row[7] for row in rows], known=known) or {}  # in the same transaction
            if grown is not None:
                grown.append((rows[-1][0], tree.frontier(rows[-1][0], {**(known or {}), **made})))
        return [row[0] for row in rows]

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        clauses: list[str] = []
        params: list[Any] = []
        if start is not None:
            clauses.append("rowid>=?" if inclusive_of_start else "rowid>?")
            params.append(start)
        if stop is not None:
            clauses.append("rowid<=?")
            params.append(stop)
        if topics:
            clauses.append(f"topic IN ({','.join('?' * len(topics))})")
            params.extend(topics)
        where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
        return self._records(f"{where}ORDER BY rowid LIMIT ?", [*params, limit])

    def select_share(self, after: int, stop: int, limit: int, share: int, shares: int) -> list[LogRecord]:
        """Records with ``after < seq <= stop`` of the streams in ``share`` of ``shares`` (``stream_share``), at
        most ``limit``, in ``seq`` order: SQLite skips the other streams' rows (ids are stored as lowercase hex)."""
        return self._records("WHERE rowid>? AND rowid<=? AND instr(?, substr(originator_id, 32, 1))>0 "
                             "ORDER BY rowid LIMIT ?", [after, stop, share_digits(share, shares), limit])

    def find_event(self, event_id: str) -> LogRecord | None:
        found = self._records("WHERE event_id=?", [event_id])
        return found[0] if found else None

    def select_stream(
        self, originator_id: UUID | str, *, gt: int | None = None, limit: int | None = None
    ) -> list[LogRecord]:
        key = originator_id.hex if isinstance(originator_id, UUID) else originator_id
        return self._records("WHERE originator_id=? AND originator_version>? ORDER BY originator_version LIMIT ?",
                             [key, -1 if gt is None else gt, -1 if limit is None else limit])

    def record_at(self, originator_id: UUID | str, version: int) -> LogRecord | None:
        key = originator_id.hex if isinstance(originator_id, UUID) else originator_id
        found = self._records("WHERE originator_id=? AND originator_version=?", [key, version])
        return found[0] if found else None

    def _records(self, tail: str, params: Sequence[Any]) -> list[LogRecord]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT {self._record_columns} FROM {self.events_table_name} {tail}", params)
            return [
                LogRecord(
                    id=row[0],
                    originator_id=self.convert_originator_id(row[1]),
                    originator_version=row[2],
                    topic=row[3],
                    state=row[4],
                    event_id=row[5],
                    prev_hash=row[6],
                    hash=row[7],
                )
                for row in c.fetchall()
            ]


class LedgerSQLiteFactory(SQLiteFactory):
    application_recorder_class = LedgerSQLiteRecorder


@contextmanager
def immediate(datastore: SQLiteDatastore, lock: AbstractContextManager[Any]) -> Iterator[SQLiteCursor]:
    """One write transaction at a time, taking SQLite's write lock up front (``BEGIN IMMEDIATE``), so
    other processes writing the same file wait instead of failing mid-transaction. SQLite errors
    become the library's ``IntegrityError`` / ``OperationalError``; anything else rolls back too."""
    with lock, datastore.get_connection(commit=True) as conn:
        cursor = conn.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE")
            yield cursor
            conn.commit()
        except sqlite3.IntegrityError as error:
            conn.rollback()
            raise IntegrityError(error) from error
        except sqlite3.OperationalError as error:
            conn.rollback()
            raise OperationalError(error) from error
        except BaseException:
            conn.rollback()
            raise
