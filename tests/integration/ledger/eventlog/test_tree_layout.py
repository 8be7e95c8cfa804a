"""The Merkle tree's storage (``ledger.eventlog.tree``): nodes keyed by the order they are made in, so an
append writes at the table's end; a tree stored in the first layout (``merkle_nodes``, keyed by level and
index) is moved over when the log or the PostgreSQL index is opened, node for node."""

from __future__ import annotations

import hashlib
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ledger import commands as c
from ledger.application import Ledger
from ledger.config import Settings
from ledger.eventlog import tree
from ledger.integrity import merkle, proofs
from tests.postgres_fixtures import fresh_database
from tests.unit.ledger.integrity.rfc9162 import mth

LEGACY_SQLITE = ("CREATE TABLE merkle_nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL, "
                 "PRIMARY KEY (level, idx)) WITHOUT ROWID")
LEGACY_POSTGRES = ("CREATE TABLE merkle_nodes (level integer NOT NULL, idx bigint NOT NULL, hash bytea NOT NULL, "
                   "PRIMARY KEY (level, idx))")


def reference(chain_hashes: list[bytes]) -> dict[tuple[int, int], bytes]:
    """Every perfect subtree root of the leaves, built level by level from RFC 9162's hashes."""
    nodes = {(0, i): merkle.leaf_hash(h) for i, h in enumerate(chain_hashes)}
    level, width = 0, len(chain_hashes)
    while width > 1:
        for i in range(width // 2):
            nodes[(level + 1, i)] = merkle.node_hash(nodes[(level, 2 * i)], nodes[(level, 2 * i + 1)])
        level, width = level + 1, width // 2
    return nodes


def chain(n: int) -> list[bytes]:
    return [hashlib.sha256(f"event {i}".encode()).digest() for i in range(n)]


def test_nodes_are_stored_in_the_order_they_are_made_and_the_size_is_read_back() -> None:
    with closing(sqlite3.connect(":memory:")) as db:
        cursor = db.cursor()
        cursor.execute(tree.CREATE)
        for n in range(1, 130):
            assert tree.size(cursor) == n - 1
            tree.add(cursor, n, [chain(n)[-1].hex()])
            positions = [row[0] for row in cursor.execute(f"SELECT pos FROM {tree.TABLE} ORDER BY rowid")]
            assert positions == list(range(tree.made_before(n)))  # appended at the end, no gaps
        stored = dict(cursor.execute(f"SELECT pos, hash FROM {tree.TABLE}").fetchall())
    expected = reference(chain(129))
    assert len(stored) == len(expected)
    assert {tree.position(*key): digest for key, digest in expected.items()} == stored


def fill_legacy(cursor: Any, nodes: dict[tuple[int, int], bytes], mark: str) -> None:
    cursor.executemany(f"INSERT INTO merkle_nodes (level, idx, hash) VALUES ({mark},{mark},{mark})",
                       [(level, index, digest) for (level, index), digest in nodes.items()])


def assert_moved(cursor: Any, nodes: dict[tuple[int, int], bytes], leaves: int) -> None:
    assert tree.size(cursor) == leaves
    read = tree.reader(cursor, "?" if isinstance(cursor, sqlite3.Cursor) else "%s")
    assert {key: read(*key) for key in nodes} == nodes


def test_a_tree_in_the_first_layout_is_moved_over_in_batches_node_for_node() -> None:
    nodes = reference(chain(77))
    with closing(sqlite3.connect(":memory:")) as db:
        cursor = db.cursor()
        cursor.execute(LEGACY_SQLITE)
        fill_legacy(cursor, nodes, "?")
        cursor.execute(tree.CREATE)
        assert tree.migrate(cursor, batch=10) == len(nodes)
        assert_moved(cursor, nodes, 77)
        assert cursor.execute("SELECT count(*) FROM sqlite_master WHERE name='merkle_nodes'").fetchone() == (0,)
        assert tree.migrate(cursor) == 0  # nothing left to move


@pytest.mark.postgres
def test_the_postgres_index_moves_a_tree_in_the_first_layout_over(postgres_server: str) -> None:
    from ledger.eventlog.kafka.pgindex import PostgresKafkaIndex

    nodes = reference(chain(40))
    with fresh_database(postgres_server) as url:
        with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cursor:
            cursor.execute(LEGACY_POSTGRES)
            fill_legacy(cursor, nodes, "%s")
        index = PostgresKafkaIndex(url)
        try:
            index.create_table()
            assert index.merkle(lambda node, size: ({key: node(*key) for key in nodes}, size)) == (nodes, 40)
        finally:
            index.close()
        with psycopg.connect(url) as conn, conn.cursor() as cursor:
            cursor.execute("SELECT to_regclass('merkle_nodes')")
            assert cursor.fetchone() == (None,)


def test_a_ledger_file_with_the_first_layout_keeps_its_tree_when_reopened(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", keys_dir=tmp_path / "keys")
    ledger = Ledger(settings)
    for n in range(13):
        ledger.handle(c.RegisterCommunity(code=f"CS-YL-{n:03d}", name=f"Street {n}", city="Changsha",
                                          district="Yuelu", street=f"Street {n}", kind="urban_community"))
    head = proofs.tree_head(ledger.log)
    ledger.close()
    with closing(sqlite3.connect(settings.events_path)) as db:  # as the first layout stored it
        hashes = [bytes.fromhex(h) for (h,) in db.execute("SELECT hash FROM stored_events ORDER BY rowid")]
        db.execute(LEGACY_SQLITE)
        fill_legacy(db.cursor(), reference(hashes), "?")
        db.execute(f"DROP TABLE {tree.TABLE}")
        db.commit()
    reopened = Ledger(settings)
    try:
        assert proofs.tree_head(reopened.log) == head
        reopened.handle(c.RegisterCommunity(code="CS-YL-100", name="Street", city="Changsha", district="Yuelu",
                                            street="Street", kind="urban_community"))
        hashes = [bytes.fromhex(record.hash) for record in reopened.iter_log()]
        assert proofs.tree_head(reopened.log) == (14, mth(hashes).hex())
    finally:
        reopened.close()
    with closing(sqlite3.connect(settings.events_path)) as db:
        assert db.execute("SELECT count(*) FROM sqlite_master WHERE name='merkle_nodes'").fetchone() == (0,)
