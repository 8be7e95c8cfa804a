"""A Merkle tree over the log, RFC 9162 §2.1 (Certificate Transparency v2): hashes and proofs.

Leaf ``i`` (0-based) is the event at seq ``i + 1``: ``SHA-256(0x00 ‖ chain_hash_bytes(seq))``;
an interior node is ``SHA-256(0x01 ‖ left ‖ right)``; the tree of ``n`` leaves splits at the
largest power of two below ``n`` (§2.1.1). Only perfect subtrees are stored, as the log grows:
node ``(level, index)`` is the root of leaves ``[index·2^level, (index+1)·2^level)``
(``ledger.eventlog.tree`` keeps them beside the events). Every range the RFC's recursion needs
starts at a multiple of its left part's size, so its hash is one stored node plus the hash of
a shorter range on its right: a root or a proof takes O(log² n) node reads, never a rebuild.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

Node = Callable[[int, int], bytes]
"""Reads the stored perfect subtree root ``(level, index)``; level 0 is the leaf hash."""


def leaf_hash(chain_hash: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + chain_hash).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """The largest power of two smaller than ``n`` (``n`` > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def completed(index: int) -> list[tuple[int, int]]:
    """The perfect subtrees that leaf ``index`` completes, bottom up, as ``(level, index)`` (leaf excluded)."""
    found, level = [], 0
    while index % 2 == 1:
        index //= 2
        level += 1
        found.append((level, index))
    return found


def range_hash(node: Node, lo: int, hi: int) -> bytes:
    """MTH(D[lo:hi]) for a range the RFC recursion produces (``lo`` aligned to its split)."""
    size = hi - lo
    if size & (size - 1) == 0 and lo % size == 0:
        return node(size.bit_length() - 1, lo // size)
    k = split(size)
    return node_hash(range_hash(node, lo, lo + k), range_hash(node, lo + k, hi))


def root(node: Node, size: int) -> bytes:
    """The tree head of the first ``size`` leaves (the hash of the empty string for 0)."""
    return range_hash(node, 0, size) if size else hashlib.sha256(b"").digest()


class Frontier:
    """The roots of a growing tree's perfect subtrees (a compact range): the tree head of a stream of
    leaves in O(log n) memory and amortised two hashes per leaf, with nothing stored (verification)."""

    def __init__(self) -> None:
        self._roots: list[bytes] = []
        self.size = 0

    @classmethod
    def resume(cls, size: int, roots: list[bytes]) -> Frontier:
        """The frontier of ``size`` leaves from its ``roots`` (as ``roots`` gave them)."""
        if len(roots) != size.bit_count() or any(len(root) != 32 for root in roots):
            raise ValueError(f"{len(roots)} roots are not the frontier of {size} leaves")
        frontier = cls()
        frontier._roots, frontier.size = list(roots), size
        return frontier

    @property
    def roots(self) -> list[bytes]:
        """The perfect subtrees' roots, the largest (left-most) first: one per bit set in ``size``."""
        return list(self._roots)

    def append(self, chain_hash: bytes) -> None:
        sha, roots = hashlib.sha256, self._roots
        top, size = sha(b"\x00" + chain_hash).digest(), self.size
        while size & 1:
            top, size = sha(b"\x01" + roots.pop() + top).digest(), size >> 1
        roots.append(top)
        self.size += 1

    def extend(self, chain_hashes: list[bytes]) -> None:
        """Appends a run of leaves at once, the same tree as ``append`` one by one: leaf hashes, then one
        level at a time, each pairing its nodes in one pass (what verification calls, per run of events).

        At level ``l`` the new nodes start right after this frontier's own root of that level, when it
        has one (bit ``l`` of the old size): that root pairs with the first of them. An odd node left
        at the end of a level is the new tree's root of that level.
        """
        sha, roots, size = hashlib.sha256, self._roots, self.size
        nodes = [sha(b"\x00" + chain_hash).digest() for chain_hash in chain_hashes]
        self.size = size + len(nodes)
        lone: list[bytes] = []
        while nodes:
            if size & 1:
                nodes.insert(0, roots.pop())
            if len(nodes) & 1:
                lone.append(nodes[-1])
            pairs = iter(nodes)
            nodes = [sha(b"\x01" + left + right).digest() for left, right in zip(pairs, pairs, strict=False)]
            size >>= 1
        roots.extend(reversed(lone))

    def extend_subtree(self, level: int, subtree_root: bytes) -> None:
        """Appends ``2**level`` leaves at once by the root of their perfect subtree (folded elsewhere);
        the size must be a multiple of ``2**level``, as for a node the RFC's recursion builds."""
        if self.size % (1 << level) or len(subtree_root) != 32:
            raise ValueError(f"no subtree of level {level} starts at leaf {self.size}")
        sha, roots, top, size = hashlib.sha256, self._roots, subtree_root, self.size >> level
        while size & 1:
            top, size = sha(b"\x01" + roots.pop() + top).digest(), size >> 1
        roots.append(top)
        self.size += 1 << level

    def root(self) -> bytes:
        """MTH of the leaves appended so far (the right-most perfect subtrees fold first)."""
        if not self._roots:
            return hashlib.sha256(b"").digest()
        head = self._roots[-1]
        for left in reversed(self._roots[:-1]):
            head = node_hash(left, head)
        return head


def inclusion_path(node: Node, index: int, size: int) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 9162 §2.1.3.1, bottom up."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size}")
    path: list[bytes] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = split(hi - lo)
        if index < lo + k:
            path.append(range_hash(node, lo + k, hi))
            hi = lo + k
        else:
            path.append(range_hash(node, lo, lo + k))
            lo = lo + k
    return path[::-1]


def consistency_path(node: Node, first: int, second: int) -> list[bytes]:
    """PROOF(first, D[0:second]) of RFC 9162 §2.1.4.1 (empty when the sizes are equal)."""
    if not 0 < first <= second:
        raise ValueError(f"no consistency proof from {first} to {second}")
    if first == second:
        return []
    path: list[bytes] = []
    lo, hi, whole = 0, second, True
    while True:
        size = hi - lo
        if first - lo == size:  # SUBPROOF(m, D[m], b): the subtree itself, unless it is the old tree
            if not whole:
                path.append(range_hash(node, lo, hi))
            return path[::-1]
        k = split(size)
        if first - lo <= k:
            path.append(range_hash(node, lo + k, hi))
            hi = lo + k
        else:
            path.append(range_hash(node, lo, lo + k))
            lo, whole = lo + k, False


# ---- verification (what an auditor or a witness runs on proofs it was given) ----------------------


class _Short(Exception):
    pass


class _Path:
    """Hands out a bottom-up proof's hashes top-down (the order the recursions above meet them)."""

    def __init__(self, path: list[bytes]) -> None:
        self.left = list(path)

    def __call__(self) -> bytes:
        if not self.left:
            raise _Short
        return self.left.pop()


def root_from_inclusion(index: int, size: int, leaf: bytes, path: list[bytes]) -> bytes | None:
    """The root that ``path`` (PATH(index, D[0:size]), bottom up) and the leaf hash lead to, walking the
    same splits as :func:`inclusion_path`; None when the path has the wrong length."""
    if not 0 <= index < size:
        return None
    take = _Path(path)

    def walk(lo: int, hi: int) -> bytes:
        if hi - lo == 1:
            return leaf
        k = split(hi - lo)
        sibling = take()
        return node_hash(walk(lo, lo + k), sibling) if index < lo + k else node_hash(sibling, walk(lo + k, hi))
    try:
        found = walk(0, size)
    except _Short:
        return None
    return None if take.left else found


def verify_inclusion(index: int, size: int, leaf: bytes, path: list[bytes], root_hash: bytes) -> bool:
    return root_from_inclusion(index, size, leaf, path) == root_hash


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, path: list[bytes]) -> bool:
    """True when ``path`` (PROOF(first, D[0:second])) shows the tree of ``first`` leaves with
    ``first_root`` is the prefix of the tree of ``second`` leaves with ``second_root``."""
    if not 0 < first <= second:
        return False
    if first == second:
        return not path and first_root == second_root
    take = _Path(path)

    def walk(lo: int, hi: int, whole: bool) -> tuple[bytes, bytes]:  # (old part, new part) of [lo, hi)
        size = hi - lo
        if first - lo == size:
            known = first_root if whole else take()
            return known, known
        k = split(size)
        if first - lo <= k:
            right = take()
            old, new = walk(lo, lo + k, whole)
            return old, node_hash(new, right)
        left = take()
        old, new = walk(lo + k, hi, False)
        return node_hash(left, old), node_hash(left, new)
    try:
        old, new = walk(0, second, True)
    except _Short:
        return False
    return not take.left and old == first_root and new == second_root
