"""History paging over HTTP: the first page of a long retiree history beside the whole of it.

``bench_history`` builds a ledger with one retiree of ``events`` events (enrollment and transfer by
``bench.workload.populate``, then services, every fifth one rated), serves the API with uvicorn on a
free 127.0.0.1 port and times, interleaved, ``requests`` GETs of the first page
(``/v1/retirees/{id}/history?limit=page``) and of the whole history (``?limit=1000``: the answer
every read gave before paging).
"""

from __future__ import annotations

import time
from pathlib import Path
from uuid import UUID

import httpx

from api.main import create_app
from bench.paired import served
from bench.workload import Timing, populate, service
from ledger import commands as c
from ledger.application import Ledger
from ledger.config import Settings

FULL = 1000
"""The largest page: the whole history of a retiree of up to 1,000 events in one answer."""


def one_long_history(settings: Settings, events: int) -> UUID:
    """Writes a retiree with ``events`` events (``events >= 2``) and returns their id."""
    ledger = Ledger(settings)
    try:
        (rid,) = populate(ledger, 1)  # enrolled and transferred: 2 events
        for n in range(events - 2):
            if n % 5 < 4:
                ledger.handle(service(rid, n))
            else:  # every fifth event rates the service before it
                rated = service(rid, n - 1)
                ledger.handle(c.RateSatisfaction(retiree_id=rid, score=4, rated_on=rated.delivered_on, channel="app",
                                                 service_id=rated.service_id))
    finally:
        ledger.close()
    return rid


def bench_history(
    root: Path, *, events: int = 500, requests: int = 200, page: int = 100, history_cache: int | None = None
) -> dict[str, float]:
    """First-page vs whole-history latency (ms) and answer size (bytes) over HTTP, measured interleaved.

    ``history_cache`` overrides ``Settings.history_cache`` (0: every read decodes from the log).
    """
    settings = Settings(home=root / "home", keys_dir=root / "keys")
    if history_cache is not None:
        settings = Settings(**{**settings.__dict__, "history_cache": history_cache})
    rid = one_long_history(settings, events)
    path = f"/v1/retirees/{rid}/history"
    paged: list[float] = []
    full: list[float] = []
    sizes = {"paged": 0, "full": 0}
    with served(create_app(settings, dev_mode=True, host="127.0.0.1")) as url, \
            httpx.Client(base_url=url, timeout=30) as client:
        wait_for_views(client)
        for _ in range(3):  # warm up: connection, caches
            client.get(path, params={"limit": page}).raise_for_status()
            client.get(path, params={"limit": FULL}).raise_for_status()
        for _ in range(requests):
            for name, limit, latencies in (("paged", page, paged), ("full", FULL, full)):
                began = time.perf_counter()
                answer = client.get(path, params={"limit": limit})
                latencies.append(time.perf_counter() - began)
                answer.raise_for_status()
                sizes[name] = len(answer.content)
    after, before = Timing(requests, sum(paged), paged), Timing(requests, sum(full), full)
    return {
        "events": events, "requests": requests, "page": page,
        "paged_p50_ms": after.percentile(0.5), "paged_p99_ms": after.percentile(0.99),
        "full_p50_ms": before.percentile(0.5), "full_p99_ms": before.percentile(0.99),
        "paged_bytes": sizes["paged"], "full_bytes": sizes["full"],
    }


def wait_for_views(client: httpx.Client, timeout_s: float = 60) -> None:
    """Waits until the projections have caught up at start (so their catch-up is not timed)."""
    deadline = time.monotonic() + timeout_s
    while any(view["lag"] for view in client.get("/health").json()["views"]):
        if time.monotonic() > deadline:
            raise RuntimeError("the projections did not catch up")
        time.sleep(0.05)
