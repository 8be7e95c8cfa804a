"""Rebuild into PostgreSQL vs into SQLite: every registered view, the same log, interleaved rounds.

``postgres_rebuild_figure`` rebuilds every view of the log at ``root`` (written first with
``bench.rebuild.build_log`` when ``events`` is given) ``rounds`` times into a fresh PostgreSQL database
and ``rounds`` times into a fresh SQLite file, alternating which goes first (``bench.paired``). The
server is ``dsn`` (its user must be allowed to create databases) or a throwaway cluster started for the
run (``devtools.postgres``). Opening the store (and creating its tables) is timed on both sides;
creating and dropping the round's database is not. Both sides fold in one process (a rebuild into
SQLite splits across processes by default, ``projections.split``; into PostgreSQL it does not), so
the figure compares the stores. It is events/s with the median ratio PostgreSQL / SQLite and its spread.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from bench.paired import Paired, interleaved
from bench.rebuild import bench_log, rebuild_all
from devtools.postgres import Cluster
from ledger.application import Ledger
from projections.runner import ProjectionRunner
from projections.store.postgres import PostgresViewStore

Report = Callable[[str], None]


@contextmanager
def _server(dsn: str | None) -> Iterator[str]:
    if dsn is not None:
        yield dsn
        return
    with Cluster() as cluster:
        yield cluster.dsn


@contextmanager
def _fresh_database(server: str) -> Iterator[str]:
    """A new empty database on ``server`` for one round (dropped after it); yields its DSN."""
    name = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(sql.Identifier(name)))
    try:
        yield make_conninfo(server, dbname=name)
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def rebuild_into_postgres(ledger: Ledger, dsn: str) -> int:
    """Rebuilds every registered view into the (empty) database at ``dsn``; returns the events replayed."""
    store = PostgresViewStore(dsn)
    try:
        return ProjectionRunner(ledger, store, settle_s=0.0).rebuild()
    finally:
        store.close()


def postgres_rebuild_figure(root: Path, events: int | None = None, rounds: int = 5, dsn: str | None = None,
                            report: Report = lambda _: None, keys_dir: Path | None = None) -> Paired:
    """Rebuild into PostgreSQL vs into SQLite over the log at ``root`` (see the module docstring)."""
    settings, scratch = bench_log(root, events, report, keys_dir)
    ledger = Ledger(settings)
    try:
        head = ledger.head()
        report(f"rebuild into PostgreSQL vs SQLite over {head:,} events, {rounds} rounds")
        with _server(dsn) as server:

            def postgres(round_: int) -> float:
                with _fresh_database(server) as database:
                    began = time.perf_counter()
                    replayed = rebuild_into_postgres(ledger, database)
                    elapsed = time.perf_counter() - began
                if replayed != head:
                    raise AssertionError(f"the rebuild into PostgreSQL replayed {replayed} of {head} events")
                return head / elapsed

            def sqlite(round_: int) -> float:
                began = time.perf_counter()
                replayed = rebuild_all(ledger, scratch / "views.db", shares=1)
                if replayed != head:
                    raise AssertionError(f"the rebuild into SQLite replayed {replayed} of {head} events")
                return head / (time.perf_counter() - began)

            into_postgres, into_sqlite = interleaved(rounds, postgres, sqlite)
    finally:
        ledger.close()
        shutil.rmtree(scratch, ignore_errors=True)
    return Paired(f"rebuild events/s into PostgreSQL, all views, {head:,} events", "/s",
                  "rebuild into SQLite, same log", into_postgres, into_sqlite)


def main() -> None:  # pragma: no cover - a developer's entry point: python -m bench.postgres [EVENTS]
    import sys
    import tempfile

    events = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    with tempfile.TemporaryDirectory() as folder:
        figure = postgres_rebuild_figure(Path(folder) / "home", events, report=print)
    ours, theirs, ratio = figure.median
    low, high = figure.spread
    print(f"{figure.metric}: {ours:,.0f}/s vs SQLite {theirs:,.0f}/s; ratio {ratio:.2f} ({low:.2f}-{high:.2f})")


if __name__ == "__main__":
    main()
