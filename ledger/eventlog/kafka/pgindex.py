"""The Kafka log's index in PostgreSQL (``LEDGER_INDEX=postgresql://…``): one index for many processes.

The same port as ``SQLiteKafkaIndex`` (``ledger.eventlog.kafka.index.KafkaIndex``) and the same
contract suite, so API processes on other machines read histories, state and proofs from the index
the writer keeps. Tables (created when missing, in the connection's schema): ``kafka_index_events``
(``seq`` the primary key; one row per committed record, the stream id in canonical text form),
``merkle_tree`` (``ledger.eventlog.tree``) and ``kafka_positions``.

``append`` runs in one transaction under a transaction-scoped advisory lock, so the writer and any
process catching up the same index take turns, and the rows, the tree and the positions move
together or not at all. ``merkle`` and ``raw_rows`` pages read in ``REPEATABLE READ`` transactions.
Database errors become the library's ``OperationalError`` (never with the DSN in the message).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar
from uuid import UUID

import psycopg
from eventsourcing.persistence import Notification, OperationalError, StoredEvent
from psycopg_pool import ConnectionPool, PoolTimeout

from ledger.eventlog import tree
from ledger.eventlog.base import GENESIS_HASH, LogRecord, Row, canonical_id
from ledger.eventlog.kafka.index import IndexRow, fresh_rows
from ledger.integrity import merkle

T = TypeVar("T")
TABLE = "kafka_index_events"
COLUMNS = "seq, originator_id, originator_version, topic, state, event_id, prev_hash, hash"
SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (seq bigint PRIMARY KEY, originator_id text COLLATE \"C\" NOT NULL, "
    "originator_version bigint NOT NULL, topic text NOT NULL, state bytea NOT NULL, event_id text UNIQUE, "
    "prev_hash text NOT NULL, hash text NOT NULL, UNIQUE (originator_id, originator_version))",
    tree.CREATE_POSTGRES,
    "CREATE TABLE IF NOT EXISTS kafka_positions (partition integer PRIMARY KEY, next_offset bigint NOT NULL)",
)
APPEND_LOCK = 0x4C454447  # one advisory lock for every appender of the index ("LEDG")
INSERT = f"INSERT INTO {TABLE} ({COLUMNS}) VALUES (%s,%s,%s,%s,%s,%s,%s,%s)"
POSITION = ("INSERT INTO kafka_positions (partition, next_offset) VALUES (%s, %s) ON CONFLICT (partition) "
            "DO UPDATE SET next_offset = GREATEST(kafka_positions.next_offset, excluded.next_offset)")


def _stream(text: str) -> UUID | str:
    """The stream id as the recorder hands it out: a UUID when it is one (every aggregate's is)."""
    try:
        return UUID(text)
    except ValueError:
        return text


def _record(row: tuple[Any, ...]) -> LogRecord:
    return LogRecord(id=row[0], originator_id=_stream(row[1]), originator_version=row[2], topic=row[3],
                     state=bytes(row[4]), event_id=row[5], prev_hash=row[6], hash=row[7])


class PostgresKafkaIndex:
    """The index port on a PostgreSQL database; ``url`` is a ``postgresql://`` URL (kept out of messages)."""

    def __init__(self, url: str, max_connections: int = 8) -> None:
        self._pool = ConnectionPool(url, min_size=1, max_size=max_connections, open=False,
                                    kwargs={"autocommit": True}, name="ledger-kafka-index")
        try:
            self._pool.open(wait=True, timeout=10)
        except (PoolTimeout, psycopg.Error) as error:
            self._pool.close()
            raise OperationalError(f"cannot reach the PostgreSQL index ({type(error).__name__})") from None

    def close(self) -> None:
        self._pool.close()

    @contextmanager
    def _transaction(self, *, snapshot: bool = False) -> Iterator[psycopg.Cursor[Any]]:
        try:
            with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cursor:
                if snapshot:
                    cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                yield cursor
        except (psycopg.Error, PoolTimeout) as error:
            raise OperationalError(f"the PostgreSQL index failed: {type(error).__name__}: "
                                   f"{getattr(error, 'sqlstate', None) or 'no connection'}") from None

    def create_table(self) -> None:
        with self._transaction() as c:
            for statement in SCHEMA:
                c.execute(statement)
            c.execute("SELECT pg_advisory_xact_lock(%s)", (APPEND_LOCK,))
            tree.migrate(c, mark="%s")  # an index whose tree is stored in the first layout

    def clear(self) -> None:
        """Empties the index (a rebuild from the topic follows)."""
        with self._transaction() as c:
            c.execute("SELECT pg_advisory_xact_lock(%s)", (APPEND_LOCK,))
            c.execute(f"TRUNCATE {TABLE}, {tree.TABLE}, kafka_positions")

    # ---- reading -------------------------------------------------------------------------------

    def head(self) -> tuple[int, str]:
        with self._transaction() as c:
            return self._head(c)

    def positions(self) -> dict[int, int]:
        with self._transaction() as c:
            c.execute("SELECT partition, next_offset FROM kafka_positions")
            return {int(p): int(o) for p, o in c.fetchall()}

    def taken(
        self, keys: Sequence[tuple[UUID | str, int]], event_ids: Sequence[str] = ()
    ) -> tuple[list[bool], list[bool]]:
        wanted = [(canonical_id(stream), version) for stream, version in keys]
        found_keys: set[tuple[str, int]] = set()
        found_ids: set[str] = set()
        with self._transaction() as c:
            if wanted:
                c.execute(f"SELECT e.originator_id, e.originator_version FROM unnest(%s::text[], %s::bigint[]) "
                          f"AS k(id, v) JOIN {TABLE} AS e ON e.originator_id = k.id AND e.originator_version = k.v",
                          ([s for s, _ in wanted], [v for _, v in wanted]))
                found_keys = {(s, int(v)) for s, v in c.fetchall()}
            if event_ids:
                c.execute(f"SELECT event_id FROM {TABLE} WHERE event_id = ANY(%s::text[])", (list(event_ids),))
                found_ids = {row[0] for row in c.fetchall()}
        return [key in found_keys for key in wanted], [event_id in found_ids for event_id in event_ids]

    def select_notifications(
        self, start: int | None, limit: int, stop: int | None = None, topics: Sequence[str] = (), *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        clauses: list[str] = ["TRUE"]
        params: list[Any] = []
        if start is not None:
            clauses.append("seq >= %s" if inclusive_of_start else "seq > %s")
            params.append(start)
        if stop is not None:
            clauses.append("seq <= %s")
            params.append(stop)
        if topics:
            clauses.append("topic = ANY(%s::text[])")
            params.append(list(topics))
        return self._records(f"WHERE {' AND '.join(clauses)} ORDER BY seq LIMIT %s", [*params, limit])

    def select_events(
        self, originator_id: UUID | str, *, gt: int | None = None, lte: int | None = None, desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        clauses: list[str] = ["originator_id = %s"]
        params: list[Any] = [canonical_id(originator_id)]
        if gt is not None:
            clauses.append("originator_version > %s")
            params.append(gt)
        if lte is not None:
            clauses.append("originator_version <= %s")
            params.append(lte)
        tail = f"WHERE {' AND '.join(clauses)} ORDER BY originator_version {'DESC' if desc else 'ASC'}"
        if limit is not None:
            tail += " LIMIT %s"
            params.append(limit)
        return [StoredEvent(originator_id=r.originator_id, originator_version=r.originator_version, topic=r.topic,
                            state=r.state) for r in self._records(tail, params)]

    def max_notification_id(self) -> int | None:
        seq = self.head()[0]
        return seq or None

    def find_event(self, event_id: str) -> LogRecord | None:
        found = self._records("WHERE event_id = %s", [event_id])
        return found[0] if found else None

    def select_stream(
        self, originator_id: UUID | str, *, gt: int | None = None, limit: int | None = None
    ) -> list[LogRecord]:
        return self._records("WHERE originator_id = %s AND originator_version > %s ORDER BY originator_version "
                             "LIMIT %s", [canonical_id(originator_id), -1 if gt is None else gt, limit])

    def record_at(self, originator_id: UUID | str, version: int) -> LogRecord | None:
        found = self._records("WHERE originator_id = %s AND originator_version = %s",
                              [canonical_id(originator_id), version])
        return found[0] if found else None

    def merkle(self, work: Callable[[merkle.Node, int], T]) -> T:
        with self._transaction(snapshot=True) as c:
            return work(tree.reader(c, mark="%s"), tree.size(c))

    def raw_rows(self, after: int = 0, batch: int = 10_000) -> Iterator[Row]:
        while True:
            with self._transaction(snapshot=True) as c:
                c.execute(f"SELECT {COLUMNS} FROM {TABLE} WHERE seq > %s ORDER BY seq LIMIT %s", (after, batch))
                rows = [(r[0], r[1], r[2], r[3], bytes(r[4]), r[5], r[6], r[7]) for r in c.fetchall()]
            if not rows:
                return
            yield from rows
            after = rows[-1][0]

    def _records(self, tail: str, params: Sequence[Any]) -> list[LogRecord]:
        with self._transaction() as c:
            c.execute(f"SELECT {COLUMNS} FROM {TABLE} {tail}", params)
            return [_record(row) for row in c.fetchall()]

    # ---- writing -------------------------------------------------------------------------------

    def append(self, rows: list[IndexRow], positions: Mapping[int, int]) -> None:
        with self._transaction() as c:
            c.execute("SELECT pg_advisory_xact_lock(%s)", (APPEND_LOCK,))
            fresh = fresh_rows(rows, self._head(c), lambda seq: self._hash_at(c, seq))
            if fresh:
                c.executemany(INSERT, [(row.seq, canonical_id(row.originator_id), row.originator_version, row.topic,
                                        row.state, row.event_id, row.prev_hash, row.hash) for row in fresh])
                tree.add(c, fresh[0].seq, [row.hash for row in fresh], mark="%s")  # the tree grows with the index
            if positions:
                c.executemany(POSITION, list(positions.items()))

    @staticmethod
    def _head(c: psycopg.Cursor[Any]) -> tuple[int, str]:
        c.execute(f"SELECT seq, hash FROM {TABLE} ORDER BY seq DESC LIMIT 1")
        row = c.fetchone()
        return (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)

    @staticmethod
    def _hash_at(c: psycopg.Cursor[Any], seq: int) -> str | None:
        c.execute(f"SELECT hash FROM {TABLE} WHERE seq = %s", (seq,))
        row = c.fetchone()
        return None if row is None else str(row[0])
