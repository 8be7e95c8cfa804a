"""A split rebuild's private scratch file: one share's view rows, appended, then sorted once.

A process of a split rebuild (``projections.split``) folds its share of the log into a
``ScratchStore``: a SQLite file of its own, with no journal and no fsync (it is thrown away if the
rebuild stops; the live views are untouched until the swap). Writes are appended in arrival order
(``staged``, no index), so a flush costs the same whatever the size of the view: nothing is
inserted into a B-tree that outgrew the page cache. The last write of each view is held in memory
instead: it is the one that carries the rows the view kept in memory to the end (``ShareRows``),
most of them, and goes to the sorted table without passing through the sort. Reading a row back (a
view reading a row that left the runner's memory) finds the latest write of it; the first such
read builds an index. ``finish`` keeps the latest write of every row, drops deleted ones and stores
the rest in key order (``done``), which ``SQLiteViewStore.load_shares`` swaps in.
"""

from __future__ import annotations

import heapq
import itertools
import sqlite3
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from projections.shards import SHARD, Merge
from projections.store import LOG_SOURCE, EncodedChanges, EncodingStore, ViewRow, ViewSnapshot

SCHEMA = (
    "CREATE TABLE staged (n INTEGER PRIMARY KEY, view TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, "
    "data BLOB)",
    "CREATE TABLE positions (view TEXT NOT NULL, source TEXT NOT NULL, position INTEGER NOT NULL, "
    "PRIMARY KEY (view, source))",
    "CREATE TABLE versions (view TEXT PRIMARY KEY, version INTEGER NOT NULL)",
)
Encoded = tuple[str, str, bytes]
"""A row as ``(kind, key, orjson bytes)``."""
DONE = ("CREATE TABLE done (view TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, data BLOB NOT NULL, "
        "PRIMARY KEY (view, kind, key)) WITHOUT ROWID")
LATEST = "SELECT view, kind, key, data, max(n) FROM staged GROUP BY view, kind, key"
"""The latest write of every row (SQLite takes the bare columns from the row with the ``max``)."""


