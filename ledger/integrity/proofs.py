"""Merkle proofs over the stored log, in RFC 9162's shapes (the auditors' use cases).

Sizes and seqs are checked against the tree as stored: a proof for a tree larger than the log,
or a leaf outside it, is an ``InvalidInputError``; nothing is rebuilt, only stored nodes are read.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.errors import InvalidInputError
from ledger.eventlog.base import EventLog
from ledger.integrity import merkle


@dataclass(frozen=True)
class InclusionProof:
    """RFC 9162 §2.1.3: the event at seq ``leaf_index + 1`` is in the tree of ``tree_size`` leaves."""

    leaf_index: int
    tree_size: int
    leaf_hash: str
    audit_path: list[str]


def tree_head(log: EventLog, tree_size: int | None = None) -> tuple[int, str]:
    """``(tree_size, root_hash hex)`` of the whole stored tree, or of its first ``tree_size`` leaves."""
    def work(node: merkle.Node, size: int) -> tuple[int, str]:
        wanted = size if tree_size is None else _within(tree_size, size, "tree_size")
        return wanted, merkle.root(node, wanted).hex()
    return log.merkle(work)


def inclusion(log: EventLog, seq: int, tree_size: int) -> InclusionProof:
    def work(node: merkle.Node, size: int) -> InclusionProof:
        _within(tree_size, size, "tree_size")
        if not 1 <= seq <= tree_size:
            raise InvalidInputError(f"seq must be between 1 and tree_size ({tree_size})")
        path = merkle.inclusion_path(node, seq - 1, tree_size)
        return InclusionProof(seq - 1, tree_size, node(0, seq - 1).hex(), [p.hex() for p in path])
    return log.merkle(work)


def consistency(log: EventLog, first: int, second: int) -> list[str]:
    """RFC 9162 §2.1.4: the tree of ``first`` leaves is a prefix of the tree of ``second``."""
    def work(node: merkle.Node, size: int) -> list[str]:
        _within(second, size, "second")
        if not 1 <= first <= second:
            raise InvalidInputError("first must be between 1 and second")
        return [p.hex() for p in merkle.consistency_path(node, first, second)]
    return log.merkle(work)


def _within(wanted: int, size: int, name: str) -> int:
    if not 1 <= wanted <= size:
        raise InvalidInputError(f"{name} must be between 1 and the log's size ({size})")
    return wanted
