"""The stored Merkle tree on both backends: proofs an RFC 9162 verifier accepts, a tree grown with
the log, and a tree filled in for a log written before it existed."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import date

import pytest

from ledger import commands as c
from ledger.application import Ledger
from ledger.config import Settings
from ledger.errors import InvalidInputError
from ledger.eventlog import tree
from ledger.integrity import proofs
from tests.backends import backend_settings  # noqa: F401
from tests.conftest import TODAY
from tests.unit.ledger.integrity.test_merkle import mth, verify_consistency, verify_inclusion


def grow(app: Ledger, staff: int) -> None:
    app.handle(c.RegisterCommunity(code="CS-YL-001", name="Yuelu", city="Changsha", district="Yuelu",
                                   street="S", kind="urban_community"))
    for n in range(staff):
        app.handle(c.JoinStaff(community="CS-YL-001", staff_id=f"s{n}", name="Zhou Min", role="volunteer",
                               qualified_social_worker=False, joined_on=date(2015, 1, 1)))


def leaves(app: Ledger) -> list[bytes]:
    return [bytes.fromhex(record.hash) for record in app.iter_log()]


def test_every_proof_verifies_against_the_tree_head(backend_settings: Settings) -> None:  # noqa: F811
    app = Ledger(backend_settings, clock=lambda: TODAY)
    try:
        grow(app, 12)
        chain = leaves(app)
        size, root = proofs.tree_head(app.log)
        assert (size, bytes.fromhex(root)) == (13, mth(chain))
        for tree_size in (1, 5, 8, 13):
            head = mth(chain[:tree_size])
            assert proofs.tree_head(app.log, tree_size)[1] == head.hex()
            for seq in range(1, tree_size + 1):
                proof = proofs.inclusion(app.log, seq, tree_size)
                assert proof.leaf_index == seq - 1
                path = [bytes.fromhex(p) for p in proof.audit_path]
                assert verify_inclusion(seq - 1, tree_size, bytes.fromhex(proof.leaf_hash), path, head)
            for first in range(1, tree_size + 1):
                path = [bytes.fromhex(p) for p in proofs.consistency(app.log, first, tree_size)]
                assert verify_consistency(first, tree_size, mth(chain[:first]), head, path)
        with pytest.raises(InvalidInputError):
            proofs.inclusion(app.log, 14, 14)
        with pytest.raises(InvalidInputError):
            proofs.consistency(app.log, 5, 4)
    finally:
        app.close()


def test_a_log_written_before_the_tree_gets_it_filled_in(settings: Settings) -> None:
    app = Ledger(settings, clock=lambda: TODAY)
    grow(app, 6)
    expected = proofs.tree_head(app.log)
    app.close()
    with closing(sqlite3.connect(settings.events_path)) as db:
        db.execute(f"DELETE FROM {tree.TABLE}")  # as the file was before the tree existed
        db.commit()
    reopened = Ledger(settings, clock=lambda: TODAY)
    try:
        assert proofs.tree_head(reopened.log) == expected
        reopened.handle(c.RegisterCommunity(code="CS-YL-002", name="Y", city="Changsha", district="Y", street="S",
                                            kind="urban_community"))
        assert proofs.tree_head(reopened.log)[1] == mth(leaves(reopened)).hex()
    finally:
        reopened.close()
