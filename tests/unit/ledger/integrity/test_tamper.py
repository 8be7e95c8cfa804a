"""A backend-neutral tamper kit and its cases: each tampering takes the log as a list of LogRecords and returns
the tampered list; ``verify_log`` must fail at the named seq.

Reuse for another backend: read its log into a list (``list(ledger.iter_log())``), sign checkpoints with
``sign_at``, then run ``assert_detected`` over ``CASES`` (see tests/integration/ledger/integrity/test_tamper.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from uuid import UUID, uuid4, uuid5

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.eventlog.base import GENESIS_HASH, LogRecord
from ledger.integrity.chain import first_break, record_hash
from ledger.integrity.checkpoints import Checkpoint, Signer
from ledger.integrity.verify import verify_log
from tests.unit.ledger.integrity.rfc9162 import mth

Records = list[LogRecord]
STREAMS = [uuid5(UUID(int=0), f"stream-{n}") for n in range(3)]


def relink(records: Sequence[LogRecord], start: int = 0) -> Records:
    """Recomputes prev_hash/hash from index ``start`` on: what a forger with write access does."""
    out = list(records[:start])
    prev_hash = out[-1].hash if out else GENESIS_HASH
    for record in records[start:]:
        draft = dataclasses.replace(record, prev_hash=prev_hash, hash="")
        out.append(dataclasses.replace(draft, hash=record_hash(prev_hash, draft)))
        prev_hash = out[-1].hash
    return out


def synthetic_log(n: int) -> Records:
    """A valid chain of ``n`` events over three streams (state bytes are arbitrary, as ciphertext is)."""
    versions = dict.fromkeys(STREAMS, 0)
    drafts = []
    for seq in range(1, n + 1):
        stream = STREAMS[seq % len(STREAMS)]
        versions[stream] += 1
        drafts.append(LogRecord(id=seq, originator_id=stream, originator_version=versions[stream],
                                topic="tests:Event", state=orjson.dumps({"n": seq}), event_id=str(uuid4()),
                                prev_hash="", hash=""))
    return relink(drafts)


def _at(records: Records, seq: int) -> int:
    return next(index for index, record in enumerate(records) if record.id == seq)


def alter_state_byte(records: Records, seq: int) -> Records:
    """Flips one bit of one stored event's state."""
    out, index = list(records), _at(records, seq)
    state = bytearray(out[index].state)
    state[len(state) // 2] ^= 0x01
    out[index] = dataclasses.replace(out[index], state=bytes(state))
    return out


def delete(records: Records, seq: int) -> Records:
    return [record for record in records if record.id != seq]


def swap(records: Records, a: int, b: int) -> Records:
    """Swaps the contents of two events, each keeping its seq (a reordering)."""
    out, i, j = list(records), _at(records, a), _at(records, b)
    out[i], out[j] = dataclasses.replace(records[j], id=a), dataclasses.replace(records[i], id=b)
    return out


def append_forged(records: Records) -> Records:
    """Appends a self-consistent event (correct prev_hash and hash) that no checkpoint signed."""
    last = records[-1]
    forged = dataclasses.replace(last, id=last.id + 1, originator_version=last.originator_version + 1,
                                 event_id=str(uuid4()), prev_hash=last.hash, hash="")
    return [*records, dataclasses.replace(forged, hash=record_hash(last.hash, forged))]


def rewrite_from(records: Records, seq: int) -> Records:
    """Changes the event at ``seq`` and recomputes a self-consistent chain from there on."""
    return relink(alter_state_byte(records, seq), _at(records, seq))


def truncate(records: Records, seq: int) -> Records:
    """Drops the events from ``seq`` on."""
    return [record for record in records if record.id < seq]


@dataclass(frozen=True)
class Case:
    """A tampering of a log with ``head`` >= 12 signed at ``SIGNED_AT``, and the first seq verify must name."""

    name: str
    tamper: Callable[[Records], Records]
    first_bad_seq: Callable[[int], int]  # from the untouched head


SIGNED_AT = (8,)  # plus the head: the untouched log is fully signed
CASES = [
    Case("one state byte changed", lambda log: alter_state_byte(log, 5), lambda head: 5),
    Case("an event deleted", lambda log: delete(log, 5), lambda head: 5),
    Case("two events swapped", lambda log: swap(log, 4, 7), lambda head: 4),
    Case("a forged event appended", append_forged, lambda head: head + 1),
    Case("rewritten from seq 5 with a recomputed chain", lambda log: rewrite_from(log, 5), lambda head: 8),
    Case("rewritten after the last checkpoint but one", lambda log: rewrite_from(log, 10), lambda head: head),
    Case("truncated below the head checkpoint", lambda log: truncate(log, 10), lambda head: 10),
]


def sign_at(records: Records, seqs: Sequence[int], signer: Signer, ledger_name: str = "ledger") -> list[Checkpoint]:
    by_seq = {record.id: record for record in records}
    chain = [bytes.fromhex(by_seq[seq].hash) for seq in sorted(by_seq)]
    return [signer.sign(ledger_name, seq, by_seq[seq].hash, "2026-06-30T08:00:00Z", mth(chain[:seq]).hex())
            for seq in seqs]


def assert_detected(case: Case, records: Records, signer: Signer) -> None:
    """The untouched ``records`` verify; the tampered ones fail at the case's seq."""
    head = records[-1].id
    checkpoints = sign_at(records, [*SIGNED_AT, head], signer)
    public = signer.public_key_pem
    assert verify_log(records, checkpoints, public, require_signed=True).ok
    report = verify_log(case.tamper(records), checkpoints, public, require_signed=True)
    assert not report.ok
    assert report.first_bad_seq == case.first_bad_seq(head), report.reason


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer(Ed25519PrivateKey.generate())


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_every_tampering_is_detected_at_its_first_bad_seq(case: Case, signer: Signer) -> None:
    assert_detected(case, synthetic_log(15), signer)


def test_a_synthetic_log_is_a_valid_chain() -> None:
    assert first_break(synthetic_log(15)) is None


def test_rewriting_with_a_recomputed_chain_fools_the_chain_alone() -> None:
    assert first_break(rewrite_from(synthetic_log(15), 5)) is None
    assert first_break(append_forged(synthetic_log(15))) is None


def test_swapped_events_are_named_by_the_earlier_seq() -> None:
    report = verify_log(swap(synthetic_log(15), 4, 7), [], Signer(Ed25519PrivateKey.generate()).public_key_pem)
    assert (report.ok, report.first_bad_seq, report.checked, report.head) == (False, 4, 3, 15)
    assert report.reason == "prev_hash does not link to the previous event"
