"""The Kafka persistence module passes the ``eventsourcing`` library's recorder conformance cases.

Every case runs against a real broker (the session's ``kafka_bootstrap``), each on a topic of its own.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    ProcessRecorder,
    TrackingRecorder,
)
from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteTrackingRecorder
from eventsourcing.tests import persistence as conformance
from eventsourcing.utils import Environment

from ledger.eventlog.kafka import KafkaFactory, KafkaRecorder
from tests.integration.ledger.eventlog.conformance_support import join_test_threads

pytestmark = pytest.mark.kafka


def kafka_env(bootstrap: str, index: Path) -> dict[str, str]:
    name = f"conf{uuid.uuid4().hex[:10]}"
    return {
        "PERSISTENCE_MODULE": "ledger.eventlog.kafka:KafkaFactory",
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_TOPIC": f"{name}.events",
        "KAFKA_TRANSACTIONAL_ID": f"{name}-writer",
        "KAFKA_INDEX_PATH": str(index),
    }


class KafkaCustomTracking(SQLiteTrackingRecorder):
    """A tracking recorder subclass named by topic (one class object, so its topic stays unique)."""


class _OnKafka:
    bootstrap: str

    @pytest.fixture(autouse=True)
    def _broker(self, kafka_bootstrap: str) -> None:
        type(self).bootstrap = kafka_bootstrap

    def setUp(self) -> None:
        self.threads_before = set(threading.enumerate())
        self.tmp = Path(tempfile.mkdtemp())
        env = Environment(env=kafka_env(self.bootstrap, self.tmp / "i.db"))
        self.factory: Any = InfrastructureFactory.construct(env)
        super().setUp()  # type: ignore[misc]

    def tearDown(self) -> None:
        join_test_threads(self.threads_before)
        self.factory.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        super().tearDown()  # type: ignore[misc]


class TestKafkaApplicationRecorder(_OnKafka, conformance.ApplicationRecorderTestCase[ApplicationRecorder]):
    def create_recorder(self) -> ApplicationRecorder:
        recorder = self.factory.application_recorder()
        assert isinstance(recorder, KafkaRecorder)
        return recorder  # type: ignore[no-any-return]


class TestKafkaNotificationIdsDoNotInterleave(_OnKafka, conformance.NonInterleavingNotificationIDsBaseCase):
    insert_num = 500

    def create_recorder(self) -> ApplicationRecorder:
        return self.factory.application_recorder()  # type: ignore[no-any-return]


class TestKafkaSnapshotRecorder(_OnKafka, conformance.AggregateRecorderTestCase):
    """Snapshots are a cache kept in the index file (the library's aggregate recorder); the aggregate
    case applies to that recorder, not to the application recorder (which returns notification ids)."""

    def create_recorder(self) -> AggregateRecorder:
        return self.factory.aggregate_recorder("snapshots")  # type: ignore[no-any-return]


class TestKafkaTrackingRecorder(_OnKafka, conformance.TrackingRecorderTestCase):
    def create_recorder(self) -> TrackingRecorder:
        return self.factory.tracking_recorder()  # type: ignore[no-any-return]


class TestKafkaFactory(conformance.InfrastructureFactoryTestCase[KafkaFactory]):
    bootstrap: str

    @pytest.fixture(autouse=True)
    def _broker(self, kafka_bootstrap: str) -> None:
        type(self).bootstrap = kafka_bootstrap

    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp())
        self.env = Environment("TestCase", kafka_env(self.bootstrap, self.tmp / "i.db"))
        super().setUp()

    def tearDown(self) -> None:
        super().tearDown()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def expected_factory_class(self) -> type[KafkaFactory]:
        return KafkaFactory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return SQLiteAggregateRecorder

    def expected_application_recorder_class(self) -> type[ApplicationRecorder]:
        return KafkaRecorder

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        return SQLiteTrackingRecorder

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return KafkaCustomTracking

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        raise AssertionError("not used: see test_create_process_recorder")

    def test_create_process_recorder(self) -> None:
        # This case does not apply: a process recorder writes new events and a tracking position in one
        # transaction. The ledger's projections write their positions with the view rows instead (per
        # partition, in the view store), and no process application writes back into this log, so the
        # Kafka factory refuses to build one, with a clear error, rather than offer a non-atomic one.
        from eventsourcing.persistence import OperationalError

        with pytest.raises(OperationalError, match="no process recorder"):
            self.factory.process_recorder()
