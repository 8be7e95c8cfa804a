"""Tampering with the Kafka backend, on a real broker: ``ledger verify`` reads the topic itself.

A topic cannot be edited in place; what someone with produce or admin rights can do is append
forged, replayed or reordered records, or delete the oldest ones. The local index is a SQLite
file and can be edited like the embedded log. Each is caught and the first bad seq is named.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaProducer, TopicPartition
from typer.testing import CliRunner, Result

from cli.main import app
from ledger.application import Ledger
from ledger.config import Settings
from ledger.errors import IntegrityViolationError
from ledger.eventlog.base import LogRecord, canonical_id
from ledger.integrity.chain import link_hash
from tests.backends import settings_for
from tests.integration.ledger.integrity.test_tamper import ID_NUMBER, SQLiteTamperer, deliver, seed

pytestmark = pytest.mark.kafka
TODAY = date(2026, 6, 30)


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    return settings_for("kafka", tmp_path / "home", request)


@pytest.fixture
def ledger(settings: Settings) -> Iterator[Ledger]:
    app_ = Ledger(settings, clock=lambda: TODAY)
    retiree = seed(app_, services=4)
    deliver(app_, retiree, 2)
    yield app_
    app_.close()


def cli(settings: Settings, *args: str) -> Result:
    env = {"LEDGER_HOME": str(settings.home), "LEDGER_LOG": settings.log_url, "LEDGER_NAME": settings.ledger_name,
           "LEDGER_KAFKA_TOPIC": settings.kafka_topic, "COLUMNS": "200"}
    return CliRunner().invoke(app, list(args), env=env)


def signed(settings: Settings) -> None:
    assert cli(settings, "keys", "init").exit_code == 0
    result = cli(settings, "checkpoint")
    assert result.exit_code == 0, result.output


def failed_at(result: Result) -> int:
    assert result.exit_code == 1, result.output
    found = re.search(r"FAILED at seq (\d+)", result.output)
    assert found, result.output
    return int(found.group(1))


def produce(settings: Settings, records: list[LogRecord]) -> None:
    """Writes records to the topic as an intruder would: a plain producer, no transaction."""
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    for r in records:
        headers = [("seq", str(r.id).encode()), ("event_id", (r.event_id or "").encode()), ("topic", r.topic.encode()),
                   ("version", str(r.originator_version).encode()), ("prev_hash", r.prev_hash.encode()),
                   ("hash", r.hash.encode())]
        producer.send(settings.kafka_topic, key=canonical_id(r.originator_id).encode(), value=r.state, headers=headers)
    producer.flush()
    producer.close()


def forged_after(last: LogRecord, seq: int, prev_hash: str, consistent: bool = True) -> LogRecord:
    version = last.originator_version + (seq - last.id)
    digest = link_hash(prev_hash, seq, canonical_id(last.originator_id), version, last.topic, None, last.state)
    return LogRecord(id=seq, originator_id=last.originator_id, originator_version=version, topic=last.topic,
                     state=last.state, event_id=None, prev_hash=prev_hash, hash=digest if consistent else "0" * 64)


def test_an_untouched_topic_verifies(ledger: Ledger, settings: Settings) -> None:
    signed(settings)
    result = cli(settings, "verify", "--require-signed")
    assert result.exit_code == 0, result.output
    assert f"verified: {ledger.head()} events" in result.output


def test_a_forged_record_appended_to_the_topic_is_named_and_the_writer_refuses_to_build_on_it(
    ledger: Ledger, settings: Settings
) -> None:
    signed(settings)
    head = ledger.read_log(ledger.head() - 1, 1)[0]
    produce(settings, [forged_after(head, head.id + 1, head.hash, consistent=False)])
    assert failed_at(cli(settings, "verify")) == head.id + 1
    recorder: Any = ledger.recorder
    recorder._stale = True  # as after a restart: the writer reads the topic before its next write
    with pytest.raises(IntegrityViolationError, match=f"seq {head.id + 1}"):
        deliver(ledger, ledger.find_retiree(ID_NUMBER), 1)  # type: ignore[arg-type]


def test_a_self_consistent_forgery_is_the_first_unsigned_event(ledger: Ledger, settings: Settings) -> None:
    signed(settings)
    head = ledger.read_log(ledger.head() - 1, 1)[0]
    produce(settings, [forged_after(head, head.id + 1, head.hash)])
    assert cli(settings, "verify").exit_code == 0  # a consistent chain, but nobody signed it...
    assert failed_at(cli(settings, "verify", "--require-signed")) == head.id + 1  # ...which is what counts


def test_reordered_records_in_the_topic_are_named(ledger: Ledger, settings: Settings) -> None:
    head = ledger.read_log(ledger.head() - 1, 1)[0]
    first = forged_after(head, head.id + 1, head.hash)
    second = forged_after(head, head.id + 2, first.hash)
    signed(settings)
    produce(settings, [second, first])  # the right records, the wrong order
    assert failed_at(cli(settings, "verify")) == head.id + 1


def test_a_replayed_old_record_is_named(ledger: Ledger, settings: Settings) -> None:
    signed(settings)
    produce(settings, [ledger.read_log(2, 1)[0]])  # seq 3 published a second time
    assert failed_at(cli(settings, "verify")) == ledger.head() + 1


def test_deleting_the_oldest_records_is_named(ledger: Ledger, settings: Settings) -> None:
    signed(settings)
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    try:
        admin.delete_records({TopicPartition(settings.kafka_topic, 0): 3})  # drops offsets 0..2
    finally:
        admin.close()
    assert failed_at(cli(settings, "verify")) == 1


def test_one_byte_changed_in_the_index_is_named_and_the_topic_still_verifies(
    ledger: Ledger, settings: Settings
) -> None:
    signed(settings)
    ledger.close()
    SQLiteTamperer(settings.events_path).alter_state_byte(4)
    assert failed_at(cli(settings, "verify", "--source", "index")) == 4
    assert cli(settings, "verify").exit_code == 0


def test_the_audit_endpoint_verifies_the_topic_not_the_index(ledger: Ledger, settings: Settings) -> None:
    import httpx

    from api.main import create_app
    from tests.e2e.conftest import serving

    head = ledger.read_log(ledger.head() - 1, 1)[0]
    ledger.close()
    produce(settings, [forged_after(head, head.id + 1, head.hash, consistent=False)])
    env = {"LEDGER_LOG": settings.log_url, "LEDGER_NAME": settings.ledger_name,
           "LEDGER_KAFKA_TOPIC": settings.kafka_topic}
    with serving(create_app(dev_mode=True, host="127.0.0.1"), settings.home, env) as server:
        report = httpx.get(f"{server.url}/v1/audit/verify", timeout=30).json()
    assert (report["ok"], report["first_bad_seq"]) == (False, head.id + 1)


def test_the_writer_refuses_a_consistent_forgery_it_did_not_sign_with_its_key(
    ledger: Ledger, settings: Settings
) -> None:
    head = ledger.read_log(ledger.head() - 1, 1)[0]
    produce(settings, [forged_after(head, head.id + 1, head.hash)])  # a chain that checks out, but no MAC
    recorder: Any = ledger.recorder
    recorder._stale = True
    with pytest.raises(IntegrityViolationError, match=f"seq {head.id + 1} was not written by this ledger's writer"):
        deliver(ledger, ledger.find_retiree(ID_NUMBER), 1)  # type: ignore[arg-type]
    assert ledger.head() == head.id


def test_a_record_that_is_not_a_ledger_event_stops_the_writer_with_a_clear_error(
    ledger: Ledger, settings: Settings
) -> None:
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap)
    producer.send(settings.kafka_topic, key=b"junk", value=b"{}")
    producer.flush()
    producer.close()
    recorder: Any = ledger.recorder
    recorder._stale = True
    with pytest.raises(IntegrityViolationError, match="is not a ledger event"):
        deliver(ledger, ledger.find_retiree(ID_NUMBER), 1)  # type: ignore[arg-type]
