"""Views folded by partition owners (``projections.shards``), on a real broker with a 3-partition topic.

Each owner folds only its partitions, each in offset order, so the order of the log across
partitions is lost; the views must still equal one fold of the whole log in ``seq`` order, row for
row once the parts of the rows that sum across partitions are merged, and ``projections.verify``
must find them equal to a replay.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from ledger.application import Ledger
from ledger.errors import InvalidInputError
from ledger.eventlog.base import LogRecord
from projections import registry
from projections.runner import ProjectionRunner, green
from projections.shards import SHARD, merged, shared_kinds
from projections.store import ViewRow
from projections.store.sqlite import SQLiteViewStore
from projections.verify import verify
from projections.workload import WorkloadView
from tests.integration.projections import test_kafka_source
from tests.integration.projections.test_kafka_source import SeenOnce, more_events, topic
from tests.integration.projections.test_replay import generate

pytestmark = pytest.mark.kafka
PARTITIONS = 3
open_ledger = test_kafka_source.open_ledger  # the same fixture: ledgers on the session's broker


def merged_views(store: SQLiteViewStore) -> dict[str, list[ViewRow]]:
    return {p.name: merged(store.rows(p.name), shared_kinds(p)) for p in registry.ALL}


def test_views_folded_by_partition_owners_equal_one_fold_of_the_log_in_seq_order(
    open_ledger: Callable[..., Ledger], tmp_path: Path,
) -> None:
    app = open_ledger("kafka", PARTITIONS)
    store = SQLiteViewStore(tmp_path / "owners.db")
    first, second = (ProjectionRunner(app, store, partitions=owned) for owned in ([0, 1], [2]))
    generate(app, seed=5, retirees=10)
    assert first.catch_up() + second.catch_up() == app.head()
    more_events(app)  # the owners take turns, and the view is already filled: batches, not a rebuild
    second.catch_up()
    first.catch_up()
    whole = SQLiteViewStore(tmp_path / "whole.db")
    one = ProjectionRunner(app, whole)
    assert one.catch_up() == app.head()
    assert merged_views(store) == {name: whole.rows(name) for name in merged_views(store)}
    for p in registry.ALL:
        assert store.positions(p.name) == whole.positions(p.name)
    parts = {row.key.split(SHARD)[0] for row in store.rows("workload", "month") if SHARD in row.key}
    spread = [key for key in parts if len({r.key for r in store.rows("workload", "month", key + SHARD)}) > 1]
    assert spread, "no month row gathered facts from two partitions: the test would not show the merge"
    assert all(check.ok for check in verify(app, store, registry.ALL)), [c for c in verify(app, store, registry.ALL)]
    for runner in (first, second, one):
        runner.close()


def test_verify_replays_exactly_what_each_partition_owner_applied(
    open_ledger: Callable[..., Ledger], tmp_path: Path,
) -> None:
    """One owner ahead of the other: the view stands at different seqs in different partitions."""
    app = open_ledger("kafka", PARTITIONS)
    store = SQLiteViewStore(tmp_path / "owners.db")
    generate(app, seed=8, retirees=8)
    ahead, behind = ProjectionRunner(app, store, partitions=[0]), ProjectionRunner(app, store, partitions=[1, 2])
    ahead.catch_up(), behind.catch_up()
    more_events(app)
    ahead.catch_up()
    reader = ProjectionRunner(app, store)  # an API process reading the views: what do they hold?
    records = topic(app.settings)
    first_missing = min(r.id for p, _, r in records if p != 0 and r.id > store_seq(store, records, p))
    assert set(reader.positions().values()) == {first_missing - 1} and first_missing <= app.head()
    checks = verify(app, store, registry.ALL)
    assert [c.view for c in checks if not c.ok] == []
    assert behind.catch_up() > 0 and all(c.ok for c in verify(app, store, registry.ALL))
    assert set(reader.positions().values()) == {app.head()}
    assert {source: lag for s in reader.status() for source, lag in s.lag_by_source.items()} == {
        "kafka:0": 0, "kafka:1": 0, "kafka:2": 0}
    for runner in (ahead, behind, reader):
        runner.close()


def store_seq(store: SQLiteViewStore, records: list[tuple[int, int, LogRecord]], partition: int) -> int:
    """The seq of the last record of ``partition`` the audit view has applied."""
    at = store.positions("audit").get(f"kafka:{partition}", 0)
    return max((r.id for p, offset, r in records if p == partition and offset < at), default=0)


def test_owners_of_overlapping_partitions_never_apply_an_event_twice(
    open_ledger: Callable[..., Ledger], tmp_path: Path,
) -> None:
    """Two workers told to own partition 1 both: the compare-and-set on its position lets one batch in."""
    app = open_ledger("kafka", PARTITIONS)
    generate(app, seed=9, retirees=6)
    stop = threading.Event()
    runners = [ProjectionRunner(app, SQLiteViewStore(tmp_path / "seen.db"), [SeenOnce()], batch_size=7,
                                partitions=owned) for owned in ([0, 1], [1, 2])]

    def run(runner: ProjectionRunner) -> None:
        while not stop.is_set():
            runner.catch_up()

    threads = [threading.Thread(target=run, args=(runner,)) for runner in runners]
    for thread in threads:
        thread.start()
    more_events(app)
    stop.set()
    for thread in threads:
        thread.join()
    for runner in runners:
        runner.catch_up()
    rows = SQLiteViewStore(tmp_path / "seen.db").rows("seen")
    assert [int(row.key) for row in rows] == list(range(1, app.head() + 1))
    assert {row.data["n"] for row in rows} == {1}
    for runner in runners:
        runner.close()


def test_a_partition_owner_cannot_rebuild_and_only_a_topic_has_partitions(
    open_ledger: Callable[..., Ledger], tmp_path: Path,
) -> None:
    app = open_ledger("kafka", PARTITIONS)
    owner = ProjectionRunner(app, SQLiteViewStore(tmp_path / "v.db"), partitions=[0])
    with pytest.raises(InvalidInputError, match="every partition"):
        owner.rebuild()
    owner.close()
    missing = ProjectionRunner(app, SQLiteViewStore(tmp_path / "w.db"), partitions=[7])
    with pytest.raises(InvalidInputError, match=r"no partition\(s\) \[7\]"):
        missing.catch_up()
    missing.close()
    with pytest.raises(InvalidInputError, match="only a Kafka log"):
        ProjectionRunner(open_ledger("sqlite"), SQLiteViewStore(tmp_path / "x.db"), partitions=[0])


class WorkloadV2(WorkloadView):
    version = 2


def test_a_new_version_built_by_partition_owners_is_swapped_in_once_every_partition_has_caught_up(
    open_ledger: Callable[..., Ledger], tmp_path: Path,
) -> None:
    app = open_ledger("kafka", PARTITIONS)
    store = SQLiteViewStore(tmp_path / "owners.db")
    generate(app, seed=4, retirees=8)
    live = ProjectionRunner(app, store, [WorkloadView()])
    live.catch_up()
    serving = store.rows("workload")
    first, second = (ProjectionRunner(app, store, [WorkloadV2()], partitions=owned) for owned in ([0, 1], [2]))
    first.catch_up()
    assert store.version("workload") == 1 and store.rows("workload") == serving  # partition 2 not built yet
    assert store.version(green(WorkloadV2())) == 2
    second.catch_up()
    assert store.version("workload") == 2 and store.version(green(WorkloadV2())) is None
    assert merged(store.rows("workload"), shared_kinds(WorkloadV2())) == serving
    assert all(check.ok for check in verify(app, store, [WorkloadV2()]))
    for runner in (live, first, second):
        runner.close()
