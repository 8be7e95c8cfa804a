"""Projection workers on a multi-partition Kafka topic: 1 worker on the whole log vs N workers owning its partitions.

``worker_figures`` times, on one Kafka log already written (``bench.scale`` writes it to a topic of
several partitions), ``ledger projections run --once`` as separate processes, as docker-compose runs
them: each worker on a home of its own (its own Kafka index, read from the whole topic at start), the
writer's keys, ``LEDGER_WRITER`` set, every view, the views in a fresh PostgreSQL database per run. N
workers split the topic's partitions round-robin (``shares``, ``--partitions``): each folds only its
partitions' records, so it decodes only its share of the events, into every view (rows that sum across
partitions get one part per partition, ``projections.shards``). The 1-worker side is one worker on the
whole log (no ``--partitions``), as a single worker is deployed. No worker signs checkpoints
(``--no-checkpoints``): only the folding is measured. A run is timed from the start of the first
process to the exit of the last; events/s is the log's head over that. The sides (1, 2, 4 … workers)
run in a rotating order, round by round; each N-worker side is a ``Paired`` figure against the 1-worker
side of the same rounds, so its ratio is the scaling ratio. After every run every view's stored position
must be the head: ``ProjectionRunner.positions`` is the seq below the first record missing in any
partition, so the head means every partition was folded to its end (``after_run`` may check more: the
tests compare the views with a replay). After the rounds, ``FIXED_RUNS`` runs of one worker on a fresh
home over views already at the head measure what every worker pays whatever its share (its start, its
own index read from the whole topic, a round that finds nothing to fold); ``split_bound`` turns their
median into the best ratio a split can reach on 2 cores, reported with each figure.
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
from projections.runner import ProjectionRunner
from projections.store.postgres import PostgresViewStore

Report = Callable[[str], None]
ROOT = Path(__file__).resolve().parents[1]
FIXED_RUNS = 3
"""Runs of one worker over views already at the head, whose median is a worker's fixed cost."""


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


def shares(workers: int, partitions: int) -> list[list[int]]:
    """The topic's ``partitions`` partitions dealt round-robin to ``workers`` workers (at most one worker
    per partition: never more workers than partitions). Records are keyed by retiree, so the partitions,
    and with them the shares of an even deal, hold about the same number of events."""
    if workers < 1 or partitions < 1:
        raise ValueError("at least one worker and one partition")
    numbers = list(range(partitions))
    return [share for share in (numbers[n::workers] for n in range(workers)) if share]


def process_env(settings: Settings, home: Path, **variables: str) -> dict[str, str]:
    """The environment of another ledger process on ``settings``' log: its own ``home``, the writer's
    keys and ledger name, no ``LEDGER_*`` or Kafka tuning inherited from this one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_") and k not in KAFKA_TUNING}
    env |= {"LEDGER_HOME": str(home), "LEDGER_KEYS_DIR": str(settings.keys_path), "LEDGER_LOG": settings.log_url,
            "LEDGER_KAFKA_TOPIC": settings.kafka_topic, "LEDGER_NAME": settings.ledger_name,
            "PYTHONUNBUFFERED": "1", **dict(settings.kafka_options), **variables}
    return env


def run_workers(settings: Settings, views: str, work: Path, split: Sequence[Sequence[int] | None],
                writer_url: str = "http://writer.invalid:8000") -> float:
    """Runs one ``ledger projections run --once --no-checkpoints`` process per share of ``split`` at
    once, every view, each on a fresh home under ``work``, into the view store ``views``: a share is the
    partitions the worker owns (``--partitions``), None the whole log. Returns the seconds from the
    first start to the last exit. A worker that exits non-zero raises ``RuntimeError`` with the end of
    its output."""
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
            command = [sys.executable, "-m", "cli.main", "projections", "run", "--once", "--no-checkpoints"]
            if share is not None:
                command += ["--partitions", ",".join(map(str, share))]
            with log.open("wb") as out:
                processes.append((subprocess.Popen(command, cwd=ROOT, env=env, stdout=out,
                                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL), log))
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


def topic_partitions(settings: Settings) -> list[int]:
    """The partition numbers of ``settings``' topic, as the broker has them."""
    from ledger.eventlog.kafka.reader import TopicReader  # kafka-python is loaded only for a Kafka log

    reader = TopicReader(settings.kafka_bootstrap, settings.kafka_topic)
    try:
        return sorted(reader.partitions())
    finally:
        reader.close()


