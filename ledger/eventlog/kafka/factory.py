"""The persistence module: builds the recorder, snapshots and tracking beside the index.

The index is a SQLite file (``KAFKA_INDEX_PATH``) or, with ``KAFKA_INDEX_URL=postgresql://…``, a
PostgreSQL database that several API processes share (``ledger.eventlog.kafka.pgindex``); snapshots
and tracking go where the index is, through the ``eventsourcing`` library's recorders for that
database. ``KAFKA_READ_ONLY=y`` builds a recorder that never writes (``KafkaRecorder``).
"""

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
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteDatastore, SQLiteTrackingRecorder
from eventsourcing.utils import Environment, EnvType, resolve_topic
from kafka import KafkaAdminClient
from kafka.errors import KafkaError, TopicAlreadyExistsError
from psycopg.conninfo import conninfo_to_dict

from ledger.errors import IntegrityViolationError
from ledger.eventlog.kafka.catchup import catch_up
from ledger.eventlog.kafka.index import SQLiteKafkaIndex
from ledger.eventlog.kafka.pgindex import PostgresKafkaIndex
from ledger.eventlog.kafka.recorder import KafkaRecorder
from ledger.eventlog.kafka.records import KafkaConfig


class KafkaFactory(InfrastructureFactory[TrackingRecorder]):
    """Builds the Kafka recorder on its index; snapshots and tracking live beside the index (caches of
    the topic, like the index itself)."""

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        self.config = KafkaConfig.from_env(self.env)
        self.read_only = self.env.get("KAFKA_READ_ONLY", "").lower() in ("y", "yes", "true", "1")
        self.index_url = self.env.get("KAFKA_INDEX_URL") or None
        self.postgres: PostgresDatastore | None = None
        if self.index_url:
            self.postgres = postgres_datastore(self.index_url)
            self.datastore = SQLiteDatastore("file::memory:?cache=shared")  # unused: everything is in PostgreSQL
        else:
            index_path = self.env.get("KAFKA_INDEX_PATH") or ":memory:"
            self.datastore = SQLiteDatastore(index_path if index_path != ":memory:" else "file::memory:?cache=shared")
        self._recorder: KafkaRecorder | None = None
        self._index: PostgresKafkaIndex | None = None

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
        recorder: SQLiteAggregateRecorder | PostgresAggregateRecorder
        if self.postgres is not None:
            recorder = PostgresAggregateRecorder(self.postgres, events_table_name=f"stored_{purpose}")
        else:
            recorder = SQLiteAggregateRecorder(self.datastore, events_table_name=f"stored_{purpose}")
        recorder.create_table()
        return recorder

    def application_recorder(self) -> ApplicationRecorder:
        self.ensure_topic()
        index: SQLiteKafkaIndex | PostgresKafkaIndex
        if self.index_url:
            index = self._index = PostgresKafkaIndex(self.index_url)
        else:
            index = SQLiteKafkaIndex(self.datastore)
        index.create_table()
        recorder = KafkaRecorder(index, self.config, read_only=self.read_only)
        # on failure serve what the index has: the writer starts stale, so it catches up (or refuses) first
        with contextlib.suppress(OperationalError, IntegrityViolationError):
            recorder.catch_up()
        self._recorder = recorder
        return recorder

    def tracking_recorder(self, tracking_recorder_class: type[TrackingRecorder] | None = None) -> TrackingRecorder:
        topic = self.env.get(self.TRACKING_RECORDER_TOPIC)
        default = SQLiteTrackingRecorder if self.postgres is None else PostgresTrackingRecorder
        cls = tracking_recorder_class or (resolve_topic(topic) if topic else default)
        recorder = cls(datastore=self.postgres or self.datastore)  # type: ignore[call-arg]
        recorder.create_table()  # type: ignore[attr-defined,union-attr]
        return recorder

    def process_recorder(self) -> ProcessRecorder:
        raise OperationalError("the Kafka log has no process recorder: projections track positions in the view store")

    def close(self) -> None:
        if self._recorder is not None:
            self._recorder.close()
        if self._index is not None:
            self._index.close()
        if self.postgres is not None:
            self.postgres.close()
        self.datastore.close()


def postgres_datastore(url: str) -> PostgresDatastore:
    """The ``eventsourcing`` library's PostgreSQL datastore (snapshots, tracking) for a ``postgresql://`` URL."""
    params = conninfo_to_dict(url)
    return PostgresDatastore(
        dbname=str(params.get("dbname") or ""), host=str(params.get("host") or "localhost"),
        port=str(params.get("port") or 5432), user=str(params.get("user") or ""),
        password=str(params.get("password") or ""), originator_id_type="uuid", pool_size=2, max_overflow=4,
    )


def rebuild_index(env: Environment | EnvType) -> int:
    """Rebuilds the index from the topic alone; returns the number of events read.

    A SQLite file is moved aside to ``INDEX.bak`` (snapshots, a cache, go with it) and kept until the
    new one is complete; a PostgreSQL index is emptied and read again (a cache too: a writer that
    starts on a partly rebuilt index catches it up before it writes).
    """
    factory = KafkaFactory(env)
    if factory.index_url:
        try:
            shared = PostgresKafkaIndex(factory.index_url)
            try:
                shared.create_table()
                shared.clear()
                return catch_up(shared, factory.config)
            finally:
                shared.close()
        finally:
            factory.close()
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
