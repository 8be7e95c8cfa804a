"""``ledger bench --scale`` (issue 10) on a small log, a real PostgreSQL and a real Kafka broker: each figure
is produced beside its baseline, with positive rates, ratios that are ledger / baseline per round, and
views that equal a replay of the log after every workers' run (their shape and correctness, not their
speed). One bench run serves every assertion: each worker run starts processes, which is what costs."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import scale, workers
from bench.paired import Paired
from ledger.application import Ledger
from ledger.config import Settings
from projections import registry
from projections.runner import ProjectionRunner
from projections.store.postgres import PostgresViewStore
from projections.verify import verify


def assert_paired(figure: Paired, rounds: int) -> None:
    assert len(figure.ledger) == len(figure.baseline) == rounds
    assert all(rate > 0 for rate in figure.ledger + figure.baseline)
    assert figure.ratios == pytest.approx([a / b for a, b in zip(figure.ledger, figure.baseline, strict=True)])
    low, high = figure.spread
    assert 0 < low <= figure.median[2] <= high


@pytest.mark.kafka
@pytest.mark.postgres
def test_every_figure_of_issue_10_is_paired_with_the_same_runs_baseline_and_the_views_equal_a_replay(
        tmp_path: Path, kafka_bootstrap: str, postgres_server: str) -> None:
    checked: list[int] = []

    def equal_a_replay(settings: Settings, count: int, views: str) -> None:
        ledger = Ledger(settings)
        store = PostgresViewStore(views)
        try:
            runner = ProjectionRunner(ledger, store)
            checks = verify(ledger, store, runner.projections)
            runner.close()
        finally:
            store.close()
            ledger.close()
        assert len(checks) == len(registry.ALL)
        assert all(check.ok for check in checks), [check.summary() for check in checks if not check.ok]
        checked.append(count)

    reports: list[str] = []
    figures = scale.figures(tmp_path, f"kafka://{kafka_bootstrap}", postgres_server, events=200, rounds=2,
                            workers=(1, 2, 4), read_seconds=0.3, report=reports.append, after_run=equal_a_replay)

    assert sorted(checked) == [1, 1, 2, 2, 4, 4]  # every run of every side, compared with a replay
    assert len(figures) == 4
    rebuild, two, four, reads = figures
    for figure in figures:
        assert_paired(figure, rounds=2)
    assert "PostgreSQL" in rebuild.metric and "SQLite" in rebuild.baseline_name
    assert [dict(f.extra)["workers"] for f in (two, four)] == [2, 4]
    assert [dict(f.extra)["bound_on_2_cores"] for f in (two, four)] == [2, 2]
    for figure in (two, four):
        extra = dict(figure.extra)
        assert extra["worker_fixed_seconds"] > 0 and 0 < extra["bound_with_fixed_cost"] <= 2
        assert extra["bound_with_fixed_cost"] == workers.split_bound(
            int(extra["workers"]), extra["baseline_median_seconds"], extra["worker_fixed_seconds"])
    assert two.baseline == four.baseline and two.baseline_name.startswith("1 worker")  # the same 1-worker runs
    assert "4-partition topic" in two.metric
    assert "reader API on the PostgreSQL index" in reads.metric and "writer's own API" in reads.baseline_name
    assert any("writing the Kafka log" in line for line in reports)


def test_a_split_is_bounded_by_the_cores_and_by_what_every_worker_pays() -> None:
    assert workers.split_bound(2, 20.0, 0.0) == 2.0 and workers.split_bound(4, 20.0, 0.0) == 2.0
    assert workers.split_bound(2, 20.0, 20.0) == 1.0 and workers.split_bound(4, 20.0, 20.0) == 0.5
    assert workers.split_bound(2, 20.0, 10.0) == pytest.approx(20 / 15)


def test_the_partitions_are_dealt_so_that_each_has_one_worker() -> None:
    assert workers.shares(1, 4) == [[0, 1, 2, 3]]
    assert workers.shares(2, 4) == [[0, 2], [1, 3]]
    assert workers.shares(4, 4) == [[0], [1], [2], [3]]
    for count, partitions in ((2, 3), (3, 4), (4, 9), (6, 4)):
        split = workers.shares(count, partitions)
        assert len(split) == min(count, partitions)
        assert sorted(p for share in split for p in share) == list(range(partitions))
        assert max(map(len, split)) - min(map(len, split)) <= 1
    with pytest.raises(ValueError):
        workers.shares(0, 4)
