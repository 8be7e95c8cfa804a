"""Tamper evidence on the SQLite log: real events, real edits of the database file with sqlite3, then verify.

``seed``, ``read_sqlite_log`` and ``SQLiteTamperer`` are shared with the checkpoint and evidence tests.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger import commands as c
from ledger.application import Ledger
from ledger.config import Settings
from ledger.eventlog.base import LogRecord, canonical_id
from ledger.integrity.chain import link_hash
from ledger.integrity.checkpoints import Checkpoint, Checkpointer, CheckpointStore, Signer, init_signing_key
from ledger.integrity.verify import VerifyReport, verify_log
from tests.backends import backend_settings  # noqa: F401  (fixture)
from tests.conftest import TODAY
from tests.people import id_number as id_number_of
from tests.unit.ledger.integrity.test_tamper import CASES, Case, assert_detected

COLUMNS = "rowid, originator_id, originator_version, topic, state, event_id, prev_hash, hash"


BORN = date(1955, 5, 5)
ID_NUMBER = id_number_of(BORN)


def seed(ledger: Ledger, services: int = 10, code: str = "CS-YL-001", id_number: str = ID_NUMBER) -> UUID:
    """A community with one staff member and one managed retiree with ``services`` deliveries: 5 + services events
    (the retiree is born on ``BORN``: another ``id_number`` must carry that date)."""
    ledger.handle(c.RegisterCommunity(code=code, name="Yuelu Street", city="Changsha", district="Yuelu",
                                      street="Yinpenling", kind="urban_community"))
    ledger.handle(c.JoinStaff(community=code, staff_id="s-1", name="Zhou Min", role="full_time",
                              qualified_social_worker=True, joined_on=date(2012, 1, 1)))
    retiree = UUID(ledger.handle(c.Enroll(
        name="Wang Fang", id_number=id_number, sex="female", birth_date=BORN, danwei_code="D-TEX-01",
        danwei_name="Changsha Textile Mill", retirement_date=date(2005, 6, 1), monthly_pension=Decimal("2100"),
        agency="CS-SIA", city="Changsha", district="Yuelu")).id)
    ledger.handle(c.TransferToCommunity(retiree_id=retiree, from_danwei="D-TEX-01", community=code,
                                        effective_date=date(2006, 1, 1), approved_by="agency-1"))
    deliver(ledger, retiree, services, code)
    return retiree


def deliver(ledger: Ledger, retiree: UUID, count: int, code: str = "CS-YL-001") -> None:
    start = ledger.head()
    for n in range(count):
        ledger.handle(c.DeliverService(retiree_id=retiree, service_id=f"sv-{start + n}", community=code,
                                       service_type="home_visit", delivered_on=date(2013, 1, 1) + timedelta(days=n),
                                       staff_id="s-1", duration_minutes=45))


def read_sqlite_log(path: Path) -> Iterator[LogRecord]:
    """The log straight from the database file: no Ledger, no keys (state stays ciphertext)."""
    with closing(sqlite3.connect(path)) as db:
        for row in db.execute(f"SELECT {COLUMNS} FROM stored_events ORDER BY rowid"):
            yield LogRecord(id=row[0], originator_id=UUID(row[1]), originator_version=row[2], topic=row[3],
                            state=row[4], event_id=row[5], prev_hash=row[6], hash=row[7])


class SQLiteTamperer:
    """Edits a ledger's SQLite file the way someone with write access to it could."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _row(self, db: sqlite3.Connection, seq: int) -> tuple[object, ...]:
        row: tuple[object, ...] = db.execute(f"SELECT {COLUMNS} FROM stored_events WHERE rowid=?", (seq,)).fetchone()
        return row

    def alter_state_byte(self, seq: int) -> None:
        with closing(sqlite3.connect(self.path)) as db, db:
            state = bytearray(db.execute("SELECT state FROM stored_events WHERE rowid=?", (seq,)).fetchone()[0])
            state[len(state) // 2] ^= 0x01
            db.execute("UPDATE stored_events SET state=? WHERE rowid=?", (bytes(state), seq))

    def delete(self, seq: int) -> None:
        with closing(sqlite3.connect(self.path)) as db, db:
            db.execute("DELETE FROM stored_events WHERE rowid=?", (seq,))

    def swap(self, a: int, b: int) -> None:
        """Swaps every column but the rowid (seq) of two rows."""
        with closing(sqlite3.connect(self.path)) as db, db:
            row_a, row_b = self._row(db, a), self._row(db, b)
            update = "UPDATE stored_events SET originator_id=?, originator_version=?, topic=?, state=?, event_id=?, " \
                     "prev_hash=?, hash=? WHERE rowid=?"
            db.execute(update, ("parked", -1, "", b"", None, "", "", a))
            db.execute(update, (*row_a[1:], b))
            db.execute(update, (*row_b[1:], a))

    def append_forged(self) -> int:
        """Appends a self-consistent copy of the last event as a new version of its stream; returns its seq."""
        with closing(sqlite3.connect(self.path)) as db, db:
            seq, stream, version, topic, state, _, _, prev_hash = db.execute(
                f"SELECT {COLUMNS} FROM stored_events ORDER BY rowid DESC LIMIT 1").fetchone()
            event_id = str(uuid4())
            digest = link_hash(prev_hash, seq + 1, canonical_id(UUID(stream)), version + 1, topic, event_id, state)
            db.execute(f"INSERT INTO stored_events ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?)",
                       (seq + 1, stream, version + 1, topic, state, event_id, prev_hash, digest))
            return int(seq) + 1

    def rewrite_from(self, seq: int) -> None:
        """Alters the event at ``seq`` and recomputes a self-consistent chain over it and every later row."""
        self.alter_state_byte(seq)
        with closing(sqlite3.connect(self.path)) as db, db:
            prev_hash = db.execute("SELECT prev_hash FROM stored_events WHERE rowid=?", (seq,)).fetchone()[0]
            rows = db.execute(f"SELECT {COLUMNS} FROM stored_events WHERE rowid>=? ORDER BY rowid", (seq,)).fetchall()
            for rowid, stream, version, topic, state, event_id, _, _ in rows:
                digest = link_hash(prev_hash, rowid, canonical_id(UUID(stream)), version, topic, event_id, state)
                db.execute("UPDATE stored_events SET prev_hash=?, hash=? WHERE rowid=?", (prev_hash, digest, rowid))
                prev_hash = digest


@pytest.fixture
def signed(ledger: Ledger, settings: Settings) -> Iterator[tuple[Checkpointer, bytes]]:
    """The ledger with a signing key, a checkpointer and the public key."""
    init_signing_key(settings)
    store = CheckpointStore.for_settings(settings)
    yield Checkpointer(ledger, store, Signer.load(settings), every=5), store.public_key() or b""
    store.close()


def verify(ledger: Ledger, checkpointer: Checkpointer, public: bytes, **options: object) -> VerifyReport:
    return verify_log(ledger.iter_log(), checkpointer.store.checkpoints(), public, **options)  # type: ignore[arg-type]


def test_an_untouched_log_verifies_from_the_file_alone_without_any_key(
    ledger: Ledger, settings: Settings, signed: tuple[Checkpointer, bytes]
) -> None:
    checkpointer, public = signed
    seed(ledger)
    checkpointer.checkpoint_now()
    for key in settings.keys_path.iterdir():
        key.unlink()
    report = verify_log(read_sqlite_log(settings.events_path), checkpointer.store.checkpoints(), public,
                        require_signed=True)
    assert (report.ok, report.checked, report.signed) == (True, 15, 15)


@pytest.fixture
def any_ledger(backend_settings: Settings) -> Iterator[Ledger]:  # noqa: F811
    """A ledger on each backend (SQLite, a real Kafka broker)."""
    app = Ledger(backend_settings, clock=lambda: TODAY)
    yield app
    app.close()


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_every_listed_tampering_of_real_records_is_detected(any_ledger: Ledger, case: Case) -> None:
    seed(any_ledger)
    assert_detected(case, list(any_ledger.iter_log()), Signer(Ed25519PrivateKey.generate()))


def test_a_checkpointed_log_verifies_on_every_backend(any_ledger: Ledger) -> None:
    init_signing_key(any_ledger.settings)
    store = CheckpointStore.for_settings(any_ledger.settings)
    any_ledger.after_append.append(Checkpointer(any_ledger, store, Signer.load(any_ledger.settings), every=4).on_append)
    seed(any_ledger)
    report = verify_log(any_ledger.iter_log(), store.checkpoints(), store.public_key() or b"")
    store.close()
    assert (report.ok, report.checked, report.signed, report.checkpoints) == (True, 15, 12, 3)


@pytest.mark.parametrize(
    ("tamper", "first_bad_seq", "reason"),
    [
        (lambda t: t.alter_state_byte(7), 7, "hash does not match the stored bytes"),
        (lambda t: t.delete(7), 7, "expected seq 7, found seq 8: events missing or reordered"),
        (lambda t: t.swap(6, 9), 6, "prev_hash does not link to the previous event"),
    ],
    ids=["one-state-byte", "delete", "swap-two-rows"],
)
def test_editing_the_sqlite_file_is_detected_at_the_first_bad_seq(
    ledger: Ledger, settings: Settings, signed: tuple[Checkpointer, bytes], tamper: object, first_bad_seq: int,
    reason: str,
) -> None:
    checkpointer, public = signed
    seed(ledger)
    checkpointer.checkpoint_now()
    assert verify(ledger, checkpointer, public).ok
    tamper(SQLiteTamperer(settings.events_path))  # type: ignore[operator]
    report = verify(ledger, checkpointer, public)
    assert (report.ok, report.first_bad_seq, report.reason) == (False, first_bad_seq, reason)
    assert report.checked == first_bad_seq - 1


def test_a_forged_append_is_named_as_the_first_unsigned_event(
    ledger: Ledger, settings: Settings, signed: tuple[Checkpointer, bytes]
) -> None:
    checkpointer, public = signed
    seed(ledger)
    head = checkpointer.checkpoint_now().seq
    forged = SQLiteTamperer(settings.events_path).append_forged()
    assert forged == head + 1 == ledger.head()
    lenient = verify(ledger, checkpointer, public)
    assert (lenient.ok, lenient.head, lenient.signed) == (True, forged, head)  # a chain alone cannot tell
    report = verify(ledger, checkpointer, public, require_signed=True)
    assert (report.ok, report.first_bad_seq) == (False, forged)
    assert report.reason is not None and "not covered by any signed checkpoint" in report.reason


def test_a_rewrite_with_a_recomputed_chain_fails_against_a_later_checkpoint_and_the_trusted_one(
    ledger: Ledger, settings: Settings, signed: tuple[Checkpointer, bytes], tmp_path: Path
) -> None:
    checkpointer, public = signed
    retiree = seed(ledger, services=5)
    first = checkpointer.checkpoint_now()  # seq 10
    deliver(ledger, retiree, 5)
    trusted_file = tmp_path / "auditor" / "trusted.json"
    trusted_file.parent.mkdir()
    trusted_file.write_text(checkpointer.checkpoint_now().to_json())  # seq 15, kept by the auditor
    SQLiteTamperer(settings.events_path).rewrite_from(12)
    trusted = Checkpoint.from_json(trusted_file.read_text())

    report = verify(ledger, checkpointer, public)
    assert (report.ok, report.first_bad_seq, report.signed, report.checked) == (False, 15, first.seq, 14)
    assert report.reason == "differs from the signed checkpoint at seq 15: rewritten after seq 10"

    report = verify_log(ledger.iter_log(), [], public, trusted=trusted)  # the store's checkpoints are gone
    assert (report.ok, report.first_bad_seq) == (False, 15)
    assert report.reason is not None and "trusted checkpoint" in report.reason


def test_a_log_truncated_below_the_trusted_checkpoint_fails(
    ledger: Ledger, settings: Settings, signed: tuple[Checkpointer, bytes]
) -> None:
    checkpointer, public = signed
    seed(ledger)
    trusted = checkpointer.checkpoint_now()
    tamperer = SQLiteTamperer(settings.events_path)
    for seq in (15, 14):
        tamperer.delete(seq)
    report = verify_log(ledger.iter_log(), [], public, trusted=trusted)
    assert (report.ok, report.first_bad_seq, report.head) == (False, 14, 13)


def test_a_checkpoint_altered_in_the_store_fails(
    ledger: Ledger, settings: Settings, signed: tuple[Checkpointer, bytes]
) -> None:
    checkpointer, public = signed
    seed(ledger)
    checkpoint = checkpointer.checkpoint_now()
    with closing(sqlite3.connect(checkpointer.store.path)) as db, db:
        db.execute("DROP TRIGGER checkpoints_no_update")
        db.execute("UPDATE checkpoints SET seq=seq-1")
    report = verify(ledger, checkpointer, public)
    assert (report.ok, report.first_bad_seq) == (False, checkpoint.seq - 1)
    assert report.reason is not None and "signature does not verify" in report.reason
