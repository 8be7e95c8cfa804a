"""The scaled view store: every view's rows and positions in PostgreSQL (``LEDGER_VIEWS=postgresql://…``).

The same four tables as ``SQLiteViewStore``, in the connection's schema (``search_path``), created
when missing. Rows hold the orjson bytes the runner encoded (``bytea``): stored and returned
byte for byte, so a row reads back exactly as from SQLite (JSONB would reorder keys, reparse numbers
and refuse ``\\u0000``). Text columns use the ``"C"`` collation, so rows sort by code point as in
SQLite and Python whatever the database's locale; the database must be UTF-8.

Connections come from a ``psycopg_pool.ConnectionPool`` (autocommit; each write an explicit
transaction), so API threads read in parallel with the runner's writes. ``apply`` writes the rows,
the positions of every source it names and the version in ONE transaction (exactly-once); large
batches go through ``COPY`` into a temporary table and one upsert. Writers of one view are
serialised by a transaction-scoped advisory lock on its name (``replace`` takes both names in
order), as SQLite's single writer serialises them, so concurrent writers never deadlock on rows.
``snapshot`` reads in one ``REPEATABLE READ, READ ONLY`` transaction. Values are checked before
anything is sent (64-bit positions and versions, UTF-8 names without NUL, JSON-able rows), so a
refused ``apply`` changes nothing; database errors become ``UnavailableError`` (never with the DSN).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
import psycopg
from psycopg_pool import ConnectionPool

from ledger.errors import UnavailableError
from projections.store import (
    LOG_SOURCE,
    EncodingStore,
    ViewRow,
    ViewSnapshot,
    Write,
    stale,
)

SCHEMA = (
    'CREATE TABLE IF NOT EXISTS view_rows (view text COLLATE "C" NOT NULL, kind text COLLATE "C" NOT NULL, '
    'key text COLLATE "C" NOT NULL, data bytea NOT NULL, PRIMARY KEY (view, kind, key))',
    'CREATE TABLE IF NOT EXISTS view_positions (view text COLLATE "C" NOT NULL, source text COLLATE "C" NOT NULL, '
    "position bigint NOT NULL, PRIMARY KEY (view, source))",
    'CREATE TABLE IF NOT EXISTS view_versions (view text COLLATE "C" PRIMARY KEY, version bigint NOT NULL)',
    'CREATE TABLE IF NOT EXISTS view_checks (view text COLLATE "C" PRIMARY KEY, data bytea NOT NULL)',
    'CREATE TABLE IF NOT EXISTS view_workers (view text COLLATE "C" NOT NULL, worker text COLLATE "C" NOT NULL, '
    "seen double precision NOT NULL, PRIMARY KEY (view, worker))",
)
TABLES = ("view_rows", "view_positions", "view_versions", "view_checks")
LOCK_CLASS = 0x5643  # "VC": the advisory locks of this store, apart from any other's
PREFIX_END = "\U0010ffff"
INTEGER_RANGE = range(-(2**63), 2**63)
COPY_FROM = 64
"""Batches with at least this many rows to write go through COPY (fewer: one pipelined executemany)."""

UPSERT_ROW = ("INSERT INTO view_rows (view, kind, key, data) VALUES (%s, %s, %s, %s) "
              "ON CONFLICT (view, kind, key) DO UPDATE SET data = EXCLUDED.data")
UPSERT_POSITION = ("INSERT INTO view_positions (view, source, position) VALUES (%s, %s, %s) "
                   "ON CONFLICT (view, source) DO UPDATE SET position = EXCLUDED.position")
UPSERT_VERSION = ("INSERT INTO view_versions (view, version) VALUES (%s, %s) "
                  "ON CONFLICT (view) DO UPDATE SET version = EXCLUDED.version")
INCOMING = ('CREATE TEMPORARY TABLE IF NOT EXISTS view_rows_incoming (kind text COLLATE "C" NOT NULL, '
            'key text COLLATE "C" NOT NULL, data bytea NOT NULL) ON COMMIT DELETE ROWS')
UPSERT_INCOMING = ("INSERT INTO view_rows (view, kind, key, data) SELECT %s, kind, key, data FROM view_rows_incoming "
                   "ON CONFLICT (view, kind, key) DO UPDATE SET data = EXCLUDED.data")


def _integer(value: int) -> int:
    """``value`` as a ``bigint``: converted by ``int`` and limited to 64 bits (as SQLite's INTEGER)."""
    number = int(value)
    if number not in INTEGER_RANGE:
        raise OverflowError("Python int too large to convert to a 64-bit integer")
    return number


def _check_text(texts: Iterable[str]) -> None:
    """Raises ``UnicodeEncodeError`` for a lone surrogate and ``ValueError`` for NUL (PostgreSQL text has none)."""
    for text in texts:
        text.encode()
        if "\x00" in text:
            raise ValueError("PostgreSQL text cannot contain NUL (\\x00)")


def _lock_key(view: str) -> int:
    """The view's advisory lock key: a signed 32-bit hash of its name (a collision only serialises more)."""
    return int.from_bytes(hashlib.blake2b(view.encode(), digest_size=4).digest(), "big", signed=True)


def _load(data: bytes) -> dict[str, Any]:
    loaded: dict[str, Any] = orjson.loads(data)
    return loaded


class PostgresViewStore(EncodingStore):
    """``ViewStore`` on a PostgreSQL database; see ``projections.store`` for the contract.

    ``dsn`` is a libpq connection string or URL (``postgresql://user:password@host:port/db``);
    ``pool_size`` bounds the open connections; ``timeout`` (seconds) bounds waiting for one.
    """

    def __init__(self, dsn: str, pool_size: int = 4, timeout: float = 10.0, name: str = "views") -> None:
        try:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=max(1, round(timeout))) as conn:
                encoding = conn.execute("SHOW server_encoding").fetchone()
                if encoding is None or encoding[0] != "UTF8":
                    raise UnavailableError(f"the view store needs a UTF8 database, not {encoding}")
                with conn.transaction():  # one creator at a time: concurrent CREATE IF NOT EXISTS can collide
                    conn.execute("SELECT pg_advisory_xact_lock(%s, 0)", (LOCK_CLASS,))
                    for statement in SCHEMA:
                        conn.execute(statement)
        except psycopg.Error as error:
            raise UnavailableError(f"the view store cannot be opened: {_describe(error)}") from None
        self._pool = ConnectionPool(dsn, min_size=1, max_size=pool_size, timeout=timeout, open=False, name=name,
                                    kwargs={"autocommit": True})
        try:
            self._pool.open(wait=True, timeout=timeout)
        except psycopg.Error as error:
            self._pool.close()
            raise UnavailableError(f"the view store cannot be opened: {_describe(error)}") from None

    @contextmanager
    def _read(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg.Error as error:
            raise UnavailableError(f"the view store failed: {_describe(error)}") from None

    @contextmanager
    def _write(self, *views: str) -> Iterator[psycopg.Connection[Any]]:
        """One transaction holding the advisory lock of each of ``views`` (taken in one order: no deadlock)."""
        with self._read() as conn, conn.transaction():
            for key in sorted({_lock_key(view) for view in views}):
                conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_CLASS, key))
            yield conn

    def position(self, name: str, source: str = LOG_SOURCE) -> int:
        with self._read() as conn:
            found = conn.execute("SELECT position FROM view_positions WHERE view=%s AND source=%s",
                                 (name, source)).fetchone()
        return int(found[0]) if found else 0

    def positions(self, name: str) -> dict[str, int]:
        with self._read() as conn:
            return self._positions(conn, name)

    @staticmethod
    def _positions(conn: psycopg.Connection[Any], name: str) -> dict[str, int]:
        found = conn.execute("SELECT source, position FROM view_positions WHERE view=%s", (name,)).fetchall()
        return {str(source): int(position) for source, position in found}

    def version(self, name: str) -> int | None:
        with self._read() as conn:
            return self._version(conn, name)

    @staticmethod
    def _version(conn: psycopg.Connection[Any], name: str) -> int | None:
        found = conn.execute("SELECT version FROM view_versions WHERE view=%s", (name,)).fetchone()
        return int(found[0]) if found else None

    def get(self, name: str, kind: str, key: str) -> dict[str, Any] | None:
        with self._read() as conn:
            found = conn.cursor(binary=True).execute(
                "SELECT data FROM view_rows WHERE view=%s AND kind=%s AND key=%s", (name, kind, key)).fetchone()
        return _load(found[0]) if found else None

    def rows(self, name: str, kind: str | None = None, prefix: str = "") -> list[ViewRow]:
        with self._read() as conn:
            return self._rows(conn, name, kind, prefix)

    @staticmethod
    def _rows(conn: psycopg.Connection[Any], name: str, kind: str | None = None, prefix: str = "") -> list[ViewRow]:
        sql, params = "SELECT kind, key, data FROM view_rows WHERE view=%s", [name]
        if kind is not None:
            sql += " AND kind=%s"
            params.append(kind)
        if prefix:
            sql += " AND key>=%s AND key<%s"
            params += [prefix, prefix + PREFIX_END]
        found = conn.cursor(binary=True).execute(sql + " ORDER BY kind, key", params).fetchall()
        return [ViewRow(kind, key, _load(data)) for kind, key, data in found]

    def snapshot(self, name: str) -> ViewSnapshot:
        with self._read() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            return ViewSnapshot(self._positions(conn, name), self._version(conn, name), self._rows(conn, name))

    def apply_many(self, writes: Sequence[Write]) -> dict[str, str]:
        """Every view's write in ONE transaction holding all their advisory locks; a write whose
        compare-and-set fails is left out and its reason returned, by view."""
        for write in writes:
            _integer(write.version)
            for at in write.positions.values():
                _integer(at)
            _check_text([write.name, *write.positions, *(text for where in write.changes for text in where)])
        refused = {}
        with self._write(*(write.name for write in writes)) as conn:
            cursor = conn.cursor()
            for write in writes:
                name = write.name
                if write.expected is not None:  # under the view's advisory lock: no other writer moves it meanwhile
                    reason = stale(self._positions(conn, name), write.expected, write.positions,
                                   self._version(conn, name), write.version)
                    if reason is not None:
                        refused[name] = reason
                        continue
                self._put(cursor, write)
        return refused

    @staticmethod
    def _put(cursor: psycopg.Cursor[Any], write: Write) -> None:
        name = write.name
        puts = [(kind, key, data) for (kind, key), data in write.changes.items() if data is not None]
        deletes = [(name, kind, key) for (kind, key), data in write.changes.items() if data is None]
        if deletes:
            cursor.executemany("DELETE FROM view_rows WHERE view=%s AND kind=%s AND key=%s", deletes)
        if len(puts) >= COPY_FROM:
            cursor.execute(INCOMING)
            with cursor.copy("COPY view_rows_incoming (kind, key, data) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["text", "text", "bytea"])
                for row in puts:
                    copy.write_row(row)
            cursor.execute(UPSERT_INCOMING, (name,))
            cursor.execute("DELETE FROM view_rows_incoming")  # the next view of this transaction copies its own
        elif puts:
            cursor.executemany(UPSERT_ROW, [(name, kind, key, data) for kind, key, data in puts])
        if write.positions:
            cursor.executemany(UPSERT_POSITION, [(name, source, at) for source, at in write.positions.items()])
        cursor.execute(UPSERT_VERSION, (name, write.version))

    def drop(self, name: str) -> None:
        with self._write(name) as conn:
            for table in TABLES:
                conn.execute(f"DELETE FROM {table} WHERE view=%s", (name,))

    def replace(self, name: str, replacement: str) -> None:
        with self._write(name, replacement) as conn:
            for table in TABLES:
                conn.execute(f"DELETE FROM {table} WHERE view=%s", (name,))
                conn.execute(f"UPDATE {table} SET view=%s WHERE view=%s", (name, replacement))

    def record_check(self, name: str, check: Mapping[str, Any]) -> None:
        encoded = orjson.dumps(check)
        _check_text([name])
        with self._write(name) as conn:
            conn.execute("INSERT INTO view_checks (view, data) VALUES (%s, %s) "
                         "ON CONFLICT (view) DO UPDATE SET data = EXCLUDED.data", (name, encoded))

    def checks(self) -> dict[str, dict[str, Any]]:
        with self._read() as conn:
            found = conn.cursor(binary=True).execute("SELECT view, data FROM view_checks ORDER BY view").fetchall()
        return {str(view): _load(data) for view, data in found}

    def heartbeat(self, views: Sequence[str], worker: str, at: float) -> None:
        _check_text([*views, worker])
        with self._read() as conn, conn.transaction():
            conn.cursor().executemany(
                "INSERT INTO view_workers (view, worker, seen) VALUES (%s, %s, %s) "
                "ON CONFLICT (view, worker) DO UPDATE SET seen = EXCLUDED.seen", [(view, worker, at) for view in views])

    def workers(self) -> dict[str, dict[str, float]]:
        with self._read() as conn:
            found = conn.execute("SELECT view, worker, seen FROM view_workers ORDER BY view, worker").fetchall()
        seen: dict[str, dict[str, float]] = {}
        for view, worker, at in found:
            seen.setdefault(str(view), {})[str(worker)] = float(at)
        return seen

    def close(self) -> None:
        self._pool.close()


def _describe(error: psycopg.Error) -> str:
    """The error's first line, its class name when empty (libpq messages name hosts and users, never passwords)."""
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__
