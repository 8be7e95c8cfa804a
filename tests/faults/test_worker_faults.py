"""Projection workers under faults (issue 10): killed mid-batch, PostgreSQL restarted under them, stopped.

The log is the session's Kafka broker, the views a PostgreSQL cluster of this module's own (so it can
be restarted), the workers real ``ledger projections run`` processes on other homes (another machine
each: their own Kafka index, the writer's keys). Each test ends by comparing the views with a clean
replay of the log (``projections.verify``): nothing lost, nothing counted twice. Figures are printed.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from devtools.postgres import Cluster
from ledger import commands as c
from ledger.application import Ledger
from ledger.config import Settings
from ledger.eventlog.kafka import TopicReader
from projections.runner import ProjectionRunner
from projections.sources import partition_source
from projections.store.postgres import PostgresViewStore
from projections.verify import verify
from tests.e2e.conftest import free_port, make_tokens
from tests.postgres_fixtures import fresh_database

pytestmark = [pytest.mark.faults, pytest.mark.kafka, pytest.mark.postgres]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def postgres() -> Iterator[Cluster]:
    """A PostgreSQL cluster these tests may restart (not the session's shared one)."""
    cluster = Cluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@dataclass
class Scene:
    settings: Settings  # the writer's: Kafka log, views in PostgreSQL
    ledger: Ledger
    views: str
    codes: int = 0

    def append(self, communities: int, batch: int = 250) -> float:
        """Registers ``communities`` new communities through the writer; returns the seconds it took."""
        started = time.monotonic()
        for first in range(0, communities, batch):
            commands = [(c.RegisterCommunity(code=f"ZZ-W-{self.codes + n:05d}", name="Community", city="Zhuzhou",
                                             district="Hetang", street="Street", kind="urban_community"), c.Context())
                        for n in range(first, min(first + batch, communities))]
            results = self.ledger.handle_many(commands)
            assert all(isinstance(r, c.Appended) for r in results), results[:3]
        self.codes += communities
        return time.monotonic() - started

    def worker(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        home = self.settings.home.parent / name
        home.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
        env |= {"LEDGER_HOME": str(home), "LEDGER_KEYS_DIR": str(self.settings.keys_path),
                "LEDGER_LOG": self.settings.log_url, "LEDGER_KAFKA_TOPIC": self.settings.kafka_topic,
                "LEDGER_NAME": self.settings.ledger_name, "LEDGER_VIEWS": self.views, "PYTHONUNBUFFERED": "1"}
        log = (self.settings.home.parent / f"{name}.log").open("ab")
        return subprocess.Popen([sys.executable, "-m", "cli.main", "projections", "run", "--interval", "0.1", *args],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)

    def head(self) -> int:
        """The log's head, with the writer's index caught up first (another process may be writing)."""
        self.ledger.recorder.catch_up()  # type: ignore[attr-defined]
        return self.ledger.head()

    def positions(self) -> dict[str, int]:
        """The seq each view has applied the log up to (read from the shared store, as status does)."""
        store = PostgresViewStore(self.views)
        try:
            runner = ProjectionRunner(self.ledger, store)
            try:
                return runner.positions()
            finally:
                runner.close()
        finally:
            store.close()

    def end_offsets(self) -> dict[str, int]:
        """Where each partition of the topic ends (its next offset), by source name."""
        reader = TopicReader(self.settings.kafka_bootstrap, self.settings.kafka_topic)
        try:
            return {partition_source(p): end for p, end in reader.end_offsets().items()}
        finally:
            reader.close()

    def wait_caught_up(self, timeout: float = 120) -> float:
        started, head = time.monotonic(), self.head()
        while min(self.positions().values()) < head:
            assert time.monotonic() - started < timeout, f"the views did not reach seq {head}: {self.positions()}"
            time.sleep(0.2)
        return time.monotonic() - started

    def check_views(self) -> int:
        store = PostgresViewStore(self.views)
        try:
            runner = ProjectionRunner(self.ledger, store)
            try:
                checks = verify(self.ledger, store, runner.projections)
            finally:
                runner.close()
        finally:
            store.close()
        assert checks and all(check.ok for check in checks), [check.summary() for check in checks if not check.ok]
        return sum(check.rows for check in checks)


@pytest.fixture
def scene(tmp_path: Path, kafka_bootstrap: str, postgres: Cluster) -> Iterator[Scene]:
    name = f"w{uuid.uuid4().hex[:10]}"
    with fresh_database(postgres.dsn) as views:
        settings = Settings(home=tmp_path / "writer", log_url=f"kafka://{kafka_bootstrap}",
                            kafka_topic=f"{name}.events", ledger_name=name, views_url=views,
                            kafka_options=(("KAFKA_PARTITIONS", "3"),))
        ledger = Ledger(settings)
        try:
            yield Scene(settings, ledger, views)
        finally:
            ledger.close()


def stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGCONT)
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def test_a_worker_killed_mid_batch_resumes_where_its_last_batch_ended(scene: Scene) -> None:
    """Two workers own the topic's 3 partitions; the one owning 0 and 1 is killed in a backlog, the other goes on.

    Its progress is watched in the stored positions of its partitions (one cheap query), so the kill lands
    after its first batches and before its last."""
    scene.append(300)
    first, other = scene.worker("worker-1", "--partitions", "0-1"), scene.worker("worker-2", "--partitions", "2")
    store = PostgresViewStore(scene.views)
    owned = ("kafka:0", "kafka:1")

    def progress() -> list[int]:  # where the killed worker's partitions stand in every view
        return [at for view in ("audit", "workload", "directory") for source, at in
                sorted(store.positions(view).items()) if source in owned]

    try:
        scene.wait_caught_up()
        first.send_signal(signal.SIGSTOP)  # a backlog builds up, so the kill lands in the middle of it
        stopped_at = progress()
        scene.append(6000)
        after = scene.ledger.head()
        first.send_signal(signal.SIGCONT)
        deadline = time.monotonic() + 60
        while progress() == stopped_at and time.monotonic() < deadline:
            time.sleep(0.005)
        first.send_signal(signal.SIGKILL)  # between two batches' transactions, or in the middle of one
        first.wait(timeout=30)
        at_kill, covered = progress(), scene.positions()
    finally:
        stop(first)
        store.close()
    ends = scene.end_offsets()
    assert at_kill != stopped_at, "the worker applied nothing before it was killed"
    assert any(at < ends[source] for at, source in zip(at_kill, owned * 3, strict=True)), "nothing was left"
    second = scene.worker("worker-1", "--partitions", "0-1")  # the same worker restarted
    try:
        recovered = scene.wait_caught_up()
    finally:
        assert stop(second) == 0 and stop(other) == 0
    rows = scene.check_views()
    print(f"\nworker killed mid-batch: log {after} events, views at seq {min(covered.values())}-"
          f"{max(covered.values())} when killed (partitions 0-1 at offsets {at_kill[:2]} of "
          f"{[ends[s] for s in owned]}), caught up {recovered:.1f} s after the restart, {rows} rows equal a replay")


def test_postgres_restarted_under_two_workers_loses_and_doubles_nothing(scene: Scene, postgres: Cluster) -> None:
    scene.append(200)
    workers = [scene.worker("worker-a", "--partitions", "0"), scene.worker("worker-b", "--partitions", "1-2")]
    try:
        scene.wait_caught_up()
        writing = threading.Thread(target=scene.append, args=(2000, 100))
        writing.start()
        time.sleep(0.5)
        started = time.monotonic()
        postgres.restart()
        restarted = time.monotonic() - started
        writing.join(timeout=300)
        recovered = scene.wait_caught_up()
        assert all(worker.poll() is None for worker in workers), "a worker died with its store"
    finally:
        codes = [stop(worker) for worker in workers]
    assert codes == [0, 0]
    logs = [(scene.settings.home.parent / f"worker-{name}.log").read_text() for name in ("a", "b")]
    assert any("retrying" in log for log in logs), logs  # the restart was felt, and survived
    store = PostgresViewStore(scene.views)
    try:  # what `ledger projections status` shows: each view run by both, each owner with its partitions
        owners = {view: sorted(worker.split(" ", 1)[1] for worker in seen) for view, seen in store.workers().items()}
    finally:
        store.close()
    assert len(owners) == 9 and all(w == ["[partitions 0]", "[partitions 1,2]"] for w in owners.values()), owners
    rows = scene.check_views()
    print(f"\nPostgreSQL restarted under 2 workers: down {restarted:.1f} s, {scene.ledger.head()} events, views "
          f"caught up {recovered:.1f} s after the writes ended, {rows} rows equal a replay")


def test_a_stopped_worker_does_not_slow_the_writer(scene: Scene) -> None:
    """The writer is a ``ledger serve`` process that leaves the views to the workers (``LEDGER_FOLLOW=0``)."""
    scene.append(100)
    home = scene.settings.home.parent / "api-writer"
    home.mkdir()
    tokens = make_tokens(home).headers("agency_zz")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env |= {"LEDGER_HOME": str(home), "LEDGER_KEYS_DIR": str(scene.settings.keys_path), "LEDGER_FOLLOW": "0",
            "LEDGER_LOG": scene.settings.log_url, "LEDGER_KAFKA_TOPIC": scene.settings.kafka_topic,
            "LEDGER_NAME": scene.settings.ledger_name, "LEDGER_VIEWS": scene.views}
    api = subprocess.Popen([sys.executable, "-m", "cli.main", "serve", "--port", str(port)], cwd=ROOT, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = scene.worker("worker-slow")
    url = f"http://127.0.0.1:{port}"

    def appends(prefix: str) -> list[float]:
        times = []
        for n in range(60):
            started = time.monotonic()
            answer = httpx.post(f"{url}/v1/communities", headers=tokens, timeout=30, json={
                "code": f"ZZ-{prefix}-{n:03d}", "name": "Community", "city": "Zhuzhou", "district": "Hetang",
                "street": "Street", "kind": "urban_community"})
            times.append(time.monotonic() - started)
            assert answer.status_code == 201, answer.text
        return times

    try:
        _wait_up(url, api)
        scene.wait_caught_up()
        running = appends("RUN")
        worker.send_signal(signal.SIGSTOP)
        stopped = appends("STOP")
        lagging = scene.head() - min(scene.positions().values())
        worker.send_signal(signal.SIGCONT)
        recovered = scene.wait_caught_up()
    finally:
        assert stop(worker) == 0
        stop(api)
    assert lagging >= 60  # the views waited; the appends did not
    scene.check_views()
    ms = {name: (statistics.median(times) * 1000, sorted(times)[-2] * 1000)
          for name, times in (("running", running), ("stopped", stopped))}
    print(f"\nstopped worker: HTTP append p50/p98 with the worker running {ms['running'][0]:.1f}/"
          f"{ms['running'][1]:.1f} ms, stopped {ms['stopped'][0]:.1f}/{ms['stopped'][1]:.1f} ms; views {lagging} "
          f"behind, caught up {recovered:.1f} s after SIGCONT")
    assert ms["stopped"][0] < 1000  # no append waited for the views (a stall would be the write timeout)


def _wait_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, "the API exited during start-up"
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code in (200, 503):
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail("the API did not answer /health within 90 s")
