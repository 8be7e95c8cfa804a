"""The Merkle tree against RFC 9162 itself: MTH by definition, and the RFC's own verification
algorithms (§2.1.3.2, §2.1.4.2), written here from the text, not taken from the production code."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.integrity import merkle
from tests.unit.ledger.integrity.rfc9162 import mth, verify_consistency, verify_inclusion


def stored(leaves: list[bytes]) -> merkle.Node:
    """The perfect subtree roots, as the ledger stores them, computed from the definition."""
    def node(level: int, index: int) -> bytes:
        width = 1 << level
        return mth(leaves[index * width:(index + 1) * width])
    return node


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


@settings(max_examples=150, deadline=None)
@given(entries, st.data())
def test_the_ledgers_own_verifiers_agree_with_the_rfc_on_good_and_altered_proofs(
    leaves: list[bytes], data: st.DataObject
) -> None:
    """What a witness and the offline evidence check run: accepts what the RFC accepts, and only that."""
    node, size = stored(leaves), data.draw(st.integers(1, len(leaves)))
    index, first = data.draw(st.integers(0, size - 1)), data.draw(st.integers(1, size))
    root, old = mth(leaves[:size]), mth(leaves[:first])
    inclusion = merkle.inclusion_path(node, index, size)
    consistency = merkle.consistency_path(node, first, size)
    leaf = merkle.leaf_hash(leaves[index])
    assert merkle.verify_inclusion(index, size, leaf, inclusion, root)
    assert merkle.verify_consistency(first, size, old, root, consistency)
    for at in range(len(inclusion)):
        bad = [*inclusion[:at], flip(inclusion[at]), *inclusion[at + 1:]]
        assert not merkle.verify_inclusion(index, size, leaf, bad, root)
        assert not verify_inclusion(index, size, leaf, bad, root)
    for at in range(len(consistency)):
        bad = [*consistency[:at], flip(consistency[at]), *consistency[at + 1:]]
        assert not merkle.verify_consistency(first, size, old, root, bad)
    assert not merkle.verify_inclusion(index, size, flip(leaf), inclusion, root)
    assert not merkle.verify_inclusion(index, size, leaf, [*inclusion, leaf], root)
    assert not merkle.verify_consistency(first, size, flip(old), root, consistency)
    assert not merkle.verify_consistency(first, size, old, flip(root), consistency)
    assert merkle.verify_consistency(first, size, old, root, [*consistency, root]) is False


def test_the_frontier_has_the_rfc_root_at_every_size() -> None:
    leaves = [bytes([i]) * 32 for i in range(70)]
    frontier = merkle.Frontier()
    assert frontier.root() == mth([])
    for count, leaf in enumerate(leaves, start=1):
        frontier.append(leaf)
        assert (frontier.size, frontier.root()) == (count, mth(leaves[:count]))


SIZES = [0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 255, 256, 257, 300]


def test_a_run_of_leaves_at_once_is_the_same_tree_as_one_by_one() -> None:
    """``Frontier.extend`` (verification's batched levels) against the per-leaf fold and the RFC's MTH:
    from every starting size in ``SIZES`` (0, 1, powers of two, their neighbours, odd sizes), runs of
    every length in ``SIZES``."""
    leaves = [bytes([i % 256, i // 256]) * 16 for i in range(600)]
    for start in SIZES:
        for length in SIZES:
            batched, single = merkle.Frontier(), merkle.Frontier()
            batched.extend(leaves[:start])
            batched.extend(leaves[start:start + length])
            for leaf in leaves[:start + length]:
                single.append(leaf)
            assert batched.size == single.size == start + length
            assert batched.root() == single.root() == mth(leaves[:start + length]), (start, length)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 40), max_size=12))
def test_runs_of_any_lengths_keep_the_rfc_root_at_every_run_end(lengths: list[int]) -> None:
    leaves = [bytes([i % 256]) * 32 for i in range(sum(lengths))]
    frontier, done = merkle.Frontier(), 0
    for length in lengths:
        frontier.extend(leaves[done:done + length])
        done += length
        assert (frontier.size, frontier.root()) == (done, mth(leaves[:done]))
