"""Checkpoints, the signing key files and the append-only checkpoint store."""

from __future__ import annotations

import sqlite3
import stat
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.config import Settings
from ledger.errors import ConflictError, InvalidInputError, NotFoundError
from ledger.integrity.chain import raw_public_key
from ledger.integrity.checkpoints import (
    SIGNING_DOMAIN,
    Checkpoint,
    CheckpointStore,
    Signer,
    checkpoint_bytes,
    init_signing_key,
    public_key_path,
)

HASH = "ab" * 32
ROOT = "cd" * 32


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home")


def test_the_signature_covers_a_canonical_array_with_a_domain_tag() -> None:
    assert checkpoint_bytes("ledger", 7, HASH, "2026-06-30T08:00:00Z") == orjson.dumps(
        [SIGNING_DOMAIN, "ledger", 7, HASH, "2026-06-30T08:00:00Z"]
    )


def test_init_signing_key_writes_a_private_key_0600_and_publishes_the_public_key(settings: Settings) -> None:
    path = init_signing_key(settings)
    assert path == settings.keys_path / "signing.key"
    assert not path.is_relative_to(settings.home)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    signer = Signer.load(settings)
    public = public_key_path(settings).read_bytes()
    assert public == signer.public_key_pem and public.startswith(b"-----BEGIN PUBLIC KEY-----")
    store = CheckpointStore.for_settings(settings)
    assert store.public_key() == public
    store.close()


def test_init_signing_key_refuses_to_overwrite_an_existing_key(settings: Settings) -> None:
    path = init_signing_key(settings)
    before = path.read_bytes()
    with pytest.raises(ConflictError, match="refusing to overwrite"):
        init_signing_key(settings)
    assert path.read_bytes() == before


def test_loading_a_missing_signing_key_says_how_to_make_one(settings: Settings) -> None:
    with pytest.raises(NotFoundError, match="ledger keys init"):
        Signer.load(settings)


def test_a_signed_checkpoint_round_trips_through_json_and_verifies(settings: Settings) -> None:
    init_signing_key(settings)
    signer = Signer.load(settings)
    checkpoint = signer.sign("ledger", 42, HASH, "2026-06-30T08:00:00Z", ROOT)
    again = Checkpoint.from_json(checkpoint.to_json())
    assert again == checkpoint
    assert again.verifies(signer.public_key_pem)
    assert again.verifies(raw_public_key(signer.public_key_pem))
    assert not Checkpoint.from_json(checkpoint.to_json().replace("42", "43")).verifies(signer.public_key_pem)
    assert not replace(checkpoint, root_hash=HASH).verifies(signer.public_key_pem)
    assert Checkpoint.from_note(checkpoint.note(signer.public_key_pem), signer.public_key_pem) == checkpoint


@pytest.mark.parametrize("text", ["{}", "[1]", "not json", '{"ledger_name": "l", "seq": "1", "hash": "h", '
                                  '"time": "t", "signature": "s"}'])
def test_malformed_checkpoint_json_is_invalid_input(text: str) -> None:
    with pytest.raises(InvalidInputError):
        Checkpoint.from_json(text)


def test_the_store_keeps_checkpoints_in_seq_order_and_names_the_latest(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "audit.db")
    assert store.latest() is None
    made = [Checkpoint("ledger", seq, HASH, "2026-06-30T08:00:00Z", "00") for seq in (1000, 3000, 2000)]
    for checkpoint in made:
        store.append(checkpoint)
    assert [cp.seq for cp in store.checkpoints()] == [1000, 2000, 3000]
    assert [cp.seq for cp in store.checkpoints(after=1000, limit=1)] == [2000]
    assert store.latest() == made[1]
    store.close()
    reopened = CheckpointStore(tmp_path / "audit.db")
    assert reopened.latest() == made[1]
    reopened.close()


@pytest.mark.parametrize("statement", ["UPDATE checkpoints SET hash='00'", "DELETE FROM checkpoints",
                                       "UPDATE public_keys SET pem='x'", "DELETE FROM public_keys"])
def test_the_store_is_append_only(tmp_path: Path, statement: str) -> None:
    store = CheckpointStore(tmp_path / "audit.db")
    store.append(Checkpoint("ledger", 1, HASH, "2026-06-30T08:00:00Z", "00"))
    store.add_public_key(b"-----BEGIN PUBLIC KEY-----\n")
    store.close()
    with sqlite3.connect(tmp_path / "audit.db") as db, pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute(statement)


def test_publishing_the_same_public_key_twice_keeps_one_row(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "audit.db")
    store.add_public_key(b"A")
    store.add_public_key(b"A")
    store.add_public_key(b"B")
    assert store.public_key() == b"B"
    store.close()
    with sqlite3.connect(tmp_path / "audit.db") as db:
        assert db.execute("SELECT count(*) FROM public_keys").fetchone() == (2,)


def test_a_store_from_before_the_merkle_tree_opens_and_its_checkpoints_still_verify(tmp_path: Path) -> None:
    """Rows written without a root keep it NULL and verify over the bytes they were signed over then."""
    signer = Signer(Ed25519PrivateKey.generate())
    legacy_signature = signer._key.sign(checkpoint_bytes("ledger", 7, HASH, "2026-06-30T08:00:00Z")).hex()
    with sqlite3.connect(tmp_path / "audit.db") as db:
        db.execute("CREATE TABLE checkpoints (id INTEGER PRIMARY KEY AUTOINCREMENT, ledger_name TEXT NOT NULL,"
                   " seq INTEGER NOT NULL, hash TEXT NOT NULL, time TEXT NOT NULL, signature TEXT NOT NULL)")
        db.execute("INSERT INTO checkpoints (ledger_name, seq, hash, time, signature) VALUES (?,?,?,?,?)",
                   ("ledger", 7, HASH, "2026-06-30T08:00:00Z", legacy_signature))
    store = CheckpointStore(tmp_path / "audit.db")
    old = store.latest()
    assert old is not None and old.root_hash is None and old.verifies(signer.public_key_pem)
    new = signer.sign("ledger", 9, HASH, "2026-07-01T08:00:00Z", ROOT)
    store.append(new)
    assert store.checkpoints() == [old, new]
    assert Checkpoint.from_json(old.to_json()) == old
    store.close()
