"""The Merkle tree's stored nodes beside the events (``ledger.integrity.merkle``), in the same file.

Table ``merkle_tree (pos, hash)``: every perfect subtree root as the log grows (level 0 = leaf
hashes), keyed by the order the nodes are made in (:func:`position`: a leaf, then the subtrees it
completes), so an append writes at the table's end: one page, not one per level. :func:`add` runs
inside the transaction that appends the events (the embedded log) or indexes them (the Kafka index),
so the tree and the log can never disagree about what is in them; a file written before the tree
existed is filled in by :func:`fill` when it is opened, and one that keeps its nodes by ``(level,
idx)`` (``merkle_nodes``, the first layout) is moved over by :func:`migrate`.

The functions take any DB-API cursor: SQLite's (``?`` parameters, the default ``mark``) or psycopg's
(``mark="%s"``, the Kafka index in PostgreSQL, whose table is created from ``CREATE_POSTGRES``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ledger.integrity import merkle

TABLE = "merkle_tree"
CREATE = f"CREATE TABLE IF NOT EXISTS {TABLE} (pos INTEGER PRIMARY KEY, hash BLOB NOT NULL)"
CREATE_POSTGRES = f"CREATE TABLE IF NOT EXISTS {TABLE} (pos bigint PRIMARY KEY, hash bytea NOT NULL)"
LEGACY = "merkle_nodes"
"""The first layout's table, keyed by ``(level, idx)``: an append wrote the end of every level it reached."""
Cursor = Any
"""A DB-API cursor (``sqlite3`` or ``psycopg``)."""


def made_before(leaves: int) -> int:
    """How many nodes a tree of ``leaves`` leaves has: each leaf adds itself and completes one subtree
    per trailing one bit of its index."""
    return 2 * leaves - leaves.bit_count()


def position(level: int, index: int) -> int:
    """Where node ``(level, index)`` is stored: the order it is made in, 0-based. It is made by the leaf
    that ends its subtree, right after that leaf and the ``level - 1`` subtrees below it."""
    last = ((index + 1) << level) - 1
    return made_before(last) + level


def size(c: Cursor) -> int:
    """How many leaves the stored tree has."""
    c.execute(f"SELECT max(pos) FROM {TABLE}")
    row = c.fetchone()
    nodes = 0 if row is None or row[0] is None else int(row[0]) + 1
    leaves = nodes // 2  # made_before(n) lies between 2n - 64 and 2n, and grows with n
    while made_before(leaves) < nodes:
        leaves += 1
    return leaves


def migrate(c: Cursor, mark: str = "?", batch: int = 100_000) -> int:
    """Moves the nodes of the first layout (``LEGACY``), if the database has it, into ``TABLE`` and drops
    it, in the caller's transaction; returns the nodes moved. Run after ``CREATE``."""
    c.execute(f"SELECT 1 FROM sqlite_master WHERE type='table' AND name={mark}" if mark == "?"
              else f"SELECT 1 WHERE to_regclass({mark}) IS NOT NULL", (LEGACY,))
    if c.fetchone() is None:
        return 0
    moved, after = 0, (-1, -1)
    while True:  # in batches, so a long log's tree is never all in memory
        c.execute(f"SELECT level, idx, hash FROM {LEGACY} WHERE (level, idx) > ({mark}, {mark}) "
                  f"ORDER BY level, idx LIMIT {batch}", after)
        rows = c.fetchall()
        if not rows:
            break
        c.executemany(f"INSERT INTO {TABLE} (pos, hash) VALUES ({mark},{mark})",
                      [(position(int(level), int(index)), bytes(digest)) for level, index, digest in rows])
        moved, after = moved + len(rows), (int(rows[-1][0]), int(rows[-1][1]))
    c.execute(f"DROP TABLE {LEGACY}")
    return moved


Nodes = dict[tuple[int, int], bytes]
"""Tree nodes by ``(level, index)``."""


def add(c: Cursor, first_seq: int, chain_hashes: Sequence[str], mark: str = "?", known: Nodes | None = None) -> Nodes:
    """Adds the leaves of seqs ``first_seq, first_seq + 1, ...`` and every node they complete; returns
    the nodes it made. ``known``: stored nodes the caller holds (``frontier`` of the tree before these
    leaves), read instead of selected."""
    made: Nodes = {}

    def node(level: int, index: int) -> bytes:
        found = made.get((level, index)) or (known.get((level, index)) if known else None)
        if found is not None:
            return found
        c.execute(f"SELECT hash FROM {TABLE} WHERE pos={mark}", (position(level, index),))
        return bytes(c.fetchone()[0])

    for offset, chain_hash in enumerate(chain_hashes):
        index = first_seq - 1 + offset
        made[(0, index)] = merkle.leaf_hash(bytes.fromhex(chain_hash))
        for level, parent in merkle.completed(index):
            made[(level, parent)] = merkle.node_hash(node(level - 1, 2 * parent), node(level - 1, 2 * parent + 1))
    c.executemany(f"INSERT INTO {TABLE} (pos, hash) VALUES ({mark},{mark})",
                  [(position(level, index), digest) for (level, index), digest in made.items()])
    return made


def frontier(size: int, nodes: Nodes) -> Nodes:
    """Of ``nodes``, the right edge of the tree of ``size`` leaves: the roots of its perfect subtrees,
    all that adding the next leaves reads. A tree's nodes never change once made (the log only
    grows), so the frontier of a size stays true for as long as the log has that size."""
    edge: Nodes = {}
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            key = (level, start >> level)
            if key in nodes:
                edge[key] = nodes[key]
            start += 1 << level
    return edge


def fill(c: Cursor, head: int, hashes: Iterable[tuple[int, str]]) -> None:
    """Adds the leaves the tree lacks (``hashes``: ``(seq, chain hash)`` from its size + 1 on)."""
    start = size(c) + 1
    if start > head:
        return
    batch: list[str] = []
    first = start
    for seq, chain_hash in hashes:
        if seq < start:
            continue
        batch.append(chain_hash)
        if len(batch) == 10_000:
            add(c, first, batch)
            first, batch = first + len(batch), []
    if batch:
        add(c, first, batch)


def reader(c: Cursor, mark: str = "?") -> merkle.Node:
    """Reads stored nodes (an unknown node is a ``LookupError``)."""
    def node(level: int, index: int) -> bytes:
        c.execute(f"SELECT hash FROM {TABLE} WHERE pos={mark}", (position(level, index),))
        row = c.fetchone()
        if row is None:
            raise LookupError(f"no tree node ({level}, {index})")
        return bytes(row[0])
    return node