def worker_figures(settings: Settings, server: str, work: Path, counts: Sequence[int] = (1, 2, 4),
                   rounds: int = 5, report: Report = lambda _: None,
                   after_run: Callable[[int, str], None] | None = None) -> list[Paired]:
    """N workers owning the topic's partitions vs 1 worker on the whole log of ``settings`` (see the
    module docstring); views on ``server``.

    ``counts`` must start with 1 (the baseline), and the topic needs at least as many partitions as the
    largest count. ``after_run(workers, views_dsn)`` runs after each run, before its database is
    dropped. Each figure carries the median seconds of its runs and, for the N-worker side, the bound a
    split sets on 2 cores (``min(N, 2)``) and the bound with every worker's fixed cost as extras."""
    if not counts or counts[0] != 1:
        raise ValueError("the worker counts start with 1, the baseline")
    numbers = topic_partitions(settings)
    if max(counts) > len(numbers):
        raise ValueError(f"{max(counts)} workers need at least {max(counts)} partitions; "
                         f"the topic has {len(numbers)}")
    ledger = Ledger(settings)
    try:
        head = ledger.head()
        report(f"projection workers {', '.join(map(str, counts))} on {head:,} events, "
               f"{len(numbers)} partitions, {rounds} rounds")

        def split(workers: int) -> list[list[int] | None]:
            if workers == 1:
                return [None]  # one worker: the whole log, as a single worker is deployed
            return [[numbers[n] for n in share] for share in shares(workers, len(numbers))]

        def at_head(workers: str, views: str) -> None:
            behind = {name: at for name, at in stored_positions(ledger, views).items() if at != head}
            if behind:
                raise AssertionError(f"after {workers}, views not at the head {head}: {behind}")

        def measure(workers: int, round_: int) -> float:
            with fresh_database(server) as views:
                elapsed = run_workers(settings, views, work, split(workers))
                at_head(f"{workers} workers", views)
                if after_run is not None:
                    after_run(workers, views)
            report(f"  round {round_ + 1}: {workers} worker(s) {elapsed:.1f} s")
            return head / elapsed

        samples = rotated(rounds, counts, measure)
        with fresh_database(server) as views:  # what every worker pays whatever its share
            run_workers(settings, views, work, [None])  # the views at the head, then workers with nothing to fold
            fixed_runs = [run_workers(settings, views, work, [None]) for _ in range(FIXED_RUNS)]
            at_head("the fixed-cost runs", views)
        fixed = statistics.median(fixed_runs)
        report(f"  a worker's fixed cost (start, its index from the topic, nothing to fold): {fixed:.1f} s")
    finally:
        ledger.close()
    one = statistics.median(head / rate for rate in samples[1])
    return [Paired(f"projection workers: {n} owning the {len(numbers)} partitions, every view each, events/s "
                   f"of all views, {head:,} events, {len(numbers)}-partition topic, PostgreSQL views", "/s",
                   "1 worker running every view on the whole topic", samples[n], samples[1],
                   extra=(("workers", float(n)), ("bound_on_2_cores", float(min(n, 2))),
                          ("median_seconds", statistics.median(head / rate for rate in samples[n])),
                          ("baseline_median_seconds", one), ("worker_fixed_seconds", fixed),
                          ("bound_with_fixed_cost", split_bound(n, one, fixed))))
            for n in counts[1:]]


def split_bound(workers: int, one_worker_s: float, fixed_s: float, cores: int = 2) -> float:
    """The best scaling ratio ``workers`` workers can reach on ``cores`` cores when each pays ``fixed_s``
    (its start, its own index read from the whole topic) and only the rest of one worker's
    ``one_worker_s`` is split: the work, ``workers * fixed_s + (one_worker_s - fixed_s)``, over the cores
    it can use, and never below one worker's fixed part."""
    fixed_s = min(fixed_s, one_worker_s)
    best = max((workers * fixed_s + one_worker_s - fixed_s) / min(workers, cores), fixed_s)
    return one_worker_s / best if best > 0 else float("nan")
