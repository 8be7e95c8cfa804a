"""Projection workers on a multi-partition Kafka topic: 1 worker doing every view vs N workers sharing them.

``worker_figures`` times, on one Kafka log already written (``bench.scale`` writes it to a topic of
several partitions), ``ledger projections run --once`` as separate processes, as docker-compose runs
them: each worker on a home of its own (its own Kafka index, read from the topic), the writer's keys,
``LEDGER_WRITER`` set, the views in a fresh PostgreSQL database per run. N workers split the
registered views round-robin (``shares``): each view has one owner and is folded in the log's one seq
order, so a worker does not split partitions. A run is timed from the start of the first process to
the exit of the last; events/s is the log's head over that. The sides (1, 2, 4 … workers) run in a
rotating order, round by round; each N-worker side is a ``Paired`` figure against the 1-worker side of
the same rounds, so its ratio is the scaling ratio. After every run every view's stored position must
be the head (``after_run`` may check more: the tests compare the views with a replay). One more run,
after the rounds, of one worker with one light view (``LIGHT_VIEW``) measures what every worker pays
whatever its share (start, its own index read from the topic, decoding every event); ``split_bound``
turns it into the best ratio a split can reach on 2 cores, reported with each figure.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlencode

from psycopg.conninfo import conninfo_to_dict

from bench.paired import Paired
from bench.postgres import _fresh_database
from ledger.application import Ledger
from ledger.config import KAFKA_TUNING, Settings
from projections import registry
from projections.runner import ProjectionRunner
from projections.store.postgres import PostgresViewStore

Report = Callable[[str], None]
ROOT = Path(__file__).resolve().parents[1]
LIGHT_VIEW = "training"
"""The view of the one-worker run that measures a worker's fixed cost (reading the topic, decoding)."""


@contextmanager
def fresh_database(server: str) -> Iterator[str]:
    """A new empty database on ``server`` (dropped at the end), as the ``postgresql://`` URL that
    ``LEDGER_VIEWS`` and ``LEDGER_INDEX`` take."""
    with _fresh_database(server) as conninfo:
        params = {k: str(v) for k, v in conninfo_to_dict(conninfo).items() if v is not None}
        user, password = quote(params.pop("user", ""), safe=""), params.pop("password", None)
        host, port, name = params.pop("host", ""), params.pop("port", ""), params.pop("dbname")
        auth = user + (f":{quote(password, safe='')}" if password is not None else "")
        netloc = (f"{auth}@" if auth else "") + (f"[{host}]" if ":" in host else quote(host, safe="")) + (
            f":{port}" if port else "")
        yield f"postgresql://{netloc}/{quote(name, safe='')}" + (f"?{urlencode(params)}" if params else "")


def shares(workers: int) -> list[list[str]]:
    """The registered views dealt round-robin to ``workers`` workers (registry order: audit and pensions,
    the costliest, land on different workers from 2 up)."""
    names = [projection.name for projection in registry.ALL]
    return [share for share in (names[n::workers] for n in range(workers)) if share]


def process_env(settings: Settings, home: Path, **variables: str) -> dict[str, str]:
    """The environment of another ledger process on ``settings``' log: its own ``home``, the writer's
    keys and ledger name, no ``LEDGER_*`` or Kafka tuning inherited from this one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_") and k not in KAFKA_TUNING}
    env |= {"LEDGER_HOME": str(home), "LEDGER_KEYS_DIR": str(settings.keys_path), "LEDGER_LOG": settings.log_url,
            "LEDGER_KAFKA_TOPIC": settings.kafka_topic, "LEDGER_NAME": settings.ledger_name,
            "PYTHONUNBUFFERED": "1", **dict(settings.kafka_options), **variables}
    return env


def run_workers(settings: Settings, views: str, work: Path, split: Sequence[Sequence[str]],
                writer_url: str = "http://writer.invalid:8000") -> float:
    """Runs one ``ledger projections run --once`` process per share of ``split`` at once, each on a fresh
    home under ``work``, into the view store ``views``; returns the seconds from the first start to the
    last exit. A worker that exits non-zero raises ``RuntimeError`` with the end of its output."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    processes: list[tuple[subprocess.Popen[bytes], Path]] = []
    began = time.perf_counter()
    try:
        for n, share in enumerate(split):
            home = work / f"worker-{n}"
            home.mkdir()
            log = work / f"worker-{n}.log"
            env = process_env(settings, home, LEDGER_VIEWS=views, LEDGER_WRITER=writer_url)
            with log.open("wb") as out:
                processes.append((subprocess.Popen(
                    [sys.executable, "-m", "cli.main", "projections", "run", "--once", "--views", ",".join(share)],
                    cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL), log))
        codes = [process.wait(timeout=3600) for process, _ in processes]
        elapsed = time.perf_counter() - began
    finally:
        for process, _ in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    for code, (_, log) in zip(codes, processes, strict=True):
        if code != 0:
            tail = log.read_text(errors="replace")[-600:]
            raise RuntimeError(f"a projection worker exited with {code}: {tail}")
    shutil.rmtree(work, ignore_errors=True)
    return elapsed