class ScratchStore(EncodingStore):
    """The ``ViewStore`` one share of a split rebuild writes; one process, one thread, one new file."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        for statement in SCHEMA:
            self._db.execute(statement)
        self._indexed = False
        self._last: dict[str, EncodedChanges] = {}  # the last write of each view, held as handed over

    def position(self, name: str, source: str = LOG_SOURCE) -> int:
        return self.positions(name).get(source, 0)

    def positions(self, name: str) -> dict[str, int]:
        found = self._db.execute("SELECT source, position FROM positions WHERE view=?", (name,))
        return {str(source): int(at) for source, at in found}

    def version(self, name: str) -> int | None:
        found = self._db.execute("SELECT version FROM versions WHERE view=?", (name,)).fetchone()
        return None if found is None else int(found[0])

    def get(self, name: str, kind: str, key: str) -> dict[str, Any] | None:
        held = self._last.get(name, {}).get((kind, key), b"")
        if held != b"":
            return None if held is None else orjson.loads(held)  # type: ignore[no-any-return]
        if not self._indexed:  # only a view reading back rows that left memory gets here
            self._db.execute("CREATE INDEX IF NOT EXISTS staged_rows ON staged (view, kind, key, n)")
            self._indexed = True
        found = self._db.execute("SELECT data FROM staged WHERE view=? AND kind=? AND key=? ORDER BY n DESC LIMIT 1",
                                 (name, kind, key)).fetchone()
        return None if found is None or found[0] is None else orjson.loads(found[0])  # type: ignore[no-any-return]

    def rows(self, name: str, kind: str | None = None, prefix: str = "") -> list[ViewRow]:
        latest = {(k, key): data for k, key, data in self._db.execute(
            f"SELECT kind, key, data FROM ({LATEST}) WHERE view=?", (name,))}
        latest.update(self._last.get(name, {}))
        return [ViewRow(k, key, orjson.loads(data)) for (k, key), data in sorted(latest.items())
                if data is not None and (kind is None or k == kind) and key.startswith(prefix)]

    def snapshot(self, name: str) -> ViewSnapshot:
        return ViewSnapshot(self.positions(name), self.version(name), self.rows(name))

    def apply_encoded(
        self, name: str, version: int, changes: EncodedChanges, position: int | Mapping[str, int],
        source: str = LOG_SOURCE, *, expected: Mapping[str, int] | None = None,
    ) -> None:
        """Holds the writes, appending the view's write before them (no compare-and-set: one writer). The
        writes are held as handed over, not copied: the share's runner gives them away."""
        positions = {source: position} if isinstance(position, int) else dict(position)
        db = self._db
        db.execute("BEGIN")
        before = self._last.pop(name, None)
        if before:
            db.executemany("INSERT INTO staged (view, kind, key, data) VALUES (?,?,?,?)",
                           [(name, kind, key, data) for (kind, key), data in before.items()])
        self._last[name] = changes
        db.executemany("INSERT OR REPLACE INTO positions VALUES (?,?,?)",
                       [(name, source, at) for source, at in positions.items()])
        db.execute("INSERT OR REPLACE INTO versions VALUES (?,?)", (name, version))
        db.execute("COMMIT")

    def finish(self) -> None:
        """Keeps the latest write of every row, without the deleted ones, in key order (table ``done``)."""
        db = self._db
        db.execute(DONE)
        db.execute("BEGIN")
        db.execute(  # only the keys are sorted; the rows are fetched by rowid, in that order
            "INSERT INTO done SELECT s.view, s.kind, s.key, s.data FROM (SELECT max(n) AS n FROM staged "
            "GROUP BY view, kind, key) AS latest JOIN staged AS s ON s.n = latest.n WHERE s.data IS NOT NULL")
        for name in sorted(self._last):  # the latest writes of all: in key order, they win
            changes = self._last.pop(name)  # let each view's rows go once written
            keys = sorted(changes)  # only the keys are listed: no row tuples beside the rows held
            db.executemany("INSERT OR REPLACE INTO done VALUES (?,?,?,?)",
                           ((name, kind, key, data) for kind, key in keys if (data := changes[kind, key]) is not None))
            db.executemany("DELETE FROM done WHERE view=? AND kind=? AND key=?",
                           ((name, kind, key) for kind, key in keys if changes[kind, key] is None))
        db.execute("COMMIT")

    def drop(self, name: str) -> None:
        self._last.pop(name, None)
        for table in ("staged", "positions", "versions"):
            self._db.execute(f"DELETE FROM {table} WHERE view=?", (name,))

    def replace(self, name: str, replacement: str) -> None:
        raise NotImplementedError("a scratch store is swapped in by the view store (load_shares)")

    def record_check(self, name: str, check: Mapping[str, Any]) -> None:
        raise NotImplementedError("a scratch store holds no checks")

    def checks(self) -> dict[str, dict[str, Any]]:
        return {}

    def heartbeat(self, views: Sequence[str], worker: str, at: float) -> None:
        """Nothing to record: no worker runs a scratch store."""

    def workers(self) -> dict[str, dict[str, float]]:
        return {}

    def close(self) -> None:
        self._db.close()


def merge_shared(shares: Sequence[Path], views: Mapping[str, Mapping[str, Merge]]) -> dict[str, list[Encoded]]:
    """Per view, its rows of shared kinds with their parts in the scratch files ``shares`` merged under the bare
    key (``projections.shards``), in key order: a row one share wrote is taken as it is, encoded. The shares
    are read in bare-key order and merged as they stream (only the merged rows are held)."""
    found: dict[str, list[Encoded]] = {view: [] for view in views}
    databases = [sqlite3.connect(f"file:{path}?mode=ro", uri=True) for path in shares]
    try:
        for view, merges in views.items():
            if not merges:
                continue
            query = (f"SELECT kind, substr(key, 1, instr(key, '{SHARD}') - 1) AS bare, data FROM done "
                     f"WHERE view=? AND kind IN ({','.join('?' * len(merges))}) ORDER BY kind, bare")
            parts = heapq.merge(*(db.execute(query, (view, *merges)) for db in databases), key=lambda row: row[:2])
            for (kind, key), group in itertools.groupby(parts, key=lambda row: row[:2]):
                datas = [data for _, _, data in group]
                if len(datas) > 1:
                    row = merges[kind]([orjson.loads(data) for data in datas])
                    if row is None:
                        continue
                    datas = [bytes(memoryview(orjson.dumps(row)))]  # orjson's bytes keep a ~4 KB buffer: to size
                found[view].append((kind, key, datas[0]))
    finally:
        for db in databases:
            db.close()
    return found
