"""Kafka-specific guarantees, on a real broker: fencing, transactions, the index, the topic itself."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaTimeoutError

from ledger import commands as c
from ledger.application import Ledger
from ledger.config import Settings
from ledger.errors import UnavailableError
from ledger.eventlog.kafka import KafkaRecorder, rebuild_index
from ledger.integrity.chain import first_break
from tests.backends import settings_for

pytestmark = pytest.mark.kafka
TODAY = date(2026, 6, 30)


@pytest.fixture
def kafka_settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    return settings_for("kafka", tmp_path / "writer-1", request)


@pytest.fixture
def app(kafka_settings: Settings) -> Iterator[Ledger]:
    ledger = Ledger(kafka_settings, clock=lambda: TODAY)
    yield ledger
    ledger.close()


def register(app: Ledger, code: str) -> c.Appended:
    return app.handle(c.RegisterCommunity(code=code, name="Community", city="Zhuzhou", district="Hetang",
                                          street="Street", kind="urban_community"))


def read_topic(settings: Settings) -> list[Any]:
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, isolation_level="read_committed",
                             enable_auto_commit=False, group_id=None)
    try:
        topic = settings.kafka_topic
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        records: list[Any] = []
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        return records
    finally:
        consumer.close()


def headers(record: Any) -> dict[str, str]:
    return {name: value.decode() for name, value in record.headers}


def recorder(app: Ledger) -> KafkaRecorder:
    assert isinstance(app.recorder, KafkaRecorder)
    return app.recorder


def test_an_independent_consumer_finds_exactly_the_acknowledged_events_in_seq_order(app: Ledger,
                                                                                    kafka_settings: Settings) -> None:
    acknowledged = [register(app, f"ZZ-HT-{i:03d}") for i in range(12)]
    records = read_topic(kafka_settings)
    assert [int(headers(r)["seq"]) for r in records] == [a.seq for a in acknowledged] == list(range(1, 13))
    index = app.read_log(0, 100)
    assert [(r.key.decode(), r.value, headers(r)["event_id"], headers(r)["hash"]) for r in records] == [
        (str(x.originator_id), x.state, x.event_id, x.hash) for x in index
    ]
    assert {headers(r)["topic"] for r in records} == {"ledger.domain.community:Community.Registered"}


def test_a_second_writer_fences_the_first_and_no_seq_or_version_is_used_twice(
    app: Ledger, kafka_settings: Settings, tmp_path: Path
) -> None:
    register(app, "ZZ-HT-001")
    # another machine: its own index, the ledger's shared keys (data key, writer key)
    second_settings = Settings(**{**kafka_settings.__dict__, "home": tmp_path / "writer-2",
                                  "keys_dir": kafka_settings.keys_path})
    second = Ledger(second_settings, clock=lambda: TODAY)
    try:
        register(second, "ZZ-HT-002")  # init_transactions() fences the first writer
        with pytest.raises(UnavailableError):
            register(app, "ZZ-HT-003")
        with pytest.raises(UnavailableError):
            register(app, "ZZ-HT-004")  # and it stays fenced
        assert register(second, "ZZ-HT-005").seq == 3
    finally:
        second.close()
    records = read_topic(kafka_settings)
    seqs = [int(headers(r)["seq"]) for r in records]
    versions = [(r.key, headers(r)["version"]) for r in records]
    assert seqs == [1, 2, 3]
    assert len(set(versions)) == len(versions)


def test_an_aborted_transaction_leaves_nothing_visible_and_nothing_in_the_index(
    app: Ledger, kafka_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(app, "ZZ-HT-001")
    producer = recorder(app)._producer
    assert producer is not None

    def fail_commit() -> None:
        producer.flush()  # the records reach the broker inside the open transaction
        raise RuntimeError("simulated failure before commit")

    monkeypatch.setattr(producer, "commit_transaction", fail_commit)
    with pytest.raises(UnavailableError):
        register(app, "ZZ-HT-002")
    assert [int(headers(r)["seq"]) for r in read_topic(kafka_settings)] == [1]
    assert app.head() == 1
    monkeypatch.undo()
    assert register(app, "ZZ-HT-002").seq == 2
    assert first_break(app.iter_log()) is None


def test_after_an_unknown_commit_outcome_the_writer_rereads_the_topic(
    app: Ledger, kafka_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    register(app, "ZZ-HT-001")
    producer = recorder(app)._producer
    assert producer is not None
    real_commit = producer.commit_transaction

    def commit_then_time_out() -> None:
        real_commit()
        raise KafkaTimeoutError("simulated lost acknowledgement")

    monkeypatch.setattr(producer, "commit_transaction", commit_then_time_out)
    command = c.RegisterCommunity(code="ZZ-HT-002", name="C", city="Zhuzhou", district="Hetang", street="S",
                                  kind="urban_community")
    with pytest.raises(UnavailableError):
        app.handle(command, c.Context(idempotency_key="k-2"))
    monkeypatch.undo()
    replay = app.handle(command, c.Context(idempotency_key="k-2"))  # the writer re-read the topic first
    assert (replay.seq, replay.replayed) == (2, True)  # seq 3 is the key's idempotency claim, saved with it
    assert register(app, "ZZ-HT-003").seq == 4
    assert [int(headers(r)["seq"]) for r in read_topic(kafka_settings)] == [1, 2, 3, 4]


def index_rows(path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT rowid, * FROM stored_events ORDER BY rowid").fetchall()


def test_the_index_rebuilt_from_kafka_alone_is_identical(app: Ledger, kafka_settings: Settings) -> None:
    for i in range(20):
        register(app, f"ZZ-HT-{i:03d}")
    before = index_rows(kafka_settings.events_path)
    env = {k: v for k, v in app.env.items()}
    app.close()
    assert rebuild_index(env) == 20
    assert index_rows(kafka_settings.events_path) == before
    assert Path(str(kafka_settings.events_path) + ".bak").exists()
