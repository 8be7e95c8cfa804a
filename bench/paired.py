"""Paired figures: the ledger and its baseline measured interleaved, round by round, on the same data.

A shared 2-core machine drifts by tens of percent within a minute, so one sample of each side, taken
one after the other, says little. Every figure here is ``rounds`` samples of each side taken in
alternating order (ledger first in even rounds, baseline first in odd ones); the figure is the median
of the per-round ratios, reported with their spread (min to max). Where the issue sets a goal, the
figure carries it and says whether the median met it.
"""

from __future__ import annotations

import socket
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Literal

import uvicorn
from fastapi import FastAPI

Report = Callable[[str], None]

GoalKind = Literal["ratio_at_least", "ratio_at_most", "ledger_below"]


@dataclass(frozen=True)
class Goal:
    """What the median must reach: a ratio floor or ceiling, or an absolute ceiling on the ledger's value;
    with ``bound``, also a ceiling on one of the figure's ``extra`` values (the rebuild's memory)."""

    kind: GoalKind
    value: float
    bound: tuple[str, float] | None = None

    def met(self, ledger: float, ratio: float, extra: Mapping[str, float] | None = None) -> bool:
        if self.bound is not None:
            name, ceiling = self.bound
            found = (extra or {}).get(name)
            if found is None or not found < ceiling:  # not measured: not met
                return False
        if self.kind == "ratio_at_least":
            return ratio >= self.value
        if self.kind == "ratio_at_most":
            return ratio <= self.value
        return ledger < self.value

    def describe(self, unit: str) -> str:
        text = {"ratio_at_least": f"≥ {self.value:g}x", "ratio_at_most": f"≤ {self.value:g}x",
                "ledger_below": f"< {self.value:g} {unit}"}[self.kind]
        return text if self.bound is None else f"{text}, {self.bound[0]} < {self.bound[1]:g}"


@dataclass(frozen=True)
class Paired:
    """One figure: the ledger's and the baseline's value per round (same unit), and their ratios."""

    metric: str
    unit: str
    baseline_name: str
    ledger: list[float]
    baseline: list[float]
    goal: Goal | None = None
    extra: tuple[tuple[str, float], ...] = ()
    """Figures that belong with this one (peak memory, records per transaction), reported as they are."""

    @property
    def ratios(self) -> list[float]:
        return [a / b if b else float("nan") for a, b in zip(self.ledger, self.baseline, strict=True)]

    @property
    def median(self) -> tuple[float, float, float]:
        """(ledger median, baseline median, median ratio)."""
        return statistics.median(self.ledger), statistics.median(self.baseline), statistics.median(self.ratios)

    @property
    def spread(self) -> tuple[float, float]:
        return min(self.ratios), max(self.ratios)

    @property
    def met(self) -> bool | None:
        if self.goal is None:
            return None
        ledger, _, ratio = self.median
        return self.goal.met(ledger, ratio, dict(self.extra))

    def with_goal(self, goal: Goal) -> Paired:
        return replace(self, goal=goal)

    def to_dict(self) -> dict[str, object]:
        ledger, baseline, ratio = self.median
        return {"metric": self.metric, "unit": self.unit, "baseline_is": self.baseline_name, "ledger": ledger,
                "baseline": baseline, "ratio": ratio, "ratio_min": self.spread[0], "ratio_max": self.spread[1],
                "rounds": len(self.ledger), "ledger_rounds": self.ledger, "baseline_rounds": self.baseline,
                "goal": self.goal.describe(self.unit) if self.goal else None, "met": self.met,
                **dict(self.extra)}


def interleaved(rounds: int, ledger: Callable[[int], float], baseline: Callable[[int], float]
                ) -> tuple[list[float], list[float]]:
    """``rounds`` samples of each side (each called with the round number), the order alternating per round."""
    ours: list[float] = []
    theirs: list[float] = []
    for round_ in range(rounds):
        if round_ % 2 == 0:
            ours.append(ledger(round_))
            theirs.append(baseline(round_))
        else:
            theirs.append(baseline(round_))
            ours.append(ledger(round_))
    return ours, theirs


def per_second(count: int, work: Callable[[], object]) -> float:
    began = time.perf_counter()
    work()
    return count / (time.perf_counter() - began)


def p99_ms(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] * 1000


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """``app`` under uvicorn on a free loopback port, for as long as the block runs; yields its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("benchmark server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
