"""Tampering an attacker with write access to the data files but no keys could do, on both backends:
a snapshot moved to another stream, a snapshot byte flipped, an event's ciphertext moved to another
row, a checkpoint of another tree. ``ledger verify`` names each (exit 1) and none decides anything."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from decimal import Decimal
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from api.errors import PROBLEM_BASE
from api.main import create_app
from cli.main import app as cli_app
from ledger import commands as c
from ledger.access import Principal, Role, Scope
from ledger.application import Ledger
from ledger.config import Settings
from ledger.errors import AccessDeniedError, IntegrityViolationError
from ledger.integrity.checkpoints import Checkpointer, CheckpointStore, Signer, init_signing_key
from ledger.integrity.verify import VerifyReport, verify_ledger
from tests.backends import backend_settings  # noqa: F401
from tests.conftest import TODAY
from tests.integration.api.test_app import LOCAL
from tests.integration.ledger.test_sealing import adjust, enroll, rewrite, snapshot_rows, stream_key


@pytest.fixture
def signed(backend_settings: Settings) -> Iterator[tuple[Ledger, CheckpointStore, UUID, UUID]]:  # noqa: F811
    """Two retirees in two cities with one snapshot each (interval 3), and a checkpoint at the head."""
    # no aggregate cache: every load reads the files as an attacker left them (as after a restart)
    settings = Settings(**{**backend_settings.__dict__, "snapshot_interval": 3, "aggregate_cache": 0})
    init_signing_key(settings)
    ledger, store = Ledger(settings, clock=lambda: TODAY), CheckpointStore.for_settings(settings)
    changsha = enroll(ledger, "43010219500101123X", "Changsha", "Wang Fang")
    zhuzhou = enroll(ledger, "430202195001011235", "Zhuzhou", "Li Hua")
    adjust(ledger, changsha, 2)
    adjust(ledger, zhuzhou, 2)
    Checkpointer(ledger, store, Signer.load(settings)).checkpoint_now()
    yield ledger, store, changsha, zhuzhou
    store.close()
    ledger.close()


def verify(ledger: Ledger, store: CheckpointStore, **options: object) -> VerifyReport:
    return verify_ledger(ledger, store, **options)  # type: ignore[arg-type]


def raise_pension(ledger: Ledger, retiree: UUID) -> None:
    current = ledger.retiree(retiree).monthly_pension
    ledger.handle(c.AdjustPension(retiree_id=retiree, previous_amount=current, new_amount=current + 1,
                                  effective_month="2012-01", reason="annual_adjustment"))


def cli_verify(settings: Settings, *args: str) -> Result:
    env = {"LEDGER_HOME": str(settings.home), "LEDGER_LOG": settings.log_url, "LEDGER_NAME": settings.ledger_name,
           "LEDGER_KAFKA_TOPIC": settings.kafka_topic, "COLUMNS": "200"}
    return CliRunner().invoke(cli_app, ["verify", *args], env=env)


def test_the_untouched_ledger_verifies_with_its_snapshots_and_tree(
    signed: tuple[Ledger, CheckpointStore, UUID, UUID]
) -> None:
    ledger, store, _, _ = signed
    report = verify(ledger, store, require_signed=True)
    assert (report.ok, report.checked, report.signed, report.snapshots, report.bad_snapshots) == (True, 8, 8, 2, [])
    result = cli_verify(ledger.settings)
    assert result.exit_code == 0 and "2 snapshot(s) sound" in result.output, result.output


def test_a_snapshot_moved_to_another_stream_is_named_and_decides_nothing(
    signed: tuple[Ledger, CheckpointStore, UUID, UUID]
) -> None:
    ledger, store, changsha, zhuzhou = signed
    table, rows = snapshot_rows(ledger)
    (source,), (target,) = stream_key(rows, zhuzhou), stream_key(rows, changsha)
    rewrite(ledger, table, "state=? WHERE originator_id=? AND originator_version=?", source[2], target[0], target[1])
    report = verify(ledger, store)
    assert not report.ok
    assert report.bad_snapshots == [{"stream": str(changsha), "version": 3,
                                     "reason": "does not open where it is stored"}]
    result = cli_verify(ledger.settings)
    assert result.exit_code == 1 and f"snapshot of {changsha} at version 3" in result.output, result.output
    assert ledger.retiree(changsha).city == "Changsha"  # served from the events
    with pytest.raises(AccessDeniedError):  # access follows the events, not the forged snapshot
        ledger.handle(c.AdjustPension(retiree_id=changsha, previous_amount=Decimal("2001"), new_amount=Decimal("2100"),
                                      effective_month="2010-01", reason="annual_adjustment"),
                      c.Context(access=Principal("z1", Role.AGENCY, Scope.parse("city:Zhuzhou"))))


def test_a_flipped_byte_in_a_snapshot_is_named_and_the_stream_still_answers(
    signed: tuple[Ledger, CheckpointStore, UUID, UUID]
) -> None:
    ledger, store, changsha, _ = signed
    table, rows = snapshot_rows(ledger)
    (row,) = stream_key(rows, changsha)
    flipped = bytes(row[2][:20]) + bytes([row[2][20] ^ 1]) + bytes(row[2][21:])
    rewrite(ledger, table, "state=? WHERE originator_id=? AND originator_version=?", flipped, row[0], row[1])
    report = verify(ledger, store)
    assert (report.ok, [bad["stream"] for bad in report.bad_snapshots]) == (False, [str(changsha)])
    assert cli_verify(ledger.settings).exit_code == 1
    assert ledger.retiree(changsha).monthly_pension == Decimal("2002")


def test_an_event_ciphertext_moved_to_another_row_is_named_and_never_decides(
    signed: tuple[Ledger, CheckpointStore, UUID, UUID]
) -> None:
    """On SQLite the log itself is edited; on Kafka the topic cannot be, so the index is: verifying
    the index names the row, the topic still verifies, and the moved state never opens."""
    ledger, _, changsha, _ = signed
    raise_pension(ledger, changsha)  # version 4, after the snapshot at 3: read on every load
    first, second = ledger.log.select_stream(changsha)[0], ledger.log.select_stream(changsha)[-1]
    with closing(sqlite3.connect(ledger.settings.events_path)) as db, db:  # the log, or the Kafka index
        db.execute("UPDATE stored_events SET state=? WHERE rowid=?", (first.state, second.id))
    source = () if ledger.settings.backend == "sqlite" else ("--source", "index")
    result = cli_verify(ledger.settings, *source)
    assert result.exit_code == 1, result.output
    assert re.search(rf"FAILED at seq {second.id}\b", result.output), result.output
    if ledger.settings.backend == "kafka":
        assert cli_verify(ledger.settings).exit_code == 0  # the topic, the record itself, is untouched
    reopened = Ledger(ledger.settings, clock=lambda: TODAY)
    try:
        with pytest.raises(IntegrityViolationError):
            reopened.retiree(changsha)
        with pytest.raises(IntegrityViolationError):
            raise_pension(reopened, changsha)
    finally:
        reopened.close()
    head = ledger.head()
    with TestClient(create_app(ledger.settings, dev_mode=True), base_url=LOCAL) as client:  # over HTTP: no 5xx
        read = client.get(f"/v1/retirees/{changsha}")
        write = client.post(f"/v1/retirees/{changsha}/events", json={
            "type": "pension_adjusted", "previous_amount": "2003.00", "new_amount": "2004.00",
            "effective_month": "2012-02", "reason": "annual_adjustment"})
    for response in (read, write):
        assert (response.status_code, response.json()["type"]) == (409, PROBLEM_BASE + "integrity-violation")
    assert ledger.head() == head


def test_a_checkpoint_of_another_tree_is_named_even_when_signed_with_the_ledgers_key(
    signed: tuple[Ledger, CheckpointStore, UUID, UUID]
) -> None:
    ledger, store, changsha, _ = signed
    raise_pension(ledger, changsha)
    genuine = store.latest()
    assert genuine is not None
    head = ledger.head()
    other = Signer.load(ledger.settings).sign(genuine.ledger_name, head, ledger.read_log(head - 1, 1)[0].hash,
                                              genuine.time, "ab" * 32)
    store.append(other)  # what a forked writer with the key would have signed
    report = verify(ledger, store)
    assert (report.ok, report.first_bad_seq) == (False, head)
    assert report.reason == f"the signed checkpoint at seq {head} signs another Merkle tree"
    result = cli_verify(ledger.settings)
    assert result.exit_code == 1 and f"FAILED at seq {head}" in result.output, result.output
    with pytest.raises(IntegrityViolationError, match="not the one signed"):
        Checkpointer(ledger, store, Signer.load(ledger.settings)).checkpoint_now()  # never signs on top of it
