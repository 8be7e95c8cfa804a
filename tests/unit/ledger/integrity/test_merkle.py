"""The Merkle tree against RFC 9162 itself: MTH by definition, and the RFC's own verification
algorithms (§2.1.3.2, §2.1.4.2), written here from the text, not taken from the production code."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.integrity import merkle


def h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def mth(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) exactly as RFC 9162 §2.1.1 defines it (leaves are the entries, not yet hashed)."""
    if not leaves:
        return h(b"")
    if len(leaves) == 1:
        return h(b"\x00" + leaves[0])
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return h(b"\x01" + mth(leaves[:k]) + mth(leaves[k:]))


def stored(leaves: list[bytes]) -> merkle.Node:
    """The perfect subtree roots, as the ledger stores them, computed from the definition."""
    def node(level: int, index: int) -> bytes:
        width = 1 << level
        return mth(leaves[index * width:(index + 1) * width])
    return node


def verify_inclusion(leaf_index: int, tree_size: int, leaf: bytes, path: list[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2."""
    if leaf_index >= tree_size:
        return False
    fn, sn, r = leaf_index, tree_size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = h(b"\x01" + p + r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = h(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, path: list[bytes]) -> bool:
    """RFC 9162 §2.1.4.2."""
    if first == second:
        return not path and first_root == second_root
    if not path:
        return False
    if first & (first - 1) == 0:  # a power of two: the old root starts the path
        path = [first_root, *path]
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = h(b"\x01" + c + fr)
            sr = h(b"\x01" + c + sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = h(b"\x01" + sr + c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


def flip(data: bytes) -> bytes:
    return bytes([data[0] ^ 1]) + data[1:]


entries = st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=70)


@settings(max_examples=80, deadline=None)
@given(entries, st.data())
def test_inclusion_proofs_verify_and_fail_on_any_changed_byte(leaves: list[bytes], data: st.DataObject) -> None:
    size = data.draw(st.integers(1, len(leaves)))
    index = data.draw(st.integers(0, size - 1))
    node, root = stored(leaves), mth(leaves[:size])
    assert merkle.root(node, size) == root
    path = merkle.inclusion_path(node, index, size)
    leaf = merkle.leaf_hash(leaves[index])
    assert verify_inclusion(index, size, leaf, path, root)
    assert not verify_inclusion(index, size, flip(leaf), path, root)
    assert not verify_inclusion(index, size, leaf, path, flip(root))
    if path:
        at = data.draw(st.integers(0, len(path) - 1))
        assert not verify_inclusion(index, size, leaf, [*path[:at], flip(path[at]), *path[at + 1:]], root)


@settings(max_examples=80, deadline=None)
@given(entries, st.data())
def test_consistency_proofs_verify_and_fail_on_any_changed_byte(leaves: list[bytes], data: st.DataObject) -> None:
    second = data.draw(st.integers(1, len(leaves)))
    first = data.draw(st.integers(1, second))
    node = stored(leaves)
    old, new = mth(leaves[:first]), mth(leaves[:second])
    path = merkle.consistency_path(node, first, second)
    assert verify_consistency(first, second, old, new, path)
    if first < second:
        assert not verify_consistency(first, second, flip(old), new, path)
        assert not verify_consistency(first, second, old, flip(new), path)
        at = data.draw(st.integers(0, len(path) - 1))
        assert not verify_consistency(first, second, old, new, [*path[:at], flip(path[at]), *path[at + 1:]])


def test_a_leaf_completes_the_subtrees_above_it() -> None:
    assert merkle.completed(0) == []
    assert merkle.completed(1) == [(1, 0)]
    assert merkle.completed(3) == [(1, 1), (2, 0)]
    assert merkle.completed(7) == [(1, 3), (2, 1), (3, 0)]
