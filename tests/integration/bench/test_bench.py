"""``ledger bench`` measures every figure the issues ask for, each beside its same-run baseline.

No timing is asserted here (timings belong to the benchmark); only that every figure is produced.
"""

from __future__ import annotations

import math

import pytest

from bench.run import Scale, run

TINY = Scale(appends=40, http_appends=10, reads=10, retirees=4, concurrent_per_writer=2)


def test_the_embedded_benchmark_reports_every_figure_with_a_baseline() -> None:
    figures = {f.metric: f for f in run(None, TINY)}
    assert set(figures) == {
        "appends/s in-process", "appends/s over HTTP", "history read p50", "history read p99", "rebuild events/s",
        "appends/s, encrypted", "rebuild events/s, encrypted", "hash chain µs per append",
    }
    for figure in figures.values():
        assert figure.ledger > 0 and figure.baseline > 0 and math.isfinite(figure.ratio)


@pytest.mark.kafka
def test_the_kafka_benchmark_compares_writers_and_group_commit_with_sqlite(kafka_bootstrap: str) -> None:
    figures = [f.metric for f in run(f"kafka://{kafka_bootstrap}", TINY)]
    for writers in ("1 writer", "32 writers"):
        for mode in ("on", "off"):
            for measure in ("appends/s", "p50", "p99"):
                assert f"Kafka {writers}, group commit {mode}: {measure}" in figures
    assert "projection rebuild events/s from the Kafka topic" in figures
    assert "index rebuild events/s from the Kafka topic" in figures
