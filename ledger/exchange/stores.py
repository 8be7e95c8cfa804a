"""Copying the ledger's small SQLite stores (``audit.db``: checkpoints and public keys; ``auth.db``:
hashed tokens) into a backup and back, whatever tables and columns they have.

Nothing here knows a store's schema: tables, indexes and triggers are copied as SQLite stores them
(``sqlite_master``), rows by column name, so a column added later (a checkpoint's ``root_hash``)
travels without a change here. Reads of a live store go through SQLite's online backup API: one
consistent snapshot, however the store is being written meanwhile.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import closing
from pathlib import Path

from ledger.files import FILE_MODE, private_file

Filter = tuple[str, Sequence[object]]
"""A ``WHERE`` clause and its parameters, e.g. ``("seq <= ?", (head,))``."""


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _schema(db: sqlite3.Connection, kind: str) -> list[tuple[str, str]]:
    """``(name, sql)`` of the tables (or indexes, triggers) a store declared, in creation order."""
    return db.execute("SELECT name, sql FROM sqlite_master WHERE type=? AND sql IS NOT NULL "
                      "AND name NOT LIKE 'sqlite_%' ORDER BY rowid", (kind,)).fetchall()


def _columns(db: sqlite3.Connection, table: str, schema: str = "main") -> list[str]:
    return [row[1] for row in db.execute(f"PRAGMA {schema}.table_info({_quoted(table)})")]


def snapshot_store(source: Path, target: Path, keep: Mapping[str, Filter] | None = None) -> dict[str, int]:
    """Writes a copy of the store at ``source`` to the new file ``target`` (mode 0600) and returns the
    rows copied per table. The copy is of one consistent read of ``source``; the rows of a table
    named in ``keep`` are only those matching its filter. ``FileExistsError`` if ``target`` exists."""
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    counts: dict[str, int] = {}
    with closing(sqlite3.connect(":memory:")) as frozen, closing(sqlite3.connect(target)) as out:
        with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as live:
            live.backup(frozen)
        for table, sql in _schema(frozen, "table"):
            out.execute(sql)
            where, params = (keep or {}).get(table, ("1", ()))
            rows = frozen.execute(f"SELECT * FROM {_quoted(table)} WHERE {where}", tuple(params)).fetchall()
            marks = ",".join("?" * len(_columns(frozen, table)))
            out.executemany(f"INSERT INTO {_quoted(table)} VALUES ({marks})", rows)
            counts[table] = len(rows)
        for kind in ("index", "trigger"):
            for _, sql in _schema(frozen, kind):
                out.execute(sql)
        out.commit()
    private_file(target)
    return counts


def rows_in(path: Path) -> int:
    """How many rows the store at ``path`` holds over all its tables (0 when there is no file)."""
    if not path.exists():
        return 0
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return sum(db.execute(f"SELECT count(*) FROM {_quoted(table)}").fetchone()[0]
                   for table, _ in _schema(db, "table"))


def merge_store(source: Path, target: Path) -> dict[str, int]:
    """Inserts every row of the store copy ``source`` into the store at ``target`` (created 0600 if
    missing) in one transaction, by column name; tables, indexes and triggers ``target`` lacks are
    created as ``source`` declares them. Returns the rows inserted per table. Meant for an empty
    ``target`` (a row that collides is a ``sqlite3.IntegrityError`` and nothing is inserted)."""
    if not target.exists():
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    counts: dict[str, int] = {}
    with closing(sqlite3.connect(target, isolation_level=None, timeout=10, uri=True)) as db:
        db.execute("ATTACH DATABASE ? AS copy", (f"file:{source}?mode=ro",))
        db.execute("BEGIN IMMEDIATE")
        try:
            known = {name for kind in ("table", "index", "trigger") for name, _ in _schema(db, kind)}
            tables = db.execute("SELECT name, sql FROM copy.sqlite_master WHERE type='table' AND sql IS NOT NULL "
                                "AND name NOT LIKE 'sqlite_%' ORDER BY rowid").fetchall()
            for table, sql in tables:
                if table not in known:
                    db.execute(sql)
                wanted = set(_columns(db, table))
                names = ",".join(_quoted(c) for c in _columns(db, table, "copy") if c in wanted)
                cursor = db.execute(f"INSERT INTO main.{_quoted(table)} ({names}) "
                                    f"SELECT {names} FROM copy.{_quoted(table)}")
                counts[table] = cursor.rowcount
            extras = db.execute("SELECT name, sql FROM copy.sqlite_master WHERE type IN ('index', 'trigger') "
                                "AND sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid").fetchall()
            for name, sql in extras:
                if name not in known:
                    db.execute(sql)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    private_file(target)
    return counts
