"""The embedded log passes the ``eventsourcing`` library's own recorder conformance cases."""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    ProcessRecorder,
    TrackingRecorder,
)
from eventsourcing.sqlite import (
    SQLiteAggregateRecorder,
    SQLiteFactory,
    SQLiteProcessRecorder,
    SQLiteTrackingRecorder,
)
from eventsourcing.tests import persistence as conformance
from eventsourcing.utils import Environment

from ledger.eventlog.sqlite import LedgerSQLiteFactory, LedgerSQLiteRecorder
from tests.integration.ledger.eventlog.conformance_support import join_test_threads


class SQLiteCustomTracking(SQLiteTrackingRecorder):
    """A tracking recorder subclass named by topic (one class object, so its topic stays unique)."""


class _TempDB:
    def setUp(self) -> None:
        self.threads_before = set(threading.enumerate())
        self.tmp = Path(tempfile.mkdtemp())
        self.factory = InfrastructureFactory.construct(
            Environment(env={"PERSISTENCE_MODULE": "ledger.eventlog.sqlite:LedgerSQLiteFactory",
                             "SQLITE_DBNAME": str(self.tmp / "events.db")})
        )
        super().setUp()  # type: ignore[misc]

    def tearDown(self) -> None:
        join_test_threads(self.threads_before)
        self.factory.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        super().tearDown()  # type: ignore[misc]


class TestSnapshotRecorder(_TempDB, conformance.AggregateRecorderTestCase):
    """Snapshots live in the library's aggregate recorder, built by our factory in the same file.

    The aggregate case does not apply to the application recorder itself: it expects ``insert_events``
    to return None, whereas an application recorder returns the notification ids (its own case below).
    """

    def create_recorder(self) -> AggregateRecorder:
        return self.factory.aggregate_recorder("snapshots")


class TestLedgerRecorderAsApplicationRecorder(_TempDB, conformance.ApplicationRecorderTestCase[ApplicationRecorder]):
    def create_recorder(self) -> ApplicationRecorder:
        recorder = self.factory.application_recorder()
        assert isinstance(recorder, LedgerSQLiteRecorder)
        return recorder

    def test_concurrent_throughput(self) -> None:
        # The library's case reads back a log that other threads are writing at the same time; it applies
        # unchanged (kept explicit here so a reader sees it was considered, not skipped).
        super().test_concurrent_throughput()


class TestLedgerRecorderNotificationIdsDoNotInterleave(_TempDB, conformance.NonInterleavingNotificationIDsBaseCase):
    insert_num = 500

    def create_recorder(self) -> ApplicationRecorder:
        return self.factory.application_recorder()


class TestLedgerSQLiteFactory(conformance.InfrastructureFactoryTestCase[SQLiteFactory]):
    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp())
        self.env = Environment(
            "TestCase",
            {"PERSISTENCE_MODULE": "ledger.eventlog.sqlite:LedgerSQLiteFactory",
             "SQLITE_DBNAME": str(self.tmp / "events.db")},
        )
        super().setUp()

    def tearDown(self) -> None:
        super().tearDown()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def expected_factory_class(self) -> type[SQLiteFactory]:
        return LedgerSQLiteFactory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return SQLiteAggregateRecorder

    def expected_application_recorder_class(self) -> type[ApplicationRecorder]:
        return LedgerSQLiteRecorder

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        return SQLiteTrackingRecorder

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return SQLiteCustomTracking

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        return SQLiteProcessRecorder
