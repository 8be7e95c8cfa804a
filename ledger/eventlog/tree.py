"""The Merkle tree's stored nodes beside the events (``ledger.integrity.merkle``), in the same file.

Table ``merkle_nodes (level, idx, hash)``: every perfect subtree root as the log grows (level 0 =
leaf hashes). :func:`add` runs inside the transaction that appends the events (the embedded log)
or indexes them (the Kafka index), so the tree and the log can never disagree about what is in
them; a file written before the tree existed is filled in by :func:`fill` when it is opened.

The functions take any DB-API cursor: SQLite's (``?`` parameters, the default ``mark``) or psycopg's
(``mark="%s"``, the Kafka index in PostgreSQL, whose table is created from ``CREATE_POSTGRES``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ledger.integrity import merkle

TABLE = "merkle_nodes"
CREATE = (f"CREATE TABLE IF NOT EXISTS {TABLE} (level INTEGER NOT NULL, idx INTEGER NOT NULL, "
          "hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID")
CREATE_POSTGRES = (f"CREATE TABLE IF NOT EXISTS {TABLE} (level integer NOT NULL, idx bigint NOT NULL, "
                   "hash bytea NOT NULL, PRIMARY KEY (level, idx))")
Cursor = Any
"""A DB-API cursor (``sqlite3`` or ``psycopg``)."""


def size(c: Cursor) -> int:
    """How many leaves the stored tree has."""
    c.execute(f"SELECT max(idx) FROM {TABLE} WHERE level=0")
    row = c.fetchone()
    return 0 if row is None or row[0] is None else int(row[0]) + 1


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
        c.execute(f"SELECT hash FROM {TABLE} WHERE level={mark} AND idx={mark}", (level, index))
        return bytes(c.fetchone()[0])

    for offset, chain_hash in enumerate(chain_hashes):
        index = first_seq - 1 + offset
        made[(0, index)] = merkle.leaf_hash(bytes.fromhex(chain_hash))
        for level, parent in merkle.completed(index):
            made[(level, parent)] = merkle.node_hash(node(level - 1, 2 * parent), node(level - 1, 2 * parent + 1))
    c.executemany(f"INSERT INTO {TABLE} (level, idx, hash) VALUES ({mark},{mark},{mark})",
                  [(level, index, digest) for (level, index), digest in made.items()])
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
        c.execute(f"SELECT hash FROM {TABLE} WHERE level={mark} AND idx={mark}", (level, index))
        row = c.fetchone()
        if row is None:
            raise LookupError(f"no tree node ({level}, {index})")
        return bytes(row[0])
    return node
