"""The Kafka event log: a transactional single-writer persistence module on kafka-python.

Select it with ``PERSISTENCE_MODULE=ledger.eventlog.kafka:KafkaFactory`` (``LEDGER_LOG=kafka://HOST:PORT``).
This is the only module that imports kafka-python.

Contract (DESIGN.md section 3), and how it is kept without a conditional append in Kafka:

* one writer per ledger is the sequencer: a transactional producer with a fixed ``transactional_id``;
  ``init_transactions()`` fences every older writer, whose next save then fails cleanly;
* before its first write the writer reads the topic (``read_committed``) to the end into the local
  index (``kafka_index.KafkaIndex``), so version and event-id checks see everything committed;
* saves are queued to one writer thread; it takes what queued up while the previous transaction
  was in flight, at most ``KAFKA_BATCH_MAX`` saves (default 64), waiting at most
  ``KAFKA_BATCH_WAIT_MS`` (default 0: no added latency) for more, checks each save on its own (a
  conflicting save fails alone), and commits the rest in ONE Kafka transaction (group commit);
  ``KAFKA_GROUP_COMMIT=off`` makes every save its own transaction;
* a save is acknowledged only after its transaction committed; a caller that waited longer than
  ``KAFKA_WRITE_TIMEOUT_S`` gets an error (the outcome is unknown, nothing acknowledged) and the
  writer re-reads the topic before it accepts another write;
* each record: key = stream id, value = the stored event bytes, headers = seq, event id, event
  topic (type), version, prev_hash, hash.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    IntegrityError,
    OperationalError,
    ProcessRecorder,
    StoredEvent,
    TrackingRecorder,
)
from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteDatastore, SQLiteTrackingRecorder
from eventsourcing.utils import Environment, EnvType, resolve_topic, strtobool
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError, KafkaTimeoutError, ProducerFencedError, TopicAlreadyExistsError

from ledger.eventlog.base import canonical_id
from ledger.eventlog.kafka_index import IndexRow, KafkaIndex
from ledger.integrity import link_hash

HEADERS = ("seq", "event_id", "topic", "version", "prev_hash", "hash")


@dataclass(frozen=True)
class KafkaConfig:
    bootstrap: str
    topic: str
    transactional_id: str
    partitions: int = 1
    replication: int = 1
    min_insync: int = 1
    group_commit: bool = True
    batch_max: int = 64
    batch_wait_ms: float = 0.0
    write_timeout_s: float = 15.0
    client_timeout_ms: int = 10_000

    @classmethod
    def from_env(cls, env: Environment) -> KafkaConfig:
        def get(key: str, default: str) -> str:
            return env.get(key) or default

        return cls(
            bootstrap=get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
            topic=get("KAFKA_TOPIC", "ledger.events"),
            transactional_id=get("KAFKA_TRANSACTIONAL_ID", "ledger-writer"),
            partitions=int(get("KAFKA_PARTITIONS", "1")),
            replication=int(get("KAFKA_REPLICATION_FACTOR", "1")),
            min_insync=int(get("KAFKA_MIN_INSYNC_REPLICAS", "1")),
            group_commit=strtobool(get("KAFKA_GROUP_COMMIT", "on")),
            batch_max=int(get("KAFKA_BATCH_MAX", "64")),
            batch_wait_ms=float(get("KAFKA_BATCH_WAIT_MS", "0")),
            write_timeout_s=float(get("KAFKA_WRITE_TIMEOUT_S", "15")),
            client_timeout_ms=int(get("KAFKA_CLIENT_TIMEOUT_MS", "10000")),
        )


@dataclass
class _Save:
    events: Sequence[StoredEvent]
    event_ids: list[str | None]
    done: Future[list[int]] = field(default_factory=Future)


def _row_from_record(record: Any) -> IndexRow:
    headers = {name: value.decode() for name, value in record.headers}
    stream = record.key.decode()
    try:
        originator: UUID | str = UUID(stream)
    except ValueError:
        originator = stream
    return IndexRow(int(headers["seq"]), originator, int(headers["version"]), headers["topic"], record.value,
                    headers["event_id"] or None, headers["prev_hash"], headers["hash"])


class KafkaRecorder(KafkaIndex, ApplicationRecorder):
    """Application recorder: reads from the index, writes through the single transactional writer."""

    def __init__(self, datastore: SQLiteDatastore, config: KafkaConfig) -> None:
        super().__init__(datastore)
        self.config = config
        self._queue: queue.Queue[_Save | None] = queue.Queue()
        self._producer: KafkaProducer | None = None
        self._fenced = False
        self._stale = True  # the index must be caught up before the next write
        self._writer: threading.Thread | None = None
        self._start_lock = threading.Lock()

    # ---- reading the topic -------------------------------------------------------------------

    def catch_up(self) -> int:
        """Reads committed records after the index's positions into the index; returns how many."""
        consumer = KafkaConsumer(
            bootstrap_servers=self.config.bootstrap, isolation_level="read_committed", enable_auto_commit=False,
            group_id=None, request_timeout_ms=self.config.client_timeout_ms + 5000, fetch_max_wait_ms=50,
            max_partition_fetch_bytes=8 * 1024 * 1024, max_poll_records=5000,
        )
        try:
            partitions = [TopicPartition(self.config.topic, p)
                          for p in sorted(consumer.partitions_for_topic(self.config.topic) or ())]
            if not partitions:
                raise OperationalError(f"topic {self.config.topic} does not exist")
            consumer.assign(partitions)
            start = self.positions()
            for tp in partitions:
                consumer.seek(tp, start.get(tp.partition, 0))
            end = consumer.end_offsets(partitions, timeout_ms=self.config.client_timeout_ms)
            rows: list[IndexRow] = []
            positions: dict[int, int] = {}
            while any(consumer.position(tp) < end[tp] for tp in partitions):
                for tp, records in consumer.poll(timeout_ms=500).items():
                    rows.extend(_row_from_record(r) for r in records)
                    positions[tp.partition] = records[-1].offset + 1
            positions = {tp.partition: consumer.position(tp) for tp in partitions}
        except KafkaError as error:
            raise OperationalError(f"cannot read the topic: {type(error).__name__}") from error
        finally:
            consumer.close()
        rows.sort(key=lambda row: row.seq)
        self.append(rows, positions)
        return len(rows)

    # ---- writing -------------------------------------------------------------------------------

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if not stored_events:
            return []
        if self._fenced:
            raise OperationalError("this writer was fenced by a newer writer of the same ledger")
        ids = list(kwargs.get("event_ids") or ())
        save = _Save(stored_events, ids + [None] * (len(stored_events) - len(ids)))
        self._ensure_writer()
        self._queue.put(save)
        try:
            return save.done.result(timeout=self.config.write_timeout_s)
        except FutureTimeout:
            self._stale = True
            raise OperationalError(
                f"no acknowledgement from Kafka within {self.config.write_timeout_s:g}s; the write is not "
                "acknowledged (retry with the same Idempotency-Key)"
            ) from None

    def _ensure_writer(self) -> None:
        with self._start_lock:
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(target=self._run_writer, name="kafka-writer", daemon=True)
                self._writer.start()

    def _run_writer(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            limit = self.config.batch_max if self.config.group_commit else 1
            wait = self.config.batch_wait_ms / 1000
            while len(batch) < limit:
                try:
                    item = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)
                    break
                batch.append(item)
            self._commit_batch(batch)

    def _commit_batch(self, batch: list[_Save]) -> None:
        try:
            producer = self._ready_producer()
            accepted, rejected = self._sequence(batch)
            try:
                if accepted:
                    self._transact(producer, accepted)
            finally:  # losers learn of their conflict only once the winners are in the index
                for save in rejected:
                    save.done.set_exception(IntegrityError("stream version or event id already recorded"))
        except ProducerFencedError:
            self._fenced = True
            self._fail(batch, OperationalError("this writer was fenced by a newer writer of the same ledger"))
        except (KafkaError, OperationalError) as error:
            self._reset_producer()
            self._fail(batch, OperationalError(f"Kafka write failed: {type(error).__name__}"))
        except Exception as error:  # never leave a caller waiting
            self._reset_producer()
            self._fail(batch, OperationalError(f"Kafka write failed: {type(error).__name__}"))

    def _ready_producer(self) -> KafkaProducer:
        if self._fenced:
            raise ProducerFencedError()
        if self._producer is None:
            producer = KafkaProducer(
                bootstrap_servers=self.config.bootstrap, transactional_id=self.config.transactional_id,
                enable_idempotence=True, acks="all", max_block_ms=self.config.client_timeout_ms,
                request_timeout_ms=self.config.client_timeout_ms, linger_ms=0,
            )
            try:
                producer.init_transactions()
            except BaseException:
                producer.close(timeout=1)
                raise
            self._producer = producer
            self._stale = True
        if self._stale:
            self.catch_up()
            self._stale = False
        return self._producer

    def _sequence(self, batch: list[_Save]) -> tuple[list[tuple[_Save, list[IndexRow]]], list[_Save]]:
        """Checks each save against the index and the saves before it; assigns seq and hashes."""
        seq, prev_hash = self.head()
        taken_keys: set[tuple[str, int]] = set()
        taken_ids: set[str] = set()
        accepted, rejected = [], []
        for save in batch:
            keys = [(canonical_id(e.originator_id), e.originator_version) for e in save.events]
            ids = [i for i in save.event_ids if i is not None]
            if (len(set(keys)) < len(keys) or len(set(ids)) < len(ids) or taken_keys.intersection(keys)
                    or taken_ids.intersection(ids)
                    or self.conflicts([(e.originator_id, e.originator_version) for e in save.events], ids)):
                rejected.append(save)
                continue
            rows = []
            for event, event_id in zip(save.events, save.event_ids, strict=True):
                seq += 1
                digest = link_hash(prev_hash, seq, canonical_id(event.originator_id), event.originator_version,
                                   event.topic, event_id, event.state)
                rows.append(IndexRow(seq, event.originator_id, event.originator_version, event.topic, event.state,
                                     event_id, prev_hash, digest))
                prev_hash = digest
            taken_keys.update(keys)
            taken_ids.update(ids)
            accepted.append((save, rows))
        return accepted, rejected

    def _transact(self, producer: KafkaProducer, accepted: list[tuple[_Save, list[IndexRow]]]) -> None:
        producer.begin_transaction()
        sent = []
        try:
            for _, rows in accepted:
                for row in rows:
                    headers = [("seq", str(row.seq).encode()), ("event_id", (row.event_id or "").encode()),
                               ("topic", row.topic.encode()), ("version", str(row.originator_version).encode()),
                               ("prev_hash", row.prev_hash.encode()), ("hash", row.hash.encode())]
                    sent.append(producer.send(self.config.topic, key=canonical_id(row.originator_id).encode(),
                                              value=row.state, headers=headers))
            self._bounded(producer.commit_transaction)
        except ProducerFencedError:
            raise
        except BaseException:
            try:
                self._bounded(producer.abort_transaction)
            except Exception:  # the producer is reset by the caller; the topic is re-read before the next write
                self._stale = True
            raise
        positions: dict[int, int] = {}
        for future in sent:
            metadata = future.get(timeout=1)
            positions[metadata.partition] = max(positions.get(metadata.partition, 0), metadata.offset + 1)
        all_rows = [row for _, rows in accepted for row in rows]
        try:
            self.append(all_rows, positions)
        except Exception:
            self._stale = True  # committed in Kafka; the index catches up before the next write
        for save, rows in accepted:
            save.done.set_result([row.seq for row in rows])

    def _bounded(self, call: Callable[[], None]) -> None:
        """Runs a transaction call that kafka-python may retry forever, for at most the client timeout.

        On timeout the producer is abandoned (the caller resets it); the next writer's
        ``init_transactions()`` fences it and settles its transaction, and the topic is re-read.
        """
        outcome: Future[None] = Future()

        def run() -> None:
            try:
                call()
                outcome.set_result(None)
            except BaseException as error:
                outcome.set_exception(error)

        threading.Thread(target=run, name="kafka-transaction-call", daemon=True).start()
        try:
            outcome.result(timeout=self.config.client_timeout_ms / 1000)
        except FutureTimeout:
            raise KafkaTimeoutError("no answer from the transaction coordinator") from None

    def _fail(self, batch: list[_Save], error: Exception) -> None:
        for save in batch:
            if not save.done.done():
                save.done.set_exception(error)

    def _reset_producer(self) -> None:
        self._stale = True
        producer, self._producer = self._producer, None
        if producer is not None:
            threading.Thread(target=self._close_quietly, args=(producer,), daemon=True).start()

    @staticmethod
    def _close_quietly(producer: KafkaProducer) -> None:
        with contextlib.suppress(Exception):  # closing a broken producer must not hide the original error
            producer.close(timeout=1)

    def close(self) -> None:
        """Stops the writer thread and closes the producer."""
        if self._writer is not None and self._writer.is_alive():
            self._queue.put(None)
            self._writer.join(timeout=5)
        self._reset_producer()


