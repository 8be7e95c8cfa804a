"""The follower gathers the appends of ``gather_s`` into one catch-up, unless a reader is waiting."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, cast

from projections.follower import Follower
from projections.runner import ProjectionRunner


@dataclass
class View:
    name: str = "view"


@dataclass
class CountingRunner:
    """Stands in for ``ProjectionRunner``: catching up moves the view to the head and is counted."""

    head: int = 0
    at: int = 0
    catch_ups: int = 0
    projections: list[View] = field(default_factory=lambda: [View()])

    def positions(self) -> dict[str, int]:
        return {"view": self.at}

    def catch_up(self, names: Any = None, **_: Any) -> int:
        self.catch_ups += 1
        applied, self.at = self.head - self.at, self.head
        return applied


def follower(runner: CountingRunner, gather_s: float, duties: dict[str, Any] | None = None) -> Follower:
    return Follower(cast(ProjectionRunner, runner), lambda: runner.head, poll_s=30, gather_s=gather_s,
                    duties=duties)


def test_appends_within_the_gathering_window_are_caught_up_in_one_cycle() -> None:
    runner = CountingRunner()
    heads_seen: list[int] = []
    running = follower(runner, gather_s=0.3, duties={"checkpoints": lambda: heads_seen.append(runner.head)})
    running.start()
    try:
        for _ in range(5):
            runner.head += 1
            running.notify()
            time.sleep(0.01)
        deadline = time.monotonic() + 5
        while runner.at < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert (runner.at, runner.catch_ups) == (5, 1)
        assert heads_seen[0] == 1  # the duties saw the first append at once, not after the window
    finally:
        running.stop()


def test_a_waiting_reader_ends_the_gathering_at_once() -> None:
    runner = CountingRunner()
    running = follower(runner, gather_s=10)
    running.start()
    try:
        runner.head = 1
        running.notify()
        began = time.monotonic()
        assert running.wait_for("view", 1, timeout=5) == 1
        assert time.monotonic() - began < 2
    finally:
        running.stop()
