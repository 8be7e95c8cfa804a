"""The persistence module: builds the recorder, snapshots and tracking in the index file."""

from __future__ import annotations

import contextlib
from pathlib import Path

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    OperationalError,
    ProcessRecorder,
    TrackingRecorder,
)
from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteDatastore, SQLiteTrackingRecorder
from eventsourcing.utils import Environment, EnvType, resolve_topic
from kafka import KafkaAdminClient
from kafka.errors import KafkaError, TopicAlreadyExistsError

from ledger.errors import IntegrityViolationError
from ledger.eventlog.kafka.catchup import catch_up
from ledger.eventlog.kafka.index import SQLiteKafkaIndex
from ledger.eventlog.kafka.recorder import KafkaRecorder
from ledger.eventlog.kafka.records import KafkaConfig


class KafkaFactory(InfrastructureFactory[TrackingRecorder]):
    """Builds the Kafka recorder on a SQLite index; snapshots and tracking live in the index file too
    (caches of the topic)."""

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
        index = SQLiteKafkaIndex(self.datastore)
        index.create_table()
        recorder = KafkaRecorder(index, self.config)
        # on failure serve what the index has: the writer starts stale, so it catches up (or refuses) first
        with contextlib.suppress(OperationalError, IntegrityViolationError):
            recorder.catch_up()
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
        rebuilt = SQLiteKafkaIndex(factory.datastore)
        rebuilt.create_table()
        return catch_up(rebuilt, factory.config)
    finally:
        factory.close()
