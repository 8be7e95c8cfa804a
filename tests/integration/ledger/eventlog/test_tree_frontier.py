"""The recorder grows the Merkle tree from the right edge it holds since its last append (no reads of
stored nodes); the nodes it stores equal a tree built from the chain, also when two writers take turns."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ledger import commands as c
from ledger.application import Ledger
from ledger.config import Settings
from ledger.eventlog import tree


def register(ledger: Ledger, n: int) -> None:
    ledger.handle(c.RegisterCommunity(code=f"CS-YL-{n:03d}", name=f"Street {n}", city="Changsha", district="Yuelu",
                                      street=f"Street {n}", kind="urban_community"))


def stored_nodes(path: Path) -> tuple[list[tuple[int, bytes]], list[tuple[int, str]]]:
    with sqlite3.connect(path) as db:
        nodes = db.execute(f"SELECT pos, hash FROM {tree.TABLE} ORDER BY pos").fetchall()
        chain = db.execute("SELECT rowid, hash FROM stored_events ORDER BY rowid").fetchall()
    return nodes, chain


def built_from(chain: list[tuple[int, str]]) -> list[tuple[int, bytes]]:
    db = sqlite3.connect(":memory:")
    cursor = db.cursor()
    cursor.execute(tree.CREATE)
    tree.fill(cursor, len(chain), chain)
    return cursor.execute(f"SELECT pos, hash FROM {tree.TABLE} ORDER BY pos").fetchall()


def test_the_stored_tree_equals_one_built_from_the_chain_when_two_writers_take_turns(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", keys_dir=tmp_path / "keys")
    first, second = Ledger(settings), Ledger(settings)
    try:
        for n in range(45):  # runs of one writer (its held edge is used) and turns (it is stale, so read)
            register(second if n % 7 in (3, 4) else first, n)
    finally:
        first.close()
        second.close()
    nodes, chain = stored_nodes(settings.events_path)
    assert len(chain) == 45
    assert nodes == built_from(chain)
