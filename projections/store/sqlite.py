"""The embedded view store: every view's rows and positions in one SQLite file (WAL mode).

One connection, serialised by a lock, is shared by the runner and by queries from API threads.
Writes run in ``BEGIN IMMEDIATE`` transactions; ``snapshot`` reads in one deferred transaction (in
WAL mode it sees one committed state while other processes write); SQLite errors become
``UnavailableError``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import orjson

from ledger.errors import ProjectionError, UnavailableError
from ledger.files import private_file, private_folder
from projections.shards import Merge
from projections.store import (
    LOG_SOURCE,
    EncodingStore,
    ViewRow,
    ViewSnapshot,
    Write,
    stale,
)
from projections.store.scratch import merge_shared

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS view_rows (view TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, "
    "data BLOB NOT NULL, PRIMARY KEY (view, kind, key)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS view_positions (view TEXT NOT NULL, source TEXT NOT NULL, "
    "position INTEGER NOT NULL, PRIMARY KEY (view, source)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS view_versions (view TEXT PRIMARY KEY, version INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS view_checks (view TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS view_workers (view TEXT NOT NULL, worker TEXT NOT NULL, seen REAL NOT NULL, "
    "PRIMARY KEY (view, worker)) WITHOUT ROWID",
)
TABLES = ("view_rows", "view_positions", "view_versions", "view_checks")
PREFIX_END = "\U0010ffff"


class SQLiteViewStore(EncodingStore):
    """``ViewStore`` on one SQLite file; see ``projections.store`` for the contract."""

    def __init__(self, path: Path) -> None:
        private_folder(path.parent)
        self.path = path
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=10000")
            for statement in SCHEMA:
                self._db.execute(statement)
            private_file(path)
        except sqlite3.Error as error:
            raise UnavailableError(f"the view store cannot be opened: {error}") from None

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._db
            except sqlite3.Error as error:
                raise UnavailableError(f"the view store failed: {error}") from None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as error:
                raise UnavailableError(f"the view store failed: {error}") from None

    def position(self, name: str, source: str = LOG_SOURCE) -> int:
        with self._read() as db:
            found = db.execute(
                "SELECT position FROM view_positions WHERE view=? AND source=?", (name, source)
            ).fetchone()
        return int(found[0]) if found else 0

    def positions(self, name: str) -> dict[str, int]:
        with self._read() as db:
            found = db.execute("SELECT source, position FROM view_positions WHERE view=?", (name,)).fetchall()
        return {str(source): int(position) for source, position in found}

    def version(self, name: str) -> int | None:
        with self._read() as db:
            found = db.execute("SELECT version FROM view_versions WHERE view=?", (name,)).fetchone()
        return int(found[0]) if found else None

    def get(self, name: str, kind: str, key: str) -> dict[str, Any] | None:
        with self._read() as db:
            found = db.execute(
                "SELECT data FROM view_rows WHERE view=? AND kind=? AND key=?", (name, kind, key)
            ).fetchone()
        return orjson.loads(found[0]) if found else None  # type: ignore[no-any-return]

    def rows(self, name: str, kind: str | None = None, prefix: str = "") -> list[ViewRow]:
        sql, params = "SELECT kind, key, data FROM view_rows WHERE view=?", [name]
        if kind is not None:
            sql += " AND kind=?"
            params.append(kind)
        if prefix:
            sql += " AND key>=? AND key<?"
            params += [prefix, prefix + PREFIX_END]
        with self._read() as db:
            found = db.execute(sql + " ORDER BY kind, key", params).fetchall()
        return [ViewRow(kind, key, orjson.loads(data)) for kind, key, data in found]

    def snapshot(self, name: str) -> ViewSnapshot:
        with self._read() as db:
            db.execute("BEGIN")
            try:
                return ViewSnapshot(self.positions(name), self.version(name), self.rows(name))
            finally:
                db.execute("COMMIT")  # a read transaction: it only ends the snapshot

    def apply_many(self, writes: Sequence[Write]) -> dict[str, str]:
        """Every view's write in ONE transaction (a catch-up of all views commits once); a write whose
        compare-and-set fails is left out and its reason returned, by view."""
        refused = {}
        with self._write() as db:
            for write in writes:
                name = write.name
                if write.expected is not None:
                    stored = dict(db.execute("SELECT source, position FROM view_positions WHERE view=?", (name,)))
                    found = db.execute("SELECT version FROM view_versions WHERE view=?", (name,)).fetchone()
                    reason = stale(stored, write.expected, write.positions, None if found is None else int(found[0]),
                                   write.version)
                    if reason is not None:
                        refused[name] = reason
                        continue
                changes = write.changes.items()
                db.executemany("DELETE FROM view_rows WHERE view=? AND kind=? AND key=?",
                               [(name, kind, key) for (kind, key), data in changes if data is None])
                db.executemany("INSERT OR REPLACE INTO view_rows (view, kind, key, data) VALUES (?,?,?,?)",
                               [(name, kind, key, data) for (kind, key), data in changes if data is not None])
                db.executemany("INSERT OR REPLACE INTO view_positions (view, source, position) VALUES (?,?,?)",
                               [(name, source, at) for source, at in write.positions.items()])
                db.execute("INSERT OR REPLACE INTO view_versions (view, version) VALUES (?,?)", (name, write.version))
        return refused

    def drop(self, name: str) -> None:
        with self._write() as db:
            for table in TABLES:
                db.execute(f"DELETE FROM {table} WHERE view=?", (name,))

    def replace(self, name: str, replacement: str) -> None:
        with self._write() as db:
            for table in TABLES:
                db.execute(f"DELETE FROM {table} WHERE view=?", (name,))
                db.execute(f"UPDATE {table} SET view=? WHERE view=?", (name, replacement))

    def load_shares(self, views: Mapping[str, tuple[int, Mapping[str, Merge]]], shares: Sequence[Path],
                    positions: Mapping[str, int]) -> None:
        """Makes the rows the scratch files ``shares`` hold (``ScratchStore.finish``) the views ``views``
        (name: version and the merges of its shared kinds), at ``positions``, in ONE transaction: the live rows,
        positions and checks deleted, the shares' rows inserted in key order, the parts of shared rows merged
        (in a thread, while SQLite inserts the rest).

        A row that is not of a shared kind must come from one share; found in two, nothing is written.
        """
        names = [f"share{index}" for index in range(len(shares))]
        with self._lock, ThreadPoolExecutor(1) as pool:
            merging = pool.submit(merge_shared, shares, {view: merges for view, (_, merges) in views.items()})
            try:
                for name, path in zip(names, shares, strict=True):
                    self._db.execute("ATTACH DATABASE ? AS " + name, (str(path),))
                with self._write() as db:
                    for view, (version, merges) in views.items():
                        for table in TABLES:
                            db.execute(f"DELETE FROM {table} WHERE view=?", (view,))
                        self._insert_unshared(db, view, sorted(merges), names)
                        db.executemany("INSERT INTO view_positions (view, source, position) VALUES (?,?,?)",
                                       [(view, source, at) for source, at in positions.items()])
                        db.execute("INSERT INTO view_versions (view, version) VALUES (?,?)", (view, version))
                    for view, rows in merging.result().items():
                        db.executemany("INSERT INTO view_rows (view, kind, key, data) VALUES (?,?,?,?)",
                                       [(view, kind, key, data) for kind, key, data in rows])
            except sqlite3.Error as error:
                raise UnavailableError(f"the view store failed: {error}") from None
            finally:
                for name in names:
                    with suppress(sqlite3.Error):
                        self._db.execute("DETACH DATABASE " + name)

    @staticmethod
    def _insert_unshared(db: sqlite3.Connection, view: str, shared: list[str], shares: Sequence[str]) -> None:
        """Inserts the view's rows of the kinds that are not shared, merged from the shares in key order."""
        unshared = f" AND kind NOT IN ({','.join('?' * len(shared))})" if shared else ""
        union = " UNION ALL ".join(f"SELECT kind, key, data FROM {share}.done WHERE view=?{unshared}"
                                   for share in shares)
        try:
            db.execute(f"INSERT INTO view_rows (view, kind, key, data) SELECT ?, kind, key, data FROM ({union}) "
                       "ORDER BY kind, key", [view, *([view, *shared] * len(shares))])
        except sqlite3.IntegrityError as error:  # rolls the whole swap back
            raise ProjectionError(f"view {view!r}: a row came from streams in two shares ({error}); its kind must "
                                  "be declared shared; nothing was swapped in", view=view) from None

    def record_check(self, name: str, check: Mapping[str, Any]) -> None:
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO view_checks (view, data) VALUES (?,?)", (name, orjson.dumps(check)))

    def checks(self) -> dict[str, dict[str, Any]]:
        with self._read() as db:
            found = db.execute("SELECT view, data FROM view_checks ORDER BY view").fetchall()
        return {str(view): orjson.loads(data) for view, data in found}

    def heartbeat(self, views: Sequence[str], worker: str, at: float) -> None:
        with self._write() as db:
            db.executemany("INSERT OR REPLACE INTO view_workers (view, worker, seen) VALUES (?,?,?)",
                           [(view, worker, at) for view in views])

    def workers(self) -> dict[str, dict[str, float]]:
        with self._read() as db:
            found = db.execute("SELECT view, worker, seen FROM view_workers ORDER BY view, worker").fetchall()
        seen: dict[str, dict[str, float]] = {}
        for view, worker, at in found:
            seen.setdefault(str(view), {})[str(worker)] = float(at)
        return seen

    def close(self) -> None:
        with self._lock:
            self._db.close()
