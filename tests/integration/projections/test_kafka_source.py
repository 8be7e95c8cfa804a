"""Projections read straight from the Kafka topic (``read_committed``), on a real broker.

The same commands go to a Kafka ledger and to an SQLite ledger, with the same retiree ids, event
ids and timestamps (``same_ids``), so their views must be equal row for row. On Kafka the runner
reads the topic itself (``TopicSource``) and stores one position per partition with the rows.
"""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import eventsourcing.domain
import pytest

import ledger.application
import ledger.handlers
from ledger.application import Ledger
from ledger.config import Settings
from ledger.eventlog.base import LogRecord
from ledger.eventlog.kafka import TopicReader
from projections import registry
from projections.base import ProjectionError, Rows
from projections.runner import ProjectionRunner
from projections.sources import partition_source
from projections.store.sqlite import SQLiteViewStore
from tests.backends import settings_for
from tests.integration.projections.support import Hunan
from tests.integration.projections.test_replay import generate

pytestmark = pytest.mark.kafka
TODAY = date(2026, 6, 30)
NAMES = [p.name for p in registry.ALL]


@pytest.fixture
def same_ids(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Returns ``restart()``: from then on new ids and timestamps repeat the same sequence."""

    def restart() -> None:
        rng, ticks = random.Random(7), itertools.count()
        start = datetime(2026, 1, 1, tzinfo=UTC)
        same = lambda: uuid.UUID(int=rng.getrandbits(128), version=4)  # noqa: E731
        monkeypatch.setattr(ledger.application, "uuid4", same)  # event ids
        monkeypatch.setattr(ledger.handlers, "uuid4", same)  # retiree ids
        monkeypatch.setattr(eventsourcing.domain, "datetime_now_with_tzinfo",
                            lambda: start + timedelta(seconds=next(ticks)))

    return restart


@pytest.fixture
def open_ledger(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., Ledger]]:
    opened: list[Ledger] = []

    def open_(backend: str, partitions: int = 1) -> Ledger:
        settings = settings_for(backend, tmp_path / f"{backend}-{len(opened)}", request)
        env = {"KAFKA_PARTITIONS": str(partitions)} if backend == "kafka" else None
        opened.append(Ledger(settings, env=env, clock=lambda: TODAY))
        return opened[-1]

    yield open_
    for app in opened:
        app.close()


def views(store: SQLiteViewStore) -> dict[str, list[tuple[str, str, dict[str, object]]]]:
    return {name: [(r.kind, r.key, r.data) for r in store.rows(name)] for name in NAMES}


def topic(settings: Settings) -> list[tuple[int, int, LogRecord]]:
    """Every committed record of the ledger's topic, read by an independent reader."""
    reader = TopicReader(settings.kafka_bootstrap, settings.kafka_topic)
    try:
        found: list[tuple[int, int, LogRecord]] = []
        positions = dict.fromkeys(reader.partitions(), 0)
        while batch := reader.read(positions, 1000):
            found += batch
            positions.update({p: reader.position(p) for p, _, _ in batch})
        return found
    finally:
        reader.close()


def positions_before(records: list[tuple[int, int, LogRecord]], seq: int) -> dict[str, int]:
    """Per partition holding records before ``seq``: the offset after the last of them."""
    found: dict[str, int] = {}
    for partition, offset, record in records:
        if record.id < seq:
            found[partition_source(partition)] = max(found.get(partition_source(partition), 0), offset + 1)
    return found


def project(app: Ledger, path: Path, **options: object) -> tuple[SQLiteViewStore, ProjectionRunner]:
    store = SQLiteViewStore(path)
    return store, ProjectionRunner(app, store, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("partitions", [1, 3])
def test_views_read_from_the_topic_equal_views_of_an_sqlite_ledger_fed_the_same_commands(
    partitions: int, open_ledger: Callable[..., Ledger], same_ids: Callable[[], None], tmp_path: Path,
) -> None:
    kafka, embedded = open_ledger("kafka", partitions), open_ledger("sqlite")
    for app in (kafka, embedded):
        same_ids()
        generate(app, retirees=20)
    assert kafka.head() == embedded.head() >= 200
    kafka_store, kafka_runner = project(kafka, tmp_path / "kafka-views.db", batch_size=64)
    embedded_store, embedded_runner = project(embedded, tmp_path / "sqlite-views.db")
    assert kafka_runner.catch_up() == embedded_runner.catch_up() == kafka.head()
    assert views(kafka_store) == views(embedded_store)
    records = topic(kafka.settings)
    expected = positions_before(records, kafka.head() + 1)
    assert len(expected) == partitions and sorted(r.id for _, _, r in records) == list(range(1, kafka.head() + 1))
    assert all(kafka_store.positions(name) == expected for name in NAMES)
    assert all(s.position == s.head == kafka.head() and s.lag == 0 for s in kafka_runner.status())
    assert all(s.lag_by_source == dict.fromkeys(expected, 0) for s in kafka_runner.status())
    kafka_runner.close()


def test_status_gives_each_views_lag_per_partition(open_ledger: Callable[..., Ledger], tmp_path: Path) -> None:
    app = open_ledger("kafka", 3)
    generate(app, retirees=10)
    _, runner = project(app, tmp_path / "views.db")
    behind = runner.status()[0]
    assert set(behind.lag_by_source) == {"kafka:0", "kafka:1", "kafka:2"} and behind.positions == {}
    assert max(behind.lag_by_source.values()) == app.head()  # the partition holding the last seq
    runner.catch_up(["workload"])
    lags = {s.name: s.lag_by_source for s in runner.status()}
    assert set(lags["workload"].values()) == {0} and lags["audit"] == behind.lag_by_source
    runner.catch_up()
    assert all(set(s.lag_by_source.values()) == {0} for s in runner.status())
    runner.close()


class SeenOnce:
    """Writes one row per applied seq, counting how often it was applied; can fail at one seq."""

    name, version = "seen", 1

    def __init__(self, fail_at: int = 0) -> None:
        self.fail_at = fail_at

    def evolve(self, rows: Rows, event: object) -> None:
        if rows.seq == self.fail_at:
            raise ValueError("cannot apply this one")
        row = rows.get("seq", f"{rows.seq:06d}") or {"n": 0, "type": type(event).__name__}
        rows.put("seq", f"{rows.seq:06d}", {**row, "n": row["n"] + 1})


def more_events(app: Ledger) -> None:
    """About 40 more events: a new community in Changde and eight retirees served there."""
    h = Hunan(app)
    h.community("CD-WL-001")
    h.staff("CD-WL-001", "cd-s1", date(2020, 1, 1))
    for n in range(8):
        retiree = h.enroll()
        h.transfer(retiree, "CD-WL-001", date(2023, 1, 1))
        h.service(retiree, "CD-WL-001", f"cd-v{n}", "home_visit", date(2024, 1, n + 1), "cd-s1", 30)
        h.certify(retiree, date(2024, 2, 1))


@pytest.mark.parametrize("partitions", [1, 3])
def test_positions_stop_before_a_failing_event_and_a_restart_applies_every_event_once(
    partitions: int, open_ledger: Callable[..., Ledger], tmp_path: Path,
) -> None:
    app = open_ledger("kafka", partitions)
    generate(app, seed=3, retirees=6)
    store, runner = project(app, tmp_path / "views.db", projections=[SeenOnce()], batch_size=1000)
    first = runner.catch_up()
    runner.close()
    more_events(app)
    head, records = app.head(), topic(app.settings)
    failing = first + (head - first) // 2
    _, broken = project(app, tmp_path / "views.db", projections=[SeenOnce(fail_at=failing)], batch_size=1000)
    with pytest.raises(ProjectionError) as caught:
        broken.catch_up()
    broken.close()
    assert caught.value.seq == failing and f"up to seq {failing - 1}" in caught.value.detail
    assert store.positions("seen") == positions_before(records, failing)
    assert [int(row.key) for row in store.rows("seen")] == list(range(1, failing))
    _, restarted = project(app, tmp_path / "views.db", projections=[SeenOnce()], batch_size=7)
    assert restarted.catch_up() == head - failing + 1
    incremental = store.rows("seen")
    assert [int(row.key) for row in incremental] == list(range(1, head + 1))
    assert {row.data["n"] for row in incremental} == {1}
    assert store.positions("seen") == positions_before(records, head + 1)
    assert restarted.rebuild() == head and store.rows("seen") == incremental
    restarted.close()


def test_views_caught_up_after_every_append_equal_a_rebuild_from_offset_zero(
    open_ledger: Callable[..., Ledger], tmp_path: Path,
) -> None:
    app = open_ledger("kafka", 3)
    store, runner = project(app, tmp_path / "views.db")

    lags: list[int] = []

    def catch_up() -> None:
        runner.catch_up()
        lags.append(app.head() - max(s.position for s in runner.status()))

    app.after_append.append(catch_up)
    generate(app, seed=5, retirees=8)
    head = app.head()
    assert len(lags) >= 100 and set(lags) == {0}  # read-your-writes: every acknowledged event is in the views
    incremental, positions = views(store), {name: store.positions(name) for name in NAMES}
    assert len(positions["audit"]) == 3 and all(p == positions["audit"] for p in positions.values())
    assert runner.rebuild() == head
    assert views(store) == incremental
    assert {name: store.positions(name) for name in NAMES} == positions
    assert all(store.version(name + "~rebuild") is None for name in NAMES)
    runner.close()


def test_a_fresh_topic_gives_empty_views_and_no_lag(open_ledger: Callable[..., Ledger], tmp_path: Path) -> None:
    app = open_ledger("kafka", 2)
    store, runner = project(app, tmp_path / "views.db")
    assert runner.catch_up() == 0 and runner.rebuild() == 0
    assert [(s.position, s.head, s.lag) for s in runner.status()] == [(0, 0, 0)] * len(NAMES)
    assert all(store.version(name) is not None and store.rows(name) == [] for name in NAMES)
    runner.close()
