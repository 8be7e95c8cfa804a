"""Kafka-specific guarantees, on a real broker: fencing, transactions, the index, the topic itself."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any, cast
from uuid import uuid4

import pytest
from eventsourcing.persistence import StoredEvent
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaTimeoutError

from ledger import commands as c
from ledger.application import Ledger
from ledger.config import Settings
from ledger.errors import UnavailableError
from ledger.eventlog.kafka import KafkaConfig, KafkaRecorder, rebuild_index
from ledger.eventlog.kafka.index import KafkaIndex
from ledger.eventlog.kafka.writer import RECORD_OVERHEAD, KafkaWriter, _Save
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


def saves(*sizes: int) -> list[_Save]:
    return [_Save([StoredEvent(uuid4(), 1, "tests:Event", b"x" * size)], [None]) for size in sizes]


def test_a_transaction_takes_what_is_queued_bounded_by_count_bytes_and_total_wait() -> None:
    config = KafkaConfig(bootstrap="unused:9092", topic="t", transactional_id="t", batch_max=3,
                         batch_max_bytes=3 * (1000 + RECORD_OVERHEAD), batch_wait_ms=0)
    writer = KafkaWriter(cast(KafkaIndex, None), config)  # _gather reads only the queue
    first, *queued = saves(1000, 1000, 1000, 1000)
    for save in queued:
        writer._queue.put(save)
    assert writer._gather(first) == ([first, *queued[:2]], None)  # the count bound; the rest waits its turn
    assert writer._queue.qsize() == 1

    big, next_, after = saves(2000, 2000, 10)
    writer = KafkaWriter(cast(KafkaIndex, None), config)
    writer._queue.put(next_)
    writer._queue.put(after)
    assert writer._gather(big) == ([big], next_)  # the bytes bound: the save that would overflow opens the next
    assert writer._gather(next_) == ([next_, after], None)
    huge = saves(10_000)[0]
    assert writer._gather(huge) == ([huge], None)  # a save above the bound still goes, alone

    waiting = KafkaWriter(cast(KafkaIndex, None), replace(config, batch_wait_ms=150))
    began = time.monotonic()
    assert len(waiting._gather(saves(1)[0])[0]) == 1
    assert 0.1 < time.monotonic() - began < 1.0  # the wait bounds the whole gathering, not each get


def test_each_transaction_asks_the_index_once_for_every_save_in_it(app: Ledger) -> None:
    register(app, "ZZ-HT-001")
    writer = recorder(app).writer
    indexed = app.read_log(0, 10)[0]
    calls: list[int] = []
    real_taken = writer.index.taken

    def counted(keys: Any, event_ids: Any = ()) -> Any:
        calls.append(len(keys))
        return real_taken(keys, event_ids)

    writer.index.taken = counted  # type: ignore[method-assign]
    fresh, twin, other = uuid4(), uuid4(), uuid4()
    batch = [_Save([StoredEvent(fresh, 1, "tests:E", b"a"), StoredEvent(fresh, 2, "tests:E", b"b")], [None, None]),
             _Save([StoredEvent(indexed.originator_id, indexed.originator_version, "tests:E", b"c")], [None]),
             _Save([StoredEvent(fresh, 2, "tests:E", b"d")], [None]),  # taken by the first save of the batch
             _Save([StoredEvent(twin, 1, "tests:E", b"e")], [indexed.event_id]),  # its event id is indexed
             _Save([StoredEvent(other, 1, "tests:E", b"f")], [str(uuid4())])]
    accepted, rejected = writer._sequence(batch)
    assert calls == [6]  # one query, every key of the batch
    assert [save for save, _ in accepted] == [batch[0], batch[4]]
    assert rejected == batch[1:4]
    assert [row.seq for _, rows in accepted for row in rows] == [app.head() + 1, app.head() + 2, app.head() + 3]


def test_commits_reuse_one_long_lived_daemon_thread_for_coordinator_calls(app: Ledger) -> None:
    others = set(threading.enumerate())  # another test's writer may still be closing, or stuck in a call

    def callers() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "kafka-transaction-call" and t not in others]

    register(app, "ZZ-HT-001")
    (first,) = callers()
    assert first.daemon
    for i in range(2, 6):
        register(app, f"ZZ-HT-{i:03d}")
    assert callers() == [first]


def test_the_raw_baselines_send_what_they_report_and_records_per_transaction_come_from_offsets(
    kafka_bootstrap: str,
) -> None:
    from bench import kafka_raw

    topic = f"raw{uuid4().hex[:8]}"
    kafka_raw.ensure_topic(kafka_bootstrap, topic)
    batched = kafka_raw.transactional(kafka_bootstrap, topic, records_per_txn=5, transactions=3, value_bytes=100)
    assert (batched.records, len(batched.latencies)) == (15, 15) and batched.per_second > 0
    moved = kafka_raw.end_offsets(kafka_bootstrap, topic)
    assert moved == 18  # a commit marker per transaction
    assert kafka_raw.records_per_transaction(15, moved) == 5
    threaded = kafka_raw.threads_with_acks(kafka_bootstrap, topic, threads=2, per_thread=3, value_bytes=100)
    assert threaded.records == 6 and threaded.p99_ms >= threaded.p50_ms > 0
    assert kafka_raw.end_offsets(kafka_bootstrap, topic) == 18 + 1 + 6  # its warm-up record, then no markers


def test_a_coordinator_call_stuck_past_the_timeout_abandons_its_thread_and_the_next_commit_gets_a_fresh_one(
    kafka_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = Ledger(kafka_settings, env={"KAFKA_CLIENT_TIMEOUT_MS": "1500"}, clock=lambda: TODAY)
    release = threading.Event()
    try:
        register(app, "ZZ-HT-001")
        writer = recorder(app).writer
        stuck_caller = writer._caller
        producer = writer.producer
        assert stuck_caller is not None and producer is not None
        real_commit = producer.commit_transaction

        def hang() -> None:
            release.wait(30)  # as kafka-python does while the coordinator is away
            real_commit()

        monkeypatch.setattr(producer, "commit_transaction", hang)
        with pytest.raises(UnavailableError):
            register(app, "ZZ-HT-002")
        monkeypatch.undo()
        assert register(app, "ZZ-HT-003").seq >= 2  # a new producer, and a new caller thread
        assert writer._caller is not None and writer._caller is not stuck_caller
        release.set()
        stuck_caller._thread.join(5)
        assert not stuck_caller._thread.is_alive()  # the abandoned thread ends once its call returns
        assert first_break(app.iter_log()) is None
    finally:
        release.set()
        app.close()
