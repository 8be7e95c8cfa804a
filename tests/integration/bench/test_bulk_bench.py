"""``ledger bench --bulk`` produces its figure beside its baseline, and both sides did the work (not its speed)."""

from __future__ import annotations

from pathlib import Path

import orjson
from typer.testing import CliRunner

from bench import bulk
from cli.main import app
from ledger.application import Ledger
from ledger.config import Settings


def test_the_city_is_enrolled_through_the_batch_path(tmp_path: Path) -> None:
    ledger = Ledger(Settings(home=tmp_path / "home", keys_dir=tmp_path / "keys"))
    try:
        ids = bulk.enroll_city(ledger, 12, lambda _: None)
        assert len(set(ids)) == 12
        assert {ledger.retiree(rid).community for rid in ids} == {bulk.COMMUNITY}
        assert ledger.head() == 1 + 12 * 3  # the community; each retiree's enrollment, claim and transfer
    finally:
        ledger.close()


def test_each_round_adjusts_every_retiree_on_both_sides(tmp_path: Path) -> None:
    (figure,) = bulk.run(tmp_path, retirees=30, rounds=2)  # run() checks the last retiree's final pension
    assert len(figure.ledger) == len(figure.baseline) == 2
    assert all(value > 0 for value in figure.ledger + figure.baseline)
    assert figure.spread[0] <= figure.median[2] <= figure.spread[1]


def test_the_command_writes_the_figure_as_json(tmp_path: Path) -> None:
    out = tmp_path / "bulk.json"
    result = CliRunner().invoke(app, ["bench", "--bulk", "--retirees", "20", "--json", str(out)],
                                env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    (figure,) = orjson.loads(out.read_bytes())
    assert figure["metric"].startswith("annual adjustment of 20 retirees") and figure["rounds"] == 3
    assert figure["ratio_min"] <= figure["ratio"] <= figure["ratio_max"] and figure["baseline"] > 0
