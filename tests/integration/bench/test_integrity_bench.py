"""``ledger bench --integrity`` produces every figure with its baseline and ratio (not its speed)."""

from __future__ import annotations

from pathlib import Path

import orjson
from typer.testing import CliRunner

from bench import integrity
from cli.main import app

METRICS = {"appends/s with the Merkle tree", "inclusion proof p99 at 1,000 events",
           "consistency proof p99 at 1,000 events", "verify events/s (chain + tree)",
           "bare chain + tree-head loop events/s"}


def test_every_figure_is_a_median_of_interleaved_rounds_beside_its_baseline(tmp_path: Path) -> None:
    figures = integrity.run(tmp_path, events=1000, appends=5, samples=10, rounds=3)
    assert {f.metric for f in figures} == METRICS
    for figure in figures:
        assert len(figure.ledger) == len(figure.baseline) == 3
        assert all(value > 0 for value in figure.ledger + figure.baseline)
        ledger, baseline, ratio = figure.median
        assert figure.spread[0] <= ratio <= figure.spread[1]
        assert (figure.to_dict()["ledger"], figure.to_dict()["baseline"], figure.to_dict()["ratio"]) == (
            ledger, baseline, ratio)


def test_the_baseline_appends_really_write_no_tree(tmp_path: Path) -> None:
    from ledger.application import Ledger
    from ledger.config import Settings

    ledger = Ledger(Settings(home=tmp_path / "home", keys_dir=tmp_path / "keys"))
    try:
        integrity.synthetic_log(ledger, 10, lambda _: None)
        with integrity.without_tree():
            integrity.synthetic_log(ledger, 5, lambda _: None)
        assert ledger.head() == 15
        assert ledger.log.merkle(lambda node, size: size) == 10
    finally:
        ledger.close()


def test_the_command_writes_the_figures_as_json(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    result = CliRunner().invoke(app, ["bench", "--integrity", "--quick", "--events", "500", "--json", str(out)],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    figures = orjson.loads(out.read_bytes())
    assert {f["metric"] for f in figures} == {m.replace("1,000", "500") for m in METRICS}
    assert all(f["rounds"] == 5 and f["ratio_min"] <= f["ratio"] <= f["ratio_max"] for f in figures)
