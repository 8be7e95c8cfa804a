"""``ledger bench`` produces every goal figure of issue 9, each paired with its baseline, with its goal.

No timing is asserted here (timings belong to the benchmark); only that every figure is produced, on
both sides, in every round, with a goal judged on its medians.
"""

from __future__ import annotations

import math
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

import cli.main  # noqa: F401  (registers the commands on the app)
from bench.http_appends import WORKER_METRIC
from bench.run import GOALS, Scale, run
from cli.base import app

TINY = Scale(rounds=2, appends=20, http_appends=6, retirees=3, history_events=30, history_requests=5, events=600,
             bulk_retirees=12, kafka_writers=4, kafka_per_writer=3)

EMBEDDED = {"appends/s in-process", "appends/s over HTTP", WORKER_METRIC,
            "history p99, first page of a 30-event retiree over HTTP", "verify events/s (chain + tree)"}
COMPANIONS = {"verify events/s (chain + tree), beside the chain + tree loop"}
KAFKA_COMPANION = "Kafka appends, 4 writers: records/s"  # plain threads, beside the goal against transactions


def check(figures: list[dict[str, object]], rounds: int) -> None:
    for figure in figures:
        assert figure["rounds"] == rounds, figure["metric"]
        for side in ("ledger_rounds", "baseline_rounds"):
            values = figure[side]
            assert isinstance(values, list) and len(values) == rounds
            assert all(v > 0 and math.isfinite(v) for v in values), figure["metric"]
        assert figure["ratio_min"] <= figure["ratio"] <= figure["ratio_max"]  # type: ignore[operator]
        if figure["metric"] in COMPANIONS | {KAFKA_COMPANION}:  # beside a goal figure, no goal of its own
            assert figure["goal"] is None and figure["met"] is None
        else:
            assert figure["goal"] is not None and isinstance(figure["met"], bool), figure["metric"]


def test_the_embedded_benchmark_reports_every_goal_figure(tmp_path: Path) -> None:
    figures = [f.to_dict() for f in run(tmp_path, None, TINY)]
    names = {str(f["metric"]) for f in figures}
    assert names >= EMBEDDED
    assert any(name.startswith("rebuild") for name in names)
    assert any("POST /v1/batches" in name for name in names)
    assert names >= COMPANIONS
    assert len(figures) == 8
    check(figures, TINY.rounds)
    verify = next(f for f in figures if f["metric"] == "verify events/s (chain + tree)")
    assert verify["baseline_is"] == "bare chain-hash loop, same rows" and verify["goal"] == "≥ 0.7x"
    goals = {f["goal"] for f in figures}
    wanted = ("appends", "http", "history", "verify")
    assert {GOALS[k].describe("ms" if k == "history" else "/s") for k in wanted} <= goals


def test_the_command_writes_every_figure_and_its_goal_as_json(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    result = CliRunner().invoke(app, ["bench", "--quick", "--events", "300", "--json", str(out)],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    figures = orjson.loads(out.read_bytes())
    assert EMBEDDED - {m for m in EMBEDDED if "30-event" in m} <= {f["metric"] for f in figures}
    check(figures, 5)
    assert "met" in result.output or "NOT met" in result.output


def test_a_log_url_that_is_not_kafka_is_refused_in_one_line() -> None:
    result = CliRunner().invoke(app, ["bench", "--log", "sqlite:///x"])
    assert result.exit_code != 0 and "kafka://" in result.output


@pytest.mark.kafka
def test_the_kafka_figures_pair_the_ledger_with_raw_kafka_python(tmp_path: Path, kafka_bootstrap: str) -> None:
    from bench.run import kafka_figures

    figures = [f.to_dict() for f in kafka_figures(tmp_path, f"kafka://{kafka_bootstrap}", TINY, lambda _: None)]
    assert len(figures) == 3
    check(figures, TINY.rounds)
    assert any(f["unit"] == "ms" and f["goal"] == GOALS["kafka_p99"].describe("ms") for f in figures)
    assert [f["goal"] for f in figures if f["unit"] == "/s"] == [None, GOALS["kafka"].describe("/s")]
    assert any("records_per_transaction" in f for f in figures)