class KafkaFactory(InfrastructureFactory[TrackingRecorder]):
    """Builds the Kafka recorder; snapshots and tracking live in the index file (caches of the topic)."""

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        self.config = KafkaConfig.from_env(self.env)
        index_path = self.env.get("KAFKA_INDEX_PATH") or ":memory:"
        self.datastore = SQLiteDatastore(index_path if index_path != ":memory:" else "file::memory:?cache=shared")
        self._recorder: KafkaRecorder | None = None

    def ensure_topic(self) -> None:
        """Creates the topic if missing: infinite retention, the configured replication."""
        try:
            admin = KafkaAdminClient(bootstrap_servers=self.config.bootstrap,
                                     request_timeout_ms=self.config.client_timeout_ms)
        except KafkaError as error:
            raise OperationalError(f"cannot reach Kafka at {self.config.bootstrap}: {type(error).__name__}") from error
        try:
            admin.create_topics({self.config.topic: {
                "num_partitions": self.config.partitions, "replication_factor": self.config.replication,
                "configs": {"retention.ms": "-1", "min.insync.replicas": str(self.config.min_insync)},
            }}, wait_for_metadata=True)
        except TopicAlreadyExistsError:
            pass
        finally:
            admin.close()

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        recorder = SQLiteAggregateRecorder(self.datastore, events_table_name=f"stored_{purpose}")
        recorder.create_table()
        return recorder

    def application_recorder(self) -> ApplicationRecorder:
        self.ensure_topic()
        recorder = KafkaRecorder(self.datastore, self.config)
        recorder.create_table()
        try:
            recorder.catch_up()
        except OperationalError:
            recorder._stale = True  # serve what the index has; catch up before the first write
        self._recorder = recorder
        return recorder

    def tracking_recorder(self, tracking_recorder_class: type[TrackingRecorder] | None = None) -> TrackingRecorder:
        topic = self.env.get(self.TRACKING_RECORDER_TOPIC)
        cls = tracking_recorder_class or (resolve_topic(topic) if topic else SQLiteTrackingRecorder)
        recorder = cls(datastore=self.datastore)  # type: ignore[call-arg]
        recorder.create_table()  # type: ignore[attr-defined,union-attr]
        return recorder

    def process_recorder(self) -> ProcessRecorder:
        raise OperationalError("the Kafka log has no process recorder: projections track positions in the view store")

    def close(self) -> None:
        if self._recorder is not None:
            self._recorder.close()
        self.datastore.close()


def rebuild_index(env: Environment | EnvType) -> int:
    """Rebuilds the index file from the topic alone; returns the number of events read.

    The old file is moved aside to ``INDEX.bak`` (snapshots, a cache, go with it) and kept until
    the new one is complete.
    """
    factory = KafkaFactory(env)
    path = factory.env.get("KAFKA_INDEX_PATH")
    factory.datastore.close()
    if not path:
        raise OperationalError("KAFKA_INDEX_PATH is not set")
    index = Path(path)
    backup = index.with_name(index.name + ".bak")
    for suffix in ("", "-wal", "-shm"):
        old = Path(str(index) + suffix)
        if old.exists():
            old.replace(Path(str(backup) + suffix))
    factory = KafkaFactory(env)
    try:
        recorder = KafkaRecorder(factory.datastore, factory.config)
        recorder.create_table()
        return recorder.catch_up()
    finally:
        factory.close()
