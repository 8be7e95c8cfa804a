"""Evidence bundles: export one retiree's records with the chain to a signed checkpoint, verify them offline."""

from __future__ import annotations

import base64
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from uuid import UUID

import orjson
import pytest

from ledger.application import Ledger
from ledger.config import Settings
from ledger.errors import ConflictError, NotFoundError
from ledger.integrity.checkpoints import Checkpointer, CheckpointStore, Signer, init_signing_key
from ledger.integrity.evidence import export_evidence, verify_evidence
from tests.integration.ledger.integrity.test_tamper import deliver, seed

LINK_FIELDS = {"seq", "stream", "version", "topic", "event_id", "state_sha256", "prev_hash", "hash"}


@pytest.fixture
def store(settings: Settings) -> Iterator[CheckpointStore]:
    init_signing_key(settings)
    store = CheckpointStore.for_settings(settings)
    yield store
    store.close()


@pytest.fixture
def two_retirees(ledger: Ledger, store: CheckpointStore, settings: Settings) -> tuple[UUID, UUID]:
    """Two retirees whose events interleave in the log, then a checkpoint at the head (seq 22)."""
    first = seed(ledger, services=2)
    second = seed(ledger, services=2, code="ZZ-HT-002", id_number="430202194808081111")
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
    assert (report.ok, report.checked, report.head, report.signed) == (True, 20, 22, 22)
    assert verify_evidence(bundle, public_key=store.public_key()).ok


def test_a_bundle_holds_the_full_stream_and_only_link_fields_of_other_events(
    bundle: Path, ledger: Ledger, two_retirees: tuple[UUID, UUID]
) -> None:
    first, second = two_retirees
    assert sorted(path.name for path in bundle.iterdir()) == [
        "README.txt", "checkpoint.json", "links.ndjson", "public-key.pem", "records.ndjson"]
    records, links = lines(bundle / "records.ndjson"), lines(bundle / "links.ndjson")
    stream = ledger.log.select_stream(first)
    assert [r["seq"] for r in records] == [r.id for r in stream]
    assert [base64.b64decode(str(r["state"])) for r in records] == [r.state for r in stream]
    assert all(set(link) == LINK_FIELDS for link in links)
    assert str(first) not in {link["stream"] for link in links}
    assert str(second) in {link["stream"] for link in links}
    assert sorted(int(str(e["seq"])) for e in records + links) == list(range(3, 23))
    text = b"".join(path.read_bytes() for path in bundle.iterdir())
    assert b"Wang Fang" not in text and b"430102195505051234" not in text  # state stays ciphertext


def test_a_bundle_verifies_without_the_data_key(bundle: Path, settings: Settings, tmp_path: Path) -> None:
    shutil.rmtree(settings.keys_path)
    shutil.rmtree(settings.home)
    elsewhere = shutil.copytree(bundle, tmp_path / "auditor-copy")
    assert verify_evidence(elsewhere).ok


def test_another_public_key_is_refused(bundle: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    report = verify_evidence(bundle, public_key=Signer(Ed25519PrivateKey.generate()).public_key_pem)
    assert (report.ok, report.reason) == (False, "the bundle's public key is not the given public key")


def flip_state_byte(entries: list[dict[str, object]]) -> list[dict[str, object]]:
    state = bytearray(base64.b64decode(str(entries[2]["state"])))
    state[0] ^= 0x01
    entries[2]["state"] = base64.b64encode(bytes(state)).decode()
    return entries


def flip_hex(field: str, index: int) -> Callable[[list[dict[str, object]]], list[dict[str, object]]]:
    def change(entries: list[dict[str, object]]) -> list[dict[str, object]]:
        value = str(entries[index][field])
        entries[index][field] = ("1" if value[0] == "0" else "0") + value[1:]
        return entries
    return change


@pytest.mark.parametrize(
    ("file", "change", "reason"),
    [
        ("records.ndjson", flip_state_byte, "the record's state does not match its digest"),
        ("records.ndjson", flip_hex("hash", 1), "hash does not match the event"),
        ("links.ndjson", flip_hex("state_sha256", 3), "hash does not match the event"),
        ("links.ndjson", flip_hex("prev_hash", 3), "prev_hash does not link to the previous event"),
        ("links.ndjson", lambda entries: [*entries[:3], *entries[4:]], "the bundle has no record or link for seq"),
        ("records.ndjson", lambda entries: entries[1:], "the records are not the whole stream"),
    ],
    ids=["record-state-byte", "record-hash", "link-digest", "link-prev-hash", "link-dropped", "record-dropped"],
)
def test_changing_one_byte_of_a_record_or_a_link_fails(
    bundle: Path, file: str, change: Callable[[list[dict[str, object]]], list[dict[str, object]]], reason: str
) -> None:
    rewrite(bundle / file, change)
    report = verify_evidence(bundle)
    assert not report.ok
    assert report.reason is not None and report.reason.startswith(reason)
    assert report.first_bad_seq is not None


def test_a_record_of_the_stream_hidden_among_the_links_fails(bundle: Path) -> None:
    records = lines(bundle / "records.ndjson")
    hidden = records.pop()
    del hidden["state"]
    rewrite(bundle / "records.ndjson", lambda _: records)
    rewrite(bundle / "links.ndjson", lambda links: sorted([*links, hidden], key=lambda e: int(str(e["seq"]))))
    report = verify_evidence(bundle)
    assert (report.ok, report.first_bad_seq) == (False, hidden["seq"])
    assert report.reason == "an event of the retiree's stream is left out of the records"


def test_an_altered_checkpoint_fails(bundle: Path) -> None:
    checkpoint = orjson.loads((bundle / "checkpoint.json").read_bytes())
    checkpoint["seq"] = 21
    (bundle / "checkpoint.json").write_bytes(orjson.dumps(checkpoint))
    report = verify_evidence(bundle)
    assert (report.ok, report.first_bad_seq) == (False, 21)
    assert report.reason == "the checkpoint signature does not verify with the public key"


def test_a_missing_or_malformed_file_fails_without_raising(bundle: Path) -> None:
    (bundle / "links.ndjson").write_text("{not json\n")
    assert verify_evidence(bundle).reason == "links.ndjson line 1 is malformed"
    (bundle / "public-key.pem").unlink()
    assert verify_evidence(bundle).reason == "the bundle has no readable public-key.pem"


def test_export_refuses_when_the_retiree_has_events_after_the_latest_checkpoint(
    ledger: Ledger, store: CheckpointStore, two_retirees: tuple[UUID, UUID], tmp_path: Path
) -> None:
    deliver(ledger, two_retirees[0], 1)
    with pytest.raises(ConflictError, match="after the latest checkpoint"):
        export_evidence(ledger, store, two_retirees[0], tmp_path / "late")


def test_export_refuses_without_a_checkpoint_an_unknown_retiree_or_an_existing_bundle(
    ledger: Ledger, store: CheckpointStore, tmp_path: Path
) -> None:
    retiree = seed(ledger, services=1)
    with pytest.raises(ConflictError, match="no signed checkpoint"):
        export_evidence(ledger, store, retiree, tmp_path / "b")
    with pytest.raises(NotFoundError):
        export_evidence(ledger, store, UUID(int=7), tmp_path / "b")
    Checkpointer(ledger, store, Signer.load(ledger.settings)).checkpoint_now()
    export_evidence(ledger, store, retiree, tmp_path / "b")
    with pytest.raises(ConflictError, match="already holds"):
        export_evidence(ledger, store, retiree, tmp_path / "b")
