"""``ledger bench``: every goal figure of the ledger beside its ceiling, measured interleaved in one run.

Each figure is a ``bench.paired.Paired``: ``Scale.rounds`` (at least 5) samples of the ledger and of
its baseline, taken in alternating order on the same data, reported as the median ratio and its
spread. The baselines are ceilings, not rivals:

* appends in-process: the ``eventsourcing`` library's plain SQLite application with AES and the same
  orjson transcoder (``bench.baseline``);
* appends over HTTP: FastAPI over that plain application, all servers up at once; the ledger's API
  with its views in-process (embedded) and with them in a projection worker process (``LEDGER_FOLLOW=0``),
  ``bench.http_appends``;
* history: the first page of a 500-event retiree over HTTP (goal: p99 under 10 ms), beside the whole
  history in one answer;
* rebuild of every view over a log of ``Scale.events`` events vs a loop that only reads and decodes
  the same events (``bench.rebuild``); its goal also bounds the peak memory of all its processes at once;
* verify over the same log vs a bare loop computing the same chain hashes over the same rows (the
  goal), and beside a bare loop computing the chain hashes and the Merkle tree head in one process;
* bulk: an annual adjustment through ``POST /v1/batches`` vs ``Ledger.handle_many`` in-process;
* Kafka (``--log kafka://…``): 32 writers vs a raw transactional producer with the ledger's own records
  per transaction (the goal: the issue sets it against "raw kafka-python, same records per transaction"),
  and beside 32 raw kafka-python threads without transactions (acks=all; no goal of its own), ``bench.kafka_raw``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.baseline import plain_app
from bench.paired import Goal, Paired, interleaved, p99_ms, per_second, served
from bench.workload import populate, service
from ledger.application import Ledger
from ledger.config import Settings

Report = Callable[[str], None]

GOALS: dict[str, Goal] = {
    "appends": Goal("ratio_at_least", 1.0),
    "http": Goal("ratio_at_least", 0.9),
    "history": Goal("ledger_below", 10.0),
    "rebuild": Goal("ratio_at_least", 0.5, bound=("all_processes_rss_mb", 500)),  # peak, all its processes
    "verify": Goal("ratio_at_least", 0.7),
    "bulk": Goal("ratio_at_least", 0.7),
    "kafka": Goal("ratio_at_least", 0.5),
    "kafka_p99": Goal("ratio_at_most", 2.0),
}
"""The goals of issue 9, keyed by figure."""


@dataclass(frozen=True)
class Scale:
    rounds: int = 5
    appends: int = 1000
    """In-process appends per side and round."""
    http_appends: int = 300
    retirees: int = 50
    history_events: int = 500
    history_requests: int = 200
    events: int = 1_000_000
    """The log that rebuild and verify read."""
    bulk_retirees: int = 20_000
    kafka_writers: int = 32
    kafka_per_writer: int = 20


QUICK = Scale(appends=300, http_appends=100, retirees=20, history_requests=100, events=50_000, bulk_retirees=2_000,
              kafka_per_writer=10)
"""``ledger bench --quick``: the same figures on smaller samples (noisier), in a few minutes."""


def append_figure(root: Path, scale: Scale, report: Report) -> Paired:
    report("in-process appends vs the plain eventsourcing app")
    ledger = Ledger(Settings(home=root / "appends", keys_dir=root / "keys"))
    plain = plain_app(root / "plain-appends.db")
    try:
        rids = populate(ledger, scale.retirees)
        counters = [plain.start(f"counter-{n}") for n in range(scale.retirees)]
        n = scale.appends

        def ours(round_: int) -> float:
            return per_second(n, lambda: [ledger.handle(service(rids[k % len(rids)], round_ * n + k))
                                          for k in range(n)])

        def theirs(round_: int) -> float:
            return per_second(n, lambda: [plain.record(counters[k % len(counters)], f"item-{round_}-{k}")
                                          for k in range(n)])

        mine, base = interleaved(scale.rounds, ours, theirs)
    finally:
        ledger.close()
        plain.close()
    return Paired("appends/s in-process", "/s", "eventsourcing SQLite app, AES + orjson", mine, base,
                  GOALS["appends"])


def http_figures(root: Path, scale: Scale, report: Report) -> list[Paired]:
    """Appends over HTTP with the views in the API process (the embedded default) and with them in a
    projection worker process (``LEDGER_FOLLOW=0``), both beside FastAPI over the plain app."""
    from bench import http_appends

    return [f.with_goal(GOALS["http"]) for f in http_appends.figures(
        root, appends=scale.http_appends, retirees=scale.retirees, rounds=scale.rounds, report=report)]


def history_figure(root: Path, scale: Scale, report: Report) -> Paired:
    from api.main import create_app
    from bench.history import FULL, one_long_history, wait_for_views

    report(f"history of a {scale.history_events}-event retiree over HTTP")
    settings = Settings(home=root / "history", keys_dir=root / "keys")
    rid = one_long_history(settings, scale.history_events)
    path = f"/v1/retirees/{rid}/history"
    with served(create_app(settings, dev_mode=True)) as url, httpx.Client(base_url=url, timeout=30) as client:
        wait_for_views(client)
        for limit in (100, FULL):  # warm up: connection, caches
            client.get(path, params={"limit": limit}).raise_for_status()

        def latency(limit: int) -> Callable[[int], float]:
            def sample(_: int) -> float:
                latencies = []
                for _k in range(scale.history_requests):
                    began = time.perf_counter()
                    client.get(path, params={"limit": limit}).raise_for_status()
                    latencies.append(time.perf_counter() - began)
                return p99_ms(latencies)
            return sample

        first, whole = interleaved(scale.rounds, latency(100), latency(FULL))
    return Paired(f"history p99, first page of a {scale.history_events}-event retiree over HTTP", "ms",
                  f"the whole history in one answer (limit={FULL}), p99", first, whole, GOALS["history"])


def log_figures(root: Path, scale: Scale, report: Report) -> list[Paired]:
    """Rebuild and verify over one realistic log of ``scale.events`` events."""
    from bench import rebuild

    home = root / "log"
    rebuild.build_log(Settings(home=home, keys_dir=root / "keys"), scale.events, report=report)
    figures = [rebuild.rebuild_figure(home, root / "keys", scale.rounds, report).with_goal(GOALS["rebuild"])]
    ledger = Ledger(Settings(home=home, keys_dir=root / "keys"))
    try:
        figures += verify_figures(ledger, scale.rounds, report)
    finally:
        ledger.close()
    return figures


def verify_figures(ledger: Ledger, rounds: int, report: Report) -> list[Paired]:
    """Issue 9's verify figure over ``ledger``'s log: verify against the bare loop hashing the chain alone
    (the goal); beside it, against the bare loop doing the chain and the tree head in one process,
    measured in the same rounds (above 1x: verify's tree runs on a second core, ``ledger.integrity.heads``)."""
    from bench import integrity

    verify, chain_and_tree = integrity.verify_figures(ledger, rounds, report)
    return [
        Paired(verify.metric, "/s", "bare chain-hash loop, same rows", verify.ledger, verify.baseline,
               GOALS["verify"]),
        Paired(f"{verify.metric}, beside the chain + tree loop", "/s",
               "bare loop: the same chain and tree hashes in one process, same rows", verify.ledger,
               chain_and_tree.ledger),
    ]


def bulk_figure(root: Path, scale: Scale, report: Report) -> Paired:
    from bench import bulk

    (figure,) = bulk.run(root / "bulk", retirees=scale.bulk_retirees, rounds=scale.rounds, report=report)
    return figure.with_goal(GOALS["bulk"])


def kafka_figures(root: Path, log_url: str, scale: Scale, report: Report) -> list[Paired]:
    from bench import kafka_raw

    figures = kafka_raw.figures(root / "kafka", log_url, writers=scale.kafka_writers,
                                per_writer=scale.kafka_per_writer, rounds=scale.rounds, report=report)
    plain, batched, p99 = figures  # the goal is set against transactions of the same records; plain threads beside
    return [plain, batched.with_goal(GOALS["kafka"]), p99.with_goal(GOALS["kafka_p99"])]


def run(root: Path, log_url: str | None = None, scale: Scale | None = None,
        report: Report = lambda _: None) -> list[Paired]:
    """Every figure; ``root`` is a scratch folder."""
    scale = scale or Scale()
    figures = [append_figure(root, scale, report), *http_figures(root, scale, report),
               history_figure(root, scale, report)]
    figures += log_figures(root, scale, report)
    figures.append(bulk_figure(root, scale, report))
    if log_url is not None:
        figures += kafka_figures(root, log_url, scale, report)
    return figures

