"""``ledger bench --scale``: the figures of issue 10 (scaling out), each beside the same run's baseline.

1. Rebuild of every view into PostgreSQL vs into SQLite over one SQLite log (``bench.postgres``).
2. 2 and 4 projection workers splitting the partitions of one Kafka topic of ``partitions`` partitions
   (at least as many as workers), each folding its partitions into every view, vs 1 worker running every
   view on the whole topic, views in PostgreSQL (``bench.workers``); the ratio is the scaling ratio.
3. Reads/s of a read-only API process on the PostgreSQL index vs the writer's own API process, on that
   same topic (``bench.readers``).

Every pair runs interleaved (``rounds`` rounds, the order alternating or rotating per round) on the
same data. The PostgreSQL server is ``dsn`` (its user must be allowed to create databases: every run
gets a fresh database) or a throwaway cluster (``devtools.postgres.Cluster``) started for the bench.
The Kafka broker is ``log_url`` (``kafka://HOST:PORT``) or, when None, a single-node broker
(``devtools.kafka_broker.KafkaBroker``) started in the scratch folder and stopped at the end. The
bench's topic (a fresh name per run) is deleted at the end.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from bench.paired import Paired
from bench.postgres import _server, postgres_rebuild_figure
from bench.readers import reader_figure
from bench.rebuild import build_log
from bench.workers import worker_figures
from devtools.kafka_broker import KafkaBroker
from ledger.config import Settings

Report = Callable[[str], None]
PARTITIONS = 4
"""The bench topic's partitions: one per worker of the largest side (4 workers)."""


@contextmanager
def kafka(log_url: str | None, folder: Path) -> Iterator[str]:
    """``log_url``, or the URL of a single-node broker started in ``folder`` for the block."""
    if log_url is not None:
        yield log_url
        return
    broker = KafkaBroker(folder)
    broker.start()
    try:
        yield f"kafka://{broker.bootstrap}"
    finally:
        broker.stop()


def delete_topic(settings: Settings) -> None:
    """Removes the bench's topic from the broker (best effort: a broker already gone has nothing to keep)."""
    from kafka import KafkaAdminClient

    with contextlib.suppress(Exception):
        admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, client_id="ledger-bench-scale")
        try:
            admin.delete_topics([settings.kafka_topic])
        finally:
            admin.close()


def kafka_settings(root: Path, log_url: str, partitions: int = PARTITIONS) -> Settings:
    """A writer on a fresh topic of ``partitions`` partitions, home ``root/kafka-writer``, keys ``root/keys``."""
    name = f"bench-scale-{uuid.uuid4().hex[:10]}"
    return Settings(home=root / "kafka-writer", keys_dir=root / "keys", log_url=log_url,
                    kafka_topic=f"{name}.events", ledger_name=name,
                    kafka_options=(("KAFKA_PARTITIONS", str(partitions)),))


def figures(root: Path, log_url: str | None = None, dsn: str | None = None, events: int = 50_000,
            rounds: int = 5, partitions: int = PARTITIONS, workers: tuple[int, ...] = (1, 2, 4),
            read_seconds: float = 3.0, report: Report = lambda _: None,
            after_run: Callable[[Settings, int, str], None] | None = None) -> list[Paired]:
    """The three figures of issue 10 over logs of about ``events`` events; ``root`` is a scratch folder.

    ``after_run(settings, workers, views_dsn)`` runs after each workers' run (the tests compare the views
    with a replay there)."""
    with _server(dsn) as server, kafka(log_url, root / "kafka") as url:
        rebuild = postgres_rebuild_figure(root / "sqlite-log", events, rounds, dsn=server, report=report,
                                          keys_dir=root / "keys")
        settings = kafka_settings(root, url, partitions)
        try:
            report(f"writing the Kafka log to {settings.kafka_topic} ({partitions} partitions)")
            build_log(settings, events, report=report)
            check = None if after_run is None else partial(after_run, settings)
            scaling = worker_figures(settings, server, root / "workers", workers, rounds, report, check)
            reads = reader_figure(settings, server, root / "readers", rounds, seconds=read_seconds, report=report)
        finally:
            delete_topic(settings)
    return [rebuild, *scaling, reads]