def stored_positions(ledger: Ledger, views: str) -> dict[str, int]:
    """The seq each registered view has applied the log up to, in the store at ``views``."""
    store = PostgresViewStore(views)
    try:
        runner = ProjectionRunner(ledger, store)
        try:
            return runner.positions()
        finally:
            runner.close()
    finally:
        store.close()


def rotated(rounds: int, sides: Sequence[int], measure: Callable[[int, int], float]) -> dict[int, list[float]]:
    """``rounds`` samples of every side, ``measure(side, round)``; the order rotates by one each round."""
    samples: dict[int, list[float]] = {side: [] for side in sides}
    for round_ in range(rounds):
        turn = round_ % len(sides)
        for side in [*sides[turn:], *sides[:turn]]:
            samples[side].append(measure(side, round_))
    return samples


def worker_figures(settings: Settings, server: str, work: Path, counts: Sequence[int] = (1, 2, 4),
                   rounds: int = 5, report: Report = lambda _: None,
                   after_run: Callable[[int, str], None] | None = None) -> list[Paired]:
    """N workers vs 1 on the Kafka log of ``settings`` (see the module docstring); views on ``server``.

    ``counts`` must start with 1 (the baseline). ``after_run(workers, views_dsn)`` runs after each run,
    before its database is dropped. Each figure carries the median seconds of its runs and, for the
    N-worker side, the bound a view split sets on 2 cores (``min(N, 2)``) as extras."""
    if not counts or counts[0] != 1:
        raise ValueError("the worker counts start with 1, the baseline")
    ledger = Ledger(settings)
    try:
        head = ledger.head()
        report(f"projection workers {', '.join(map(str, counts))} on {head:,} events, {rounds} rounds")

        def measure(workers: int, round_: int) -> float:
            with fresh_database(server) as views:
                elapsed = run_workers(settings, views, work, shares(workers))
                behind = {name: at for name, at in stored_positions(ledger, views).items() if at != head}
                if behind:
                    raise AssertionError(f"after {workers} workers, views not at the head {head}: {behind}")
                if after_run is not None:
                    after_run(workers, views)
            report(f"  round {round_ + 1}: {workers} worker(s) {elapsed:.1f} s")
            return head / elapsed

        samples = rotated(rounds, counts, measure)
        with fresh_database(server) as views:  # what every worker pays whatever its share: one light view
            fixed = run_workers(settings, views, work, [[LIGHT_VIEW]])
    finally:
        ledger.close()
    one = statistics.median(head / rate for rate in samples[1])
    partitions = dict(settings.kafka_options).get("KAFKA_PARTITIONS", "1")
    return [Paired(f"projection workers: {n} sharing the {len(registry.ALL)} views, events/s of all views, "
                   f"{head:,} events, {partitions}-partition topic, PostgreSQL views", "/s",
                   "1 worker running every view, same topic", samples[n], samples[1],
                   extra=(("workers", float(n)), ("bound_on_2_cores", float(min(n, 2))),
                          ("median_seconds", statistics.median(head / rate for rate in samples[n])),
                          ("baseline_median_seconds", one), ("worker_fixed_seconds", fixed),
                          ("bound_with_fixed_cost", split_bound(n, one, fixed))))
            for n in counts[1:]]


def split_bound(workers: int, one_worker_s: float, fixed_s: float, cores: int = 2) -> float:
    """The best scaling ratio ``workers`` workers can reach on ``cores`` cores when each pays ``fixed_s``
    (start, its own index read from the topic, decoding every event) and only the rest of one worker's
    ``one_worker_s`` is split: the work, ``workers * fixed_s + (one_worker_s - fixed_s)``, over the cores
    it can use, and never below one worker's fixed part."""
    fixed_s = min(fixed_s, one_worker_s)
    best = max((workers * fixed_s + one_worker_s - fixed_s) / min(workers, cores), fixed_s)
    return one_worker_s / best if best > 0 else float("nan")
