"""Appends over HTTP, in both deployments, beside FastAPI over the plain application.

* embedded (the default, ``LEDGER_FOLLOW=1``): the API process also runs the views, in a thread that
  follows the log and shares the GIL with the request threads;
* views in a worker (``LEDGER_FOLLOW=0``): the API only appends and reads; a projection worker
  process (``ledger projections run``) keeps the views current beside it, on the same 2 cores.

The three servers are up at once, each on a populated log of its own, and every round samples all
three in a rotating order (same request bodies on both ledgers), so both ledger figures share the
baseline's samples. Each request is one service delivered, on a retiree whose community has active staff.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx

from bench.baseline import plain_app, plain_http
from bench.history import wait_for_views
from bench.paired import Paired, per_second, served
from bench.workload import COMMUNITY, populate, stop
from ledger.application import Ledger
from ledger.config import Settings

Report = Callable[[str], None]
BASELINE = "FastAPI + eventsourcing SQLite app, AES + orjson"
WORKER_METRIC = "appends/s over HTTP, views in a worker process (LEDGER_FOLLOW=0)"


def service_body(day: int) -> dict[str, Any]:
    return {"type": "service_delivered", "service_id": f"sv-h{day}", "community": COMMUNITY,
            "service_type": "home_visit", "delivered_on": f"{2012 + day % 10}-03-01", "staff_id": "staff-1",
            "duration_minutes": 30, "notes": ""}


def populated(home: Path, keys: Path, retirees: int) -> tuple[Settings, list[UUID]]:
    settings = Settings(home=home, keys_dir=keys)
    ledger = Ledger(settings)
    try:
        return settings, populate(ledger, retirees)
    finally:
        ledger.close()


@contextmanager
def worker(settings: Settings) -> Iterator[subprocess.Popen[bytes]]:
    """``ledger projections run`` on ``settings``' home, as a process of its own, until the block ends."""
    env = {**os.environ, "LEDGER_HOME": str(settings.home), "LEDGER_KEYS_DIR": str(settings.keys_dir)}
    process = subprocess.Popen([sys.executable, "-m", "cli.main", "projections", "run", "--interval", "0.2"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield process
    finally:
        stop(process)


def figures(root: Path, *, appends: int, retirees: int, rounds: int, report: Report) -> list[Paired]:
    """(embedded vs the plain app, views in a worker vs the plain app), ``rounds`` rounds of ``appends``."""
    from api.main import create_app

    report("HTTP appends vs FastAPI over the plain app (views in the API, and in a worker process)")
    embedded, embedded_ids = populated(root / "http", root / "keys", retirees)
    split, split_ids = populated(root / "http-worker", root / "keys", retirees)
    split = replace(split, follow=False)
    plain = plain_app(root / "plain-http.db")
    counters = [plain.start(f"counter-{n}") for n in range(retirees)]
    samples: dict[str, list[float]] = {"embedded": [], "worker": [], "plain": []}
    try:
        with served(create_app(embedded, dev_mode=True)) as embedded_url, worker(split), \
                served(create_app(split, dev_mode=True)) as split_url, served(plain_http(plain)) as plain_url, \
                httpx.Client(base_url=embedded_url) as ours, httpx.Client(base_url=split_url) as ours_split, \
                httpx.Client(base_url=plain_url) as baseline:
            def ledger_side(client: httpx.Client, ids: list[UUID]) -> Callable[[int], float]:
                def sample(round_: int) -> float:
                    def post() -> None:
                        for k in range(appends):
                            client.post(f"/v1/retirees/{ids[k % len(ids)]}/events",
                                        json=service_body(round_ * appends + k)).raise_for_status()
                    return per_second(appends, post)
                return sample

            def plain_side(round_: int) -> float:
                def post() -> None:
                    for k in range(appends):
                        baseline.post(f"/counters/{counters[k % len(counters)]}",
                                      json={"item": round_ * appends + k}).raise_for_status()
                return per_second(appends, post)

            for client in (ours, ours_split):  # the views caught up with the populated log, not timed
                wait_for_views(client)
            sides = {"embedded": ledger_side(ours, embedded_ids), "worker": ledger_side(ours_split, split_ids),
                     "plain": plain_side}
            for sample in sides.values():  # warm up: connections, caches, the first snapshot reads
                sample(rounds)
            order = list(sides)
            for round_ in range(rounds):
                for name in order[round_ % 3:] + order[:round_ % 3]:  # each side first, second and last in turn
                    samples[name].append(sides[name](round_))
    finally:
        plain.close()
    return [Paired("appends/s over HTTP", "/s", BASELINE, samples["embedded"], samples["plain"]),
            Paired(WORKER_METRIC, "/s", BASELINE, samples["worker"], samples["plain"])]
