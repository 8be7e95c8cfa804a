"""Paired figures: interleaving order, medians and spread of ratios, goals."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bench.paired import Goal, Paired, interleaved, p99_ms


def test_sides_alternate_which_goes_first_each_round() -> None:
    calls: list[str] = []
    ours, theirs = interleaved(4, lambda r: calls.append(f"L{r}") or float(r + 1),
                               lambda r: calls.append(f"B{r}") or 2.0)
    assert calls == ["L0", "B0", "B1", "L1", "L2", "B2", "B3", "L3"]
    assert ours == [1.0, 2.0, 3.0, 4.0] and theirs == [2.0] * 4


def test_the_figure_is_the_median_of_per_round_ratios_with_its_spread() -> None:
    figure = Paired("x", "/s", "base", [10, 30, 20, 5, 40], [10, 10, 10, 10, 10])
    assert figure.ratios == [1.0, 3.0, 2.0, 0.5, 4.0]
    assert figure.median == (20, 10, 2.0)
    assert figure.spread == (0.5, 4.0)
    assert figure.met is None


@pytest.mark.parametrize(("goal", "met"), [
    (Goal("ratio_at_least", 2.0), True), (Goal("ratio_at_least", 2.1), False),
    (Goal("ratio_at_most", 2.0), True), (Goal("ratio_at_most", 1.9), False),
    (Goal("ledger_below", 21), True), (Goal("ledger_below", 20), False),
])
def test_goals_are_judged_on_the_medians(goal: Goal, met: bool) -> None:
    figure = Paired("x", "ms", "base", [10, 30, 20], [10, 10, 10]).with_goal(goal)
    assert figure.met is met
    described = figure.to_dict()
    assert described["met"] is met and described["goal"] == goal.describe("ms")
    assert described["ledger_rounds"] == [10, 30, 20] and described["rounds"] == 3


def test_p99_is_the_sample_at_the_99th_percentile_rank_in_ms() -> None:
    latencies = [n / 1000 for n in range(1, 101)]
    assert p99_ms(latencies) == pytest.approx(100.0)
    assert p99_ms([*latencies[:99], 0.0]) == pytest.approx(99.0)


def test_a_goal_with_a_bound_also_needs_that_companion_figure_under_it() -> None:
    goal = Goal("ratio_at_least", 0.5, bound=("all_processes_rss_mb", 500))
    figure = Paired("rebuild", "/s", "base", [6, 6, 6], [10, 10, 10]).with_goal(goal)
    assert figure.met is False  # the memory was not measured: not met
    assert replace(figure, extra=(("all_processes_rss_mb", 434.0),)).met is True
    assert replace(figure, extra=(("all_processes_rss_mb", 500.0),)).met is False
    assert replace(figure, ledger=[4, 4, 4], extra=(("all_processes_rss_mb", 434.0),)).met is False
    assert goal.describe("/s") == "≥ 0.5x, all_processes_rss_mb < 500"
