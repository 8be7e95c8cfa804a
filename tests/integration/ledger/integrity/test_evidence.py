"""Evidence bundles: one retiree's records with inclusion proofs against a signed checkpoint, checked offline
with only the public key; nothing of any other retiree in them."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from uuid import UUID

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.application import Ledger
from ledger.config import Settings
from ledger.errors import ConflictError, NotFoundError
from ledger.integrity.checkpoints import Checkpointer, CheckpointStore, Signer, init_signing_key
from ledger.integrity.evidence import export_evidence, verify_evidence
from tests.integration.ledger.integrity.test_tamper import deliver, seed

RECORD_FIELDS = {"seq", "stream", "version", "topic", "event_id", "state", "prev_hash", "hash", "leaf_index",
                 "audit_path"}


@pytest.fixture
def store(settings: Settings) -> Iterator[CheckpointStore]:
    init_signing_key(settings)
    store = CheckpointStore.for_settings(settings)
    yield store
    store.close()


@pytest.fixture
def two_retirees(ledger: Ledger, store: CheckpointStore, settings: Settings) -> tuple[UUID, UUID]:
    """Two retirees whose events interleave in the log, then a checkpoint at the head (seq 22)."""
    first = seed(ledger, services=2, id_number="430102195505051235")
    second = seed(ledger, services=2, code="ZZ-HT-002", id_number="430202195505050027")
    for _ in range(4):
        deliver(ledger, first, 1)
        deliver(ledger, second, 1, code="ZZ-HT-002")
    Checkpointer(ledger, store, Signer.load(settings)).checkpoint_now()
    return first, second


def lines(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def rewrite(path: Path, change: Callable[[list[dict[str, object]]], list[dict[str, object]]]) -> None:
    path.write_bytes(b"".join(orjson.dumps(entry) + b"\n" for entry in change(lines(path))))


@pytest.fixture
def bundle(ledger: Ledger, store: CheckpointStore, two_retirees: tuple[UUID, UUID], tmp_path: Path) -> Path:
    return export_evidence(ledger, store, two_retirees[0], tmp_path / "bundle")


def test_an_exported_bundle_verifies(bundle: Path, store: CheckpointStore) -> None:
    report = verify_evidence(bundle)
    assert (report.ok, report.checked, report.head, report.signed) == (True, 8, 22, 22)
    assert verify_evidence(bundle, public_key=store.public_key()).ok


def test_a_bundle_holds_the_full_stream_and_nothing_of_anyone_else(
    bundle: Path, ledger: Ledger, two_retirees: tuple[UUID, UUID]
) -> None:
    first, second = two_retirees
    assert sorted(path.name for path in bundle.iterdir()) == [
        "README.txt", "checkpoint.txt", "consistency.ndjson", "public-key.pem", "records.ndjson", "verifier-key.txt"]
    records = lines(bundle / "records.ndjson")
    stream = ledger.log.select_stream(first)
    assert [r["seq"] for r in records] == [r.id for r in stream]
    assert [base64.b64decode(str(r["state"])) for r in records] == [r.state for r in stream]
    assert all(set(record) == RECORD_FIELDS for record in records)
    text = b"".join(path.read_bytes() for path in bundle.iterdir())
    others = [r for r in ledger.iter_log() if r.originator_id != first]
    assert str(second).encode() not in text
    for other in others:  # their stream ids, event ids and states never; their hashes only inside proofs
        assert str(other.originator_id).encode() not in text
        assert other.event_id is None or other.event_id.encode() not in text
        assert base64.b64encode(other.state) not in text
    assert b"Wang Fang" not in text and b"430102195505051235" not in text  # own state stays ciphertext


def test_the_bundles_proofs_check_with_an_rfc_9162_verifier_written_from_the_text(bundle: Path) -> None:
    from ledger.integrity.note import CheckpointText, split
    from tests.unit.ledger.integrity.rfc9162 import h, verify_inclusion

    body = CheckpointText.parse(split((bundle / "checkpoint.txt").read_text())[0])
    for record in lines(bundle / "records.ndjson"):
        leaf = h(b"\x00" + bytes.fromhex(str(record["hash"])))
        path = [bytes.fromhex(step) for step in record["audit_path"]]  # type: ignore[attr-defined]
        assert verify_inclusion(int(str(record["seq"])) - 1, body.tree_size, leaf, path, body.root_hash)


def test_a_bundle_verifies_without_the_data_key(bundle: Path, settings: Settings, tmp_path: Path) -> None:
    shutil.rmtree(settings.keys_path)
    shutil.rmtree(settings.home)
    elsewhere = shutil.copytree(bundle, tmp_path / "auditor-copy")
    assert verify_evidence(elsewhere).ok


def test_another_public_key_is_refused(bundle: Path) -> None:
    report = verify_evidence(bundle, public_key=Signer(Ed25519PrivateKey.generate()).public_key_pem)
    assert (report.ok, report.reason) == (False, "the bundle's public key is not the given public key")


def flip_state_byte(entries: list[dict[str, object]]) -> list[dict[str, object]]:
    state = bytearray(base64.b64decode(str(entries[2]["state"])))
    state[0] ^= 0x01
    entries[2]["state"] = base64.b64encode(bytes(state)).decode()
    return entries


def flip_hex(field: str, index: int) -> Callable[[list[dict[str, object]]], list[dict[str, object]]]:
    def change(entries: list[dict[str, object]]) -> list[dict[str, object]]:
        value = entries[index][field]
        if isinstance(value, list):
            value[0] = ("1" if value[0][0] == "0" else "0") + value[0][1:]
        else:
            entries[index][field] = ("1" if str(value)[0] == "0" else "0") + str(value)[1:]
        return entries
    return change


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (flip_state_byte, "the record's hash does not match its bytes"),
        (flip_hex("hash", 1), "the record's hash does not match its bytes"),
        (flip_hex("prev_hash", 3), "the record's hash does not match its bytes"),
        (flip_hex("audit_path", 3), "the inclusion proof of seq"),
        (lambda entries: entries[1:], "the records are not the whole stream"),
        (lambda entries: [entries[1], entries[0], *entries[2:]], "the records are not the whole stream"),
    ],
    ids=["state-byte", "hash", "prev-hash", "audit-path", "record-dropped", "records-swapped"],
)
def test_changing_one_byte_or_one_record_fails(
    bundle: Path, change: Callable[[list[dict[str, object]]], list[dict[str, object]]], reason: str
) -> None:
    rewrite(bundle / "records.ndjson", change)
    report = verify_evidence(bundle)
    assert not report.ok
    assert report.reason is not None and report.reason.startswith(reason), report.reason
    assert report.first_bad_seq is not None


def test_an_altered_checkpoint_fails(bundle: Path) -> None:
    text = (bundle / "checkpoint.txt").read_text()
    origin, size, rest = text.split("\n", 2)
    (bundle / "checkpoint.txt").write_text(f"{origin}\n{int(size) + 1}\n{rest}")
    report = verify_evidence(bundle)
    assert not report.ok and report.reason is not None and "signature" in report.reason


def test_a_missing_or_malformed_file_fails_without_raising(bundle: Path) -> None:
    (bundle / "records.ndjson").write_text("{not json\n")
    assert verify_evidence(bundle).reason == "records.ndjson line 1 is malformed"
    (bundle / "public-key.pem").unlink()
    assert verify_evidence(bundle).reason == "the bundle has no readable public-key.pem"


def test_a_bundle_extends_an_older_checkpoint_the_auditor_kept_and_not_one_of_another_tree(
    ledger: Ledger, store: CheckpointStore, settings: Settings, two_retirees: tuple[UUID, UUID], tmp_path: Path
) -> None:
    kept = store.latest()
    assert kept is not None
    deliver(ledger, two_retirees[0], 3)
    Checkpointer(ledger, store, Signer.load(settings)).checkpoint_now()
    bundle = export_evidence(ledger, store, two_retirees[0], tmp_path / "later")
    report = verify_evidence(bundle, trusted=kept)
    assert (report.ok, report.checkpoints, report.head) == (True, 2, 25)
    forged_root = "00" * 32
    other_tree = Signer.load(settings).sign(kept.ledger_name, kept.seq, kept.hash, kept.time, forged_root)
    report = verify_evidence(bundle, trusted=other_tree)
    assert (report.ok, report.first_bad_seq) == (False, kept.seq)
    assert report.reason is not None and "does not extend yours" in report.reason
    stranger = Signer(Ed25519PrivateKey.generate()).sign(kept.ledger_name, kept.seq, kept.hash, kept.time, forged_root)
    assert "does not verify" in str(verify_evidence(bundle, trusted=stranger).reason)


def test_export_refuses_when_the_retiree_has_events_after_the_latest_checkpoint(
    ledger: Ledger, store: CheckpointStore, two_retirees: tuple[UUID, UUID], tmp_path: Path
) -> None:
    deliver(ledger, two_retirees[0], 1)
    with pytest.raises(ConflictError, match="after the latest checkpoint"):
        export_evidence(ledger, store, two_retirees[0], tmp_path / "late")


def test_export_refuses_without_a_checkpoint_an_unknown_retiree_or_an_existing_bundle(
    ledger: Ledger, store: CheckpointStore, tmp_path: Path
) -> None:
    retiree = seed(ledger, services=1, id_number="430102195505051235")
    with pytest.raises(ConflictError, match="no signed checkpoint"):
        export_evidence(ledger, store, retiree, tmp_path / "b")
    with pytest.raises(NotFoundError):
        export_evidence(ledger, store, UUID(int=7), tmp_path / "b")
    Checkpointer(ledger, store, Signer.load(ledger.settings)).checkpoint_now()
    export_evidence(ledger, store, retiree, tmp_path / "b")
    with pytest.raises(ConflictError, match="already holds"):
        export_evidence(ledger, store, retiree, tmp_path / "b")
