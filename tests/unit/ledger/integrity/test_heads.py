"""TreeHeads: the RFC 9162 root at every size asked, in-process and from the helper process alike, and
verification reporting exactly the same thing whichever computes the tree."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.eventlog.base import as_rows
from ledger.integrity import heads
from ledger.integrity.checkpoints import Checkpoint, Signer
from ledger.integrity.heads import TreeHeads, TreeWorkerError
from ledger.integrity.verify import RUN, VerifyReport, verify_rows
from tests.unit.ledger.integrity.rfc9162 import mth
from tests.unit.ledger.integrity.test_tamper import (
    Records,
    alter_state_byte,
    append_forged,
    delete,
    rewrite_from,
    sign_at,
    swap,
    synthetic_log,
    truncate,
)

LEAVES = [bytes([i % 256, i // 256]) * 16 for i in range(700)]
RUNS = [0, 1, 2, 3, 5, 8, 16, 31, 32, 33, 64, 100, 127, 128, 129]


@pytest.fixture(autouse=True)
def two_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """The helper process is used only with a second core; these tests run it on any machine."""
    monkeypatch.setattr(heads, "_has_a_second_core", lambda: True)


@pytest.mark.parametrize("handoff", [None, 1, 40, 10_000])
def test_the_root_at_every_size_asked_is_the_rfcs(handoff: int | None) -> None:
    asked, done = [], 0
    with TreeHeads(handoff) as tree:
        for length in RUNS * 2:
            run = LEAVES[done:done + length]
            tree.extend(run)
            done += len(run)
            tree.ask()
            asked.append(done)
            if length % 2:
                tree.ask()  # twice at one size: answered twice
                asked.append(done)
        assert tree.in_child is (handoff is not None and handoff <= done)
        answers = tree.answers(wait=True)
        assert tree.answers(wait=True) == []
    assert [size for size, _ in answers] == asked
    assert all(root == mth(LEAVES[:size]) for size, root in answers)


def test_the_empty_tree_and_a_handoff_before_any_leaf() -> None:
    with TreeHeads(0) as tree:
        tree.ask()
        tree.extend([])
        tree.extend(LEAVES[:3])
        tree.ask()
        assert tree.in_child
        assert tree.answers(wait=True) == [(0, mth([])), (3, mth(LEAVES[:3]))]


def test_more_roots_asked_than_the_pipe_holds_are_all_answered() -> None:
    leaves = [n.to_bytes(32, "big") for n in range(3 * heads.OWED_MAX)]
    with TreeHeads(1) as tree:
        for leaf in leaves:
            tree.extend([leaf])
            tree.ask()
        answers = tree.answers(wait=True)
    assert [size for size, _ in answers] == list(range(1, len(leaves) + 1))
    assert answers[-1] == (len(leaves), mth(leaves))


def test_a_helper_that_stops_fails_the_call_instead_of_answering() -> None:
    with TreeHeads(1) as tree:
        tree.extend(LEAVES[:5])
        tree.ask()
        assert tree.answers(wait=True) == [(5, mth(LEAVES[:5]))]
        assert tree._child is not None
        tree._child.kill()
        tree._child.wait()
        with pytest.raises(TreeWorkerError, match="stopped"):
            tree.extend(LEAVES[5:10])
            tree.ask()
            tree.answers(wait=True)


def test_a_frontier_resumes_only_from_as_many_roots_as_its_size_has_bits() -> None:
    from ledger.integrity import merkle

    whole = merkle.Frontier()
    whole.extend(LEAVES[:13])
    resumed = merkle.Frontier.resume(13, whole.roots)
    resumed.extend(LEAVES[13:40])
    assert resumed.root() == mth(LEAVES[:40])
    with pytest.raises(ValueError):
        merkle.Frontier.resume(12, whole.roots)


# ---- verification: the same report whichever computes the tree --------------------------------------------


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer(Ed25519PrivateKey.generate())


SIZE = 2 * RUN + 40


def wrong_root(records: Records, seq: int, signer: Signer) -> Checkpoint:
    """A validly signed checkpoint with the right chain hash at ``seq`` and the root of another size."""
    other = sign_at(records, [seq - 1], signer)[0].root_hash
    return signer.sign("ledger", seq, records[seq - 1].hash, "2026-06-30T08:00:00Z", other)


def cases(records: Records, signer: Signer) -> dict[str, tuple[Records, list[Checkpoint]]]:
    signed = sign_at(records, [7, RUN, RUN + 3, 2 * RUN + 1, SIZE], signer)
    bad_root = [c if c.seq != RUN + 3 else wrong_root(records, RUN + 3, signer) for c in signed]
    return {
        "untouched": (records, signed),
        "a state byte changed": (alter_state_byte(records, RUN + 9), signed),
        "an event deleted": (delete(records, 2 * RUN + 5), signed),
        "two events swapped": (swap(records, 30, RUN + 30), signed),
        "a forged event appended": (append_forged(records), signed),
        "rewritten under a checkpoint": (rewrite_from(records, RUN + 1), signed),
        "truncated": (truncate(records, RUN + 20), signed),
        "a checkpoint of another tree": (records, bad_root),
        "another tree, then a changed byte": (alter_state_byte(records, 2 * RUN + 10), bad_root),
        "another tree, then truncated": (truncate(records, RUN + 20), bad_root),
    }


@pytest.mark.parametrize("handoff", [1, 100, RUN + 5])
def test_verification_reports_the_same_with_the_tree_in_a_helper_process(signer: Signer, handoff: int) -> None:
    records = synthetic_log(SIZE)
    for name, (log, checkpoints) in cases(records, signer).items():
        for require_signed in (False, True):
            def run(handoff: int | None, log: Records = log, checkpoints: list[Checkpoint] = checkpoints,
                    require_signed: bool = require_signed) -> VerifyReport:
                return verify_rows(as_rows(log), checkpoints, signer.public_key_pem, require_signed=require_signed,
                                   root_at=RUN + 3, handoff=handoff)
            alone, helped = run(None), run(handoff)
            assert helped == alone, name
    report = verify_rows(as_rows(records), [], None, handoff=handoff)
    assert report.ok and report.root_hash == mth([bytes.fromhex(r.hash) for r in records]).hex()
    wrong = cases(records, signer)["another tree, then a changed byte"]
    report = verify_rows(as_rows(wrong[0]), wrong[1], signer.public_key_pem, handoff=handoff)
    assert (report.ok, report.first_bad_seq, report.checked, report.signed) == (False, RUN + 3, RUN + 2, RUN)
    assert report.reason == f"the signed checkpoint at seq {RUN + 3} signs another Merkle tree"


def test_verification_closes_its_helper_process(signer: Signer, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[TreeHeads] = []
    hand_off = TreeHeads._hand_off

    def spy(self: TreeHeads, tree: object) -> None:
        hand_off(self, tree)  # type: ignore[arg-type]
        started.append(self)

    monkeypatch.setattr(TreeHeads, "_hand_off", spy)
    records = synthetic_log(SIZE)
    assert verify_rows(as_rows(records), [], None, handoff=10).ok
    assert not verify_rows(as_rows(delete(records, RUN + 50)), [], None, handoff=10).ok
    assert len(started) == 2 and all(tree._child is None for tree in started)


def test_a_helper_that_cannot_start_leaves_the_tree_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_process(*args: object, **kwargs: object) -> None:
        raise OSError("no processes here")

    monkeypatch.setattr(heads.subprocess, "Popen", no_process)
    with TreeHeads(1) as tree:
        tree.extend(LEAVES[:9])
        tree.ask()
        assert not tree.in_child
        assert tree.answers() == [(9, mth(LEAVES[:9]))]
    records = synthetic_log(40)
    report = verify_rows(as_rows(records), [], None, handoff=1)
    assert report == verify_rows(as_rows(records), [], None, handoff=None)


def test_while_the_helper_lags_whole_runs_are_folded_here_and_only_their_roots_sent() -> None:
    """The child is stopped (as if its core were busy): once its pipe is full, runs that are perfect
    subtrees are folded by the parent; a run that is not (here 100 leaves) still goes whole, and every
    root asked is the RFC's."""
    import os
    import signal

    stopped = 256 * (heads.PIPE_BYTES // (256 * 32) + 40)  # more than the pipe holds
    leaves = [n.to_bytes(32, "big") for n in range(stopped + 16 * 256 + 100)]
    with TreeHeads(1) as tree:
        tree.extend(leaves[:256])
        assert tree._child is not None
        os.kill(tree._child.pid, signal.SIGSTOP)
        try:
            for start in range(256, stopped, 256):
                tree.extend(leaves[start:start + 256])
        finally:
            os.kill(tree._child.pid, signal.SIGCONT)
        assert tree.folded_here > 0
        tree.ask()
        for start in range(stopped, stopped + 16 * 256, 256):
            tree.extend(leaves[start:start + 256])
        tree.extend(leaves[stopped + 16 * 256:])
        tree.ask()
        answers = tree.answers(wait=True)
    assert answers == [(stopped, merkle_root(leaves[:stopped])), (len(leaves), merkle_root(leaves))]


def merkle_root(leaves: list[bytes]) -> bytes:
    """The RFC's MTH for long lists (the recursive reference is too slow there): checked against it below."""
    from ledger.integrity import merkle

    frontier = merkle.Frontier()
    for leaf in leaves:
        frontier.append(leaf)
    return frontier.root()


def test_a_subtree_folded_elsewhere_extends_the_frontier_like_its_leaves() -> None:
    from ledger.integrity import merkle

    for start, level in [(0, 0), (0, 3), (8, 3), (16, 2), (24, 3), (20, 2), (31, 0)]:
        frontier, subtree = merkle.Frontier(), merkle.Frontier()
        frontier.extend(LEAVES[:start])
        subtree.extend(LEAVES[start:start + (1 << level)])
        frontier.extend_subtree(level, subtree.root())
        assert (frontier.size, frontier.root()) == (start + (1 << level), mth(LEAVES[:start + (1 << level)]))
    frontier = merkle.Frontier()
    frontier.extend(LEAVES[:4])
    with pytest.raises(ValueError):
        frontier.extend_subtree(3, bytes(32))
