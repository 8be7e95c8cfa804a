"""verify_log: the chain, signed checkpoints, the auditor's trusted checkpoint, streaming and reports."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.errors import InvalidInputError
from ledger.eventlog.base import GENESIS_HASH, LogRecord, as_rows
from ledger.integrity.chain import record_hash
from ledger.integrity.checkpoints import Checkpoint, Signer
from ledger.integrity.verify import PROGRESS_EVERY, RUN, verify_log, verify_rows
from tests.unit.ledger.integrity.rfc9162 import mth
from tests.unit.ledger.integrity.test_tamper import STREAMS, rewrite_from, sign_at, synthetic_log, truncate


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer(Ed25519PrivateKey.generate())


@pytest.fixture(scope="module")
def log() -> list[LogRecord]:
    return synthetic_log(20)


def test_an_untouched_log_verifies_and_reports_what_is_signed(log: list[LogRecord], signer: Signer) -> None:
    report = verify_log(log, sign_at(log, [10], signer), signer.public_key_pem)
    assert (report.ok, report.checked, report.head, report.signed, report.checkpoints) == (True, 20, 20, 10, 1)
    assert report.first_bad_seq is None and report.reason is None


def test_an_empty_log_without_checkpoints_verifies(signer: Signer) -> None:
    report = verify_log([], [], signer.public_key_pem)
    assert (report.ok, report.checked, report.head) == (True, 0, 0)


def test_a_raw_public_key_works_like_pem(log: list[LogRecord], signer: Signer) -> None:
    from ledger.integrity.chain import raw_public_key

    raw = raw_public_key(signer.public_key_pem)
    assert len(raw) == 32
    assert verify_log(log, sign_at(log, [20], signer), raw).ok


def test_a_malformed_public_key_is_invalid_input(log: list[LogRecord]) -> None:
    with pytest.raises(InvalidInputError):
        verify_log(log, [], b"not a key")


def test_a_chain_rewritten_under_a_checkpoint_fails_at_that_checkpoint(log: list[LogRecord], signer: Signer) -> None:
    checkpoints = sign_at(log, [5, 12], signer)
    report = verify_log(rewrite_from(log, 7), checkpoints, signer.public_key_pem)
    assert (report.ok, report.first_bad_seq, report.signed, report.checked) == (False, 12, 5, 11)
    assert report.reason is not None and "signed checkpoint at seq 12" in report.reason
    assert "after seq 5" in report.reason


def test_the_auditors_trusted_checkpoint_catches_a_rewrite_when_the_store_was_emptied(
    log: list[LogRecord], signer: Signer
) -> None:
    trusted = sign_at(log, [15], signer)[0]
    rewritten = rewrite_from(log, 3)
    assert verify_log(rewritten, [], signer.public_key_pem).ok  # the chain alone cannot tell
    report = verify_log(rewritten, [], signer.public_key_pem, trusted=Checkpoint.from_json(trusted.to_json()))
    assert (report.ok, report.first_bad_seq) == (False, 15)
    assert report.reason is not None and "trusted checkpoint" in report.reason


def test_a_log_truncated_below_the_trusted_checkpoint_fails(log: list[LogRecord], signer: Signer) -> None:
    trusted = sign_at(log, [18], signer)[0]
    report = verify_log(truncate(log, 16), [], signer.public_key_pem, trusted=trusted)
    assert (report.ok, report.first_bad_seq, report.checked, report.head) == (False, 16, 15, 15)
    assert report.reason == "the log ends at seq 15, below the trusted checkpoint at seq 18"


@pytest.mark.parametrize(
    "alter",
    [
        lambda cp: dataclasses.replace(cp, hash="0" * 64),
        lambda cp: dataclasses.replace(cp, seq=cp.seq + 1),
        lambda cp: dataclasses.replace(cp, time="2030-01-01T00:00:00Z"),
        lambda cp: dataclasses.replace(cp, ledger_name="other"),
        lambda cp: dataclasses.replace(cp, signature=cp.signature[:-2] + ("00" if cp.signature[-2:] != "00" else "01")),
        lambda cp: dataclasses.replace(cp, signature="zz"),
    ],
    ids=["hash", "seq", "time", "ledger", "signature", "not-hex"],
)
def test_an_altered_checkpoint_fails_its_signature(log: list[LogRecord], signer: Signer, alter: object) -> None:
    checkpoint = sign_at(log, [10], signer)[0]
    forged = alter(checkpoint)  # type: ignore[operator]
    report = verify_log(log, [forged], signer.public_key_pem)
    assert (report.ok, report.first_bad_seq, report.checked) == (False, forged.seq, 0)
    assert report.reason is not None and "signature does not verify" in report.reason


def test_a_checkpoint_signed_by_another_key_fails(log: list[LogRecord], signer: Signer) -> None:
    forger = Signer(Ed25519PrivateKey.generate())
    report = verify_log(log, sign_at(log, [10], forger), signer.public_key_pem)
    assert (report.ok, report.first_bad_seq) == (False, 10)


def test_a_checkpoint_of_another_ledger_fails_when_the_ledger_is_named(log: list[LogRecord], signer: Signer) -> None:
    checkpoints = sign_at(log, [10], signer, ledger_name="zhuzhou")
    assert verify_log(log, checkpoints, signer.public_key_pem).ok
    report = verify_log(log, checkpoints, signer.public_key_pem, ledger_name="changsha")
    assert (report.ok, report.reason) == (False, "checkpoint at seq 10 belongs to another ledger")


def test_unsigned_events_fail_only_when_signatures_are_required(log: list[LogRecord], signer: Signer) -> None:
    checkpoints = sign_at(log, [17], signer)
    assert verify_log(log, checkpoints, signer.public_key_pem).ok
    report = verify_log(log, checkpoints, signer.public_key_pem, require_signed=True)
    assert (report.ok, report.first_bad_seq, report.checked, report.signed) == (False, 18, 20, 17)


def test_verification_streams_one_pass_and_reports_progress(signer: Signer) -> None:
    total = 2 * PROGRESS_EVERY + 7
    records = synthetic_log(total)
    seen: list[int] = []

    def once() -> Iterator[LogRecord]:
        yield from records

    report = verify_log(once(), sign_at(records, [total], signer), signer.public_key_pem, progress=seen.append)
    assert report.ok and report.checked == total
    assert seen == [PROGRESS_EVERY, 2 * PROGRESS_EVERY, total]


def test_reasons_carry_no_event_contents(log: list[LogRecord], signer: Signer) -> None:
    tampered = list(log)
    tampered[3] = dataclasses.replace(tampered[3], state=b"Wang Fang 430102195505051234")
    report = verify_log(tampered, [], signer.public_key_pem)
    assert report.first_bad_seq == 4
    assert report.reason == "hash does not match the stored bytes"


def test_memory_does_not_grow_with_the_number_of_events(signer: Signer) -> None:
    import tracemalloc

    def lazy_log(n: int) -> Iterator[LogRecord]:
        prev_hash = GENESIS_HASH
        for seq in range(1, n + 1):
            draft = LogRecord(id=seq, originator_id=STREAMS[0], originator_version=seq, topic="tests:Event",
                               state=b"x" * 300, event_id=None, prev_hash=prev_hash, hash="")
            prev_hash = record_hash(prev_hash, draft)
            yield dataclasses.replace(draft, hash=prev_hash)

    peaks = []
    for n in (1_000, 20_000):
        tracemalloc.start()
        assert verify_log(lazy_log(n), [], signer.public_key_pem).checked == n
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < 64 * 1024 and peaks[1] < 2 * peaks[0] + 16 * 1024


def test_checkpoint_roots_are_checked_at_any_size_between_runs_of_leaves(signer: Signer) -> None:
    """The tree is folded in runs (``RUN`` leaves, or up to the next checkpoint): a checkpoint just
    before, at and after a run's end, and far from one, has its root checked, and a wrong root is
    named at its own seq."""
    total = 3 * RUN + 5
    records = synthetic_log(total)
    seqs = [1, 2, RUN - 1, RUN, RUN + 1, 2 * RUN + 3, total]
    checkpoints = sign_at(records, seqs, signer)
    report = verify_log(records, checkpoints, signer.public_key_pem, require_signed=True)
    assert (report.ok, report.signed, report.checkpoints) == (True, total, len(seqs))
    assert report.root_hash == checkpoints[-1].root_hash
    for bad in seqs:
        wrong = signer.sign("ledger", bad, records[bad - 1].hash, "2026-06-30T08:00:00Z",
                            sign_at(records, [bad + 1 if bad < total else bad - 1], signer)[0].root_hash)
        others = [c for c in checkpoints if c.seq != bad]
        report = verify_log(records, [*others, wrong], signer.public_key_pem)
        assert (report.ok, report.first_bad_seq, report.checked) == (False, bad, bad - 1), bad
        assert report.reason is not None and "signs another Merkle tree" in report.reason
        assert report.signed == max((seq for seq in seqs if seq < bad), default=0)


def test_the_root_at_a_size_is_reported_between_runs_of_leaves() -> None:
    records = synthetic_log(2 * RUN + 9)
    chain = [bytes.fromhex(record.hash) for record in records]
    for at in (1, RUN - 1, RUN, RUN + 7, 2 * RUN + 9):
        report = verify_rows(as_rows(records), [], None, root_at=at)
        assert report.ok and report.root_at == mth(chain[:at]).hex(), at
        assert report.root_hash == mth(chain).hex()
