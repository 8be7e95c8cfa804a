"""``ledger bench``: the ledger's figures beside baselines measured in the same run.

Machines are shared and noisy, so every figure comes with a baseline taken minutes apart on the
same machine, and the ratio is what to compare across runs:

* SQLite: appends/s in-process and over HTTP, projection rebuild events/s and history read
  latency (p50/p99), beside the ``eventsourcing`` library's plain SQLite application;
* the cost of encryption and of the hash chain, beside the ledger with encryption off;
* Kafka (with ``--log kafka://HOST:PORT``): appends/s and p50/p99 latency with 1 and 32 writers,
  group commit on and off, and rebuild events/s from the topic, beside the same on SQLite.
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from bench.baseline import plain_app, plain_http
from bench.workload import Timing, populate, service, timed, timed_concurrently
from ledger.config import Settings
from ledger.integrity.chain import link_hash
from runtime.bootstrap import Services, bootstrap, opened

Report = Callable[[str], None]


@dataclass(frozen=True)
class Figure:
    metric: str
    ledger: float
    baseline: float
    unit: str
    baseline_name: str

    @property
    def ratio(self) -> float:
        return self.ledger / self.baseline if self.baseline else float("nan")


@dataclass(frozen=True)
class Scale:
    appends: int = 2000
    http_appends: int = 400
    reads: int = 400
    retirees: int = 50
    concurrent_per_writer: int = 25


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
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


def sqlite_figures(root: Path, scale: Scale, report: Report) -> list[Figure]:
    settings = Settings(home=root / "ledger", keys_dir=root / "keys")
    plain = plain_app(root / "plain.db")
    services = bootstrap(settings)
    ledger = services.ledger
    try:
        report("populating")
        rids = populate(ledger, scale.retirees)
        counters = [plain.start(f"counter-{n}") for n in range(scale.retirees)]
        report("in-process appends")
        ours = timed(scale.appends, lambda n: ledger.handle(service(rids[n % len(rids)], n)))
        base = timed(scale.appends, lambda n: plain.record(counters[n % len(counters)], f"item-{n}"))
        figures = [Figure("appends/s in-process", ours.per_second, base.per_second, "/s", "eventsourcing SQLite")]
        report("history reads")
        ours = timed(scale.reads, lambda n: ledger.history(rids[n % len(rids)]))
        base = timed(scale.reads, lambda n: plain.history(counters[n % len(counters)]))
        figures += [
            Figure("history read p50", ours.percentile(0.5), base.percentile(0.5), "ms", "eventsourcing SQLite"),
            Figure("history read p99", ours.percentile(0.99), base.percentile(0.99), "ms", "eventsourcing SQLite"),
        ]
        report("rebuild")
        figures.append(Figure("rebuild events/s", rebuild_rate(services), rate(plain.replay), "/s",
                              "eventsourcing SQLite replay"))
        services.close()  # the HTTP server opens its own ledger on the same files
        report("HTTP appends")
        figures.insert(1, http_figure(settings, rids, plain, counters, scale))
    finally:
        services.close()
        plain.close()
    return figures


def http_figure(settings: Settings, rids: list[uuid.UUID], plain: Any, counters: list[uuid.UUID],
                scale: Scale) -> Figure:
    from api.main import create_app

    offset = scale.appends
    with served(create_app(settings, dev_mode=True)) as url, httpx.Client(base_url=url) as client:
        def post(n: int) -> None:
            body = {"type": "service_delivered", "service_id": f"sv-h{n}", "community": "CS-YL-001",
                    "service_type": "home_visit", "delivered_on": f"{2012 + (offset + n) % 10}-03-01",
                    "staff_id": "staff-1", "duration_minutes": 30, "notes": ""}
            client.post(f"/v1/retirees/{rids[n % len(rids)]}/events", json=body).raise_for_status()

        ours = timed(scale.http_appends, post)
    with served(plain_http(plain)) as url, httpx.Client(base_url=url) as client:
        base = timed(scale.http_appends,
                     lambda n: client.post(f"/counters/{counters[n % len(counters)]}", json={"item": n}))
    return Figure("appends/s over HTTP", ours.per_second, base.per_second, "/s", "FastAPI + eventsourcing SQLite")


def rate(work: Callable[[], int]) -> float:
    started = time.perf_counter()
    count = work()
    return count / (time.perf_counter() - started)


def rebuild_rate(services: Services) -> float:
    return rate(services.runner.rebuild)


def security_figures(root: Path, scale: Scale, report: Report) -> list[Figure]:
    """Encryption and hashing on the append and rebuild paths, beside the ledger with encryption off."""
    timings: dict[bool, tuple[Timing, float]] = {}
    for encrypt in (False, True):
        report(f"appends with encryption {'on' if encrypt else 'off'}")
        settings = Settings(home=root / f"enc-{encrypt}", keys_dir=root / "keys", encrypt=encrypt)
        with opened(settings) as services:
            ledger = services.ledger
            rids = populate(ledger, scale.retirees)
            appends = timed(scale.appends, lambda n: ledger.handle(service(rids[n % len(rids)], n)))  # noqa: B023
            timings[encrypt] = (appends, rebuild_rate(services))
    state = b"x" * 400
    hashing = timed(5000, lambda n: link_hash("0" * 64, n, "stream", 1, "topic", "id", state))
    append_us = timings[True][0].seconds / timings[True][0].ops * 1e6
    hash_us = hashing.seconds / hashing.ops * 1e6
    return [
        Figure("appends/s, encrypted", timings[True][0].per_second, timings[False][0].per_second, "/s",
               "ledger, encryption off"),
        Figure("rebuild events/s, encrypted", timings[True][1], timings[False][1], "/s", "ledger, encryption off"),
        Figure("hash chain µs per append", hash_us, append_us, "µs", "whole append, µs"),
    ]


def kafka_figures(root: Path, log_url: str, scale: Scale, report: Report) -> list[Figure]:
    """Appends with 1 and 32 writers (group commit on/off) and rebuild, beside SQLite in the same run."""
    figures = []
    sqlite_runs: dict[int, Timing] = {}
    for writers in (1, 32):
        report(f"SQLite, {writers} writer(s)")
        sqlite_runs[writers] = concurrent_appends(Settings(home=root / f"sq-{writers}", keys_dir=root / "keys"),
                                                  writers, scale)
    for group_commit in ("off", "on"):
        for writers in (1, 32):
            report(f"Kafka, {writers} writer(s), group commit {group_commit}")
            name = f"bench{uuid.uuid4().hex[:8]}"
            settings = Settings(home=root / name, keys_dir=root / "keys", log_url=log_url,
                                kafka_topic=f"{name}.events", ledger_name=name,
                                kafka_options=(("KAFKA_GROUP_COMMIT", group_commit),))
            ours = concurrent_appends(settings, writers, scale)
            base = sqlite_runs[writers]
            label = f"Kafka {writers} writer{'s' if writers > 1 else ''}, group commit {group_commit}"
            figures += [
                Figure(f"{label}: appends/s", ours.per_second, base.per_second, "/s", "SQLite, same writers"),
                Figure(f"{label}: p50", ours.percentile(0.5), base.percentile(0.5), "ms", "SQLite, same writers"),
                Figure(f"{label}: p99", ours.percentile(0.99), base.percentile(0.99), "ms", "SQLite, same writers"),
            ]
            if writers == 32 and group_commit == "on":  # the default configuration
                report("rebuild from Kafka")
                figures += kafka_rebuild_figures(root, settings)
    return figures


def concurrent_appends(settings: Settings, writers: int, scale: Scale) -> Timing:
    """Each writer appends to its own retiree; a single writer makes as many appends as 8 of the 32."""
    per_writer = scale.concurrent_per_writer * (8 if writers == 1 else 1)
    with opened(settings) as services:
        ledger = services.ledger
        rids = populate(ledger, writers)
        return timed_concurrently(writers, per_writer, lambda w, n: ledger.handle(service(rids[w], n)))


def kafka_rebuild_figures(root: Path, settings: Settings) -> list[Figure]:
    """Projection rebuild reading the topic, and the index rebuilt from the topic, beside SQLite."""
    from ledger.eventlog.kafka import rebuild_index

    with opened(replace(settings, home=root / "sq-32", log_url="sqlite")) as services:
        base = rebuild_rate(services)
    with opened(settings) as services:
        from_topic = rebuild_rate(services)
        env = dict(services.ledger.env.items())
    index = rate(lambda: rebuild_index(env))
    return [
        Figure("projection rebuild events/s from the Kafka topic", from_topic, base, "/s",
               "projection rebuild, SQLite"),
        Figure("index rebuild events/s from the Kafka topic", index, base, "/s", "projection rebuild, SQLite"),
    ]


def run(log_url: str | None = None, scale: Scale | None = None, report: Report = lambda _: None) -> list[Figure]:
    scale = scale or Scale()
    with tempfile.TemporaryDirectory(prefix="ledger-bench-") as tmp:
        root = Path(tmp)
        figures = sqlite_figures(root, scale, report)
        figures += security_figures(root, scale, report)
        if log_url is not None and log_url.startswith("kafka://"):
            figures += kafka_figures(root, log_url, scale, report)
    return figures
