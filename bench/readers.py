"""Read throughput of a read-only API process on the PostgreSQL index vs the writer's own API process.

``reader_figure`` serves the Kafka log of ``settings`` (already written) from two ``ledger serve --dev``
processes up at once on 127.0.0.1: the writer (its home, so its Kafka index is the SQLite file there)
and a reader (``LEDGER_WRITER`` names the writer; ``LEDGER_INDEX`` a PostgreSQL database the index is
rebuilt into from the topic before it starts). Both leave the views to workers (``LEDGER_FOLLOW=0``,
one empty PostgreSQL view store): the reads measured, a retiree's state and the first page of their
history, come from the index alone. A sample is ``threads`` client threads, each with its own
keep-alive connection, sending those two GETs in turn over ``retirees`` retirees of the log for
``seconds``; the figure is answered requests/s, the reader's against the writer's in interleaved
rounds. Every answer must be a 200.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from bench.paired import Paired, interleaved
from bench.workers import ROOT, fresh_database, process_env
from bench.workload import stop
from devtools.kafka_broker import free_port
from ledger.application import Ledger
from ledger.config import Settings
from ledger.eventlog.kafka import rebuild_index

Report = Callable[[str], None]
PAGE = 100


def retiree_ids(ledger: Ledger, most: int) -> list[str]:
    """Up to ``most`` retiree ids of the log, in log order (their enrolments)."""
    found: list[str] = []
    for record in ledger.iter_log():
        if record.topic.endswith(":Enrolled") or record.topic.endswith(".Enrolled"):
            found.append(str(record.originator_id))
            if len(found) >= most:
                break
    return found


@contextmanager
def serving(env: dict[str, str], log: Path) -> Iterator[str]:
    """``ledger serve --dev`` in a process of its own with ``env``; yields its base URL once /health answers."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "cli.main", "serve", "--dev", "--host", "127.0.0.1",
                                    "--port", str(port)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"an API process exited at start: {log.read_text(errors='replace')[-600:]}")
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code in (200, 503):
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("an API process did not answer /health within 120 s")
            time.sleep(0.1)
        yield url
    finally:
        stop(process)


def read_rate(url: str, ids: list[str], threads: int, seconds: float) -> float:
    """Answered GETs per second: ``threads`` clients alternating a retiree's state and history page."""
    counts = [0] * threads
    errors: list[str] = []
    start = threading.Barrier(threads + 1)

    def client(slot: int) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            start.wait()
            deadline = time.perf_counter() + seconds
            n = slot
            while time.perf_counter() < deadline:
                rid = ids[n % len(ids)]
                path = f"/v1/retirees/{rid}" if n % 2 == 0 else f"/v1/retirees/{rid}/history?limit={PAGE}"
                answer = http.get(path)
                if answer.status_code != 200:
                    errors.append(f"GET {path}: {answer.status_code} {answer.text[:200]}")
                    return
                counts[slot] += 1
                n += threads + 1

    workers = [threading.Thread(target=client, args=(slot,)) for slot in range(threads)]
    for worker in workers:
        worker.start()
    start.wait()
    began = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise RuntimeError(errors[0])
    return sum(counts) / elapsed


def reader_figure(settings: Settings, server: str, work: Path, rounds: int = 5, threads: int = 4,
                  seconds: float = 3.0, retirees: int = 200, report: Report = lambda _: None) -> Paired:
    """The reader on the PostgreSQL index vs the writer's own API (see the module docstring)."""
    ledger = Ledger(settings)
    try:
        ids = retiree_ids(ledger, retirees)
        head = ledger.head()
        env = dict(ledger.env.items())
    finally:
        ledger.close()
    if not ids:
        raise RuntimeError("the log holds no retiree to read")
    work.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        index = stack.enter_context(fresh_database(server))
        views = stack.enter_context(fresh_database(server))
        report(f"reader API on the PostgreSQL index vs the writer's API, {head:,} events: rebuilding the index")
        indexed = rebuild_index({**env, "KAFKA_INDEX_URL": index})
        if indexed != head:
            raise AssertionError(f"the PostgreSQL index holds {indexed} of {head} events")
        writer_env = process_env(settings, settings.home, LEDGER_VIEWS=views, LEDGER_FOLLOW="0")
        writer = stack.enter_context(serving(writer_env, work / "writer-api.log"))
        reader_home = work / "reader"
        reader_home.mkdir(exist_ok=True)
        reader_env = process_env(settings, reader_home, LEDGER_VIEWS=views, LEDGER_FOLLOW="0", LEDGER_INDEX=index,
                                 LEDGER_WRITER=writer)
        reader = stack.enter_context(serving(reader_env, work / "reader-api.log"))
        for url in (writer, reader):  # warm up: connections, caches, the first catch-up
            read_rate(url, ids, threads, min(0.5, seconds))
        report(f"  {threads} client threads, {seconds:g} s a sample, {rounds} rounds")
        ours, theirs = interleaved(rounds, lambda _: read_rate(reader, ids, threads, seconds),
                                   lambda _: read_rate(writer, ids, threads, seconds))
    return Paired(f"reads/s (retiree state + first history page), reader API on the PostgreSQL index, "
                  f"{threads} client threads, {head:,} events", "/s",
                  "the writer's own API (SQLite index in its home), same log, same requests", ours, theirs,
                  extra=(("client_threads", float(threads)), ("retirees_read", float(len(ids)))))
