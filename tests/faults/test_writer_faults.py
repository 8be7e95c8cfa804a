"""The Kafka writer killed mid-transaction, and a zombie writer (issue 10's fault tests).

Each writer is a real ``ledger serve`` process on the session's broker, held between sending a
transaction's records and committing them by the ``before-commit`` failpoint (``ledger.failpoints``).
Each test ends by reading the topic with ``read_committed`` against the list of acknowledged appends
(every one there exactly once, nothing else of the failed request, seqs dense) and by comparing the
views with a clean replay of the log (``projections.verify``). Figures are printed (``-s`` shows them).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from kafka import KafkaConsumer, TopicPartition

from ledger.config import Settings
from ledger.domain.values import community_uuid
from projections.verify import verify
from runtime.bootstrap import opened
from tests.e2e.conftest import Tokens, free_port, make_tokens

pytestmark = [pytest.mark.faults, pytest.mark.kafka]
ROOT = Path(__file__).resolve().parents[2]
FAILPOINT = "before-commit"


@dataclass
class Writer:
    """One ``ledger serve`` process on the Kafka log, in its own home (its index, views and tokens)."""

    home: Path
    env: dict[str, str]
    failpoints: Path
    tokens: Tokens
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Writer:
        self.port = free_port()
        log = (self.home.parent / f"writer-{self.port}.log").open("wb")
        self.process = subprocess.Popen([sys.executable, "-m", "cli.main", "serve", "--port", str(self.port)],
                                        cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "the writer exited during start-up"
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        pytest.fail("the writer did not answer /health within 90 s")

    def signal(self, number: int) -> None:
        assert self.process is not None
        self.process.send_signal(number)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def hold(self) -> None:
        """The next transaction stops between send and commit."""
        (self.failpoints / f"{FAILPOINT}.reached").unlink(missing_ok=True)
        (self.failpoints / FAILPOINT).touch()

    def release(self) -> None:
        (self.failpoints / FAILPOINT).unlink(missing_ok=True)

    def wait_held(self, timeout: float = 30) -> float:
        started = time.monotonic()
        while not (self.failpoints / f"{FAILPOINT}.reached").exists():
            assert time.monotonic() - started < timeout, "the writer never reached the failpoint"
            time.sleep(0.02)
        return time.monotonic() - started


@dataclass
class Scene:
    settings: Settings
    env: dict[str, str]
    acknowledged: dict[int, str] = field(default_factory=dict)
    """seq -> community code of every append answered 201."""

    def writer(self, name: str, home: Path | None = None) -> Writer:
        """A writer in ``home`` (default: the scene's; another home is another machine, the same keys)."""
        home = home or self.settings.home
        home.mkdir(exist_ok=True)
        failpoints = self.settings.home.parent / f"failpoints-{name}"
        failpoints.mkdir(exist_ok=True)
        env = {**self.env, "LEDGER_HOME": str(home), "LEDGER_KEYS_DIR": str(self.settings.keys_path),
               "LEDGER_FAILPOINTS": str(failpoints)}
        return Writer(home, env, failpoints, make_tokens(home))

    def register(self, writer: Writer, code: str, key: str | None = None, timeout: float = 30) -> httpx.Response:
        headers = {**writer.tokens.headers("agency_zz"), **({"Idempotency-Key": key} if key else {})}
        answer = httpx.post(f"{writer.url}/v1/communities", headers=headers, timeout=timeout, json={
            "code": code, "name": f"Community {code}", "city": "Zhuzhou", "district": "Hetang", "street": "Street",
            "kind": "urban_community"})
        if answer.status_code == 201:
            self.acknowledged[answer.json()["seq"]] = code
        return answer


@pytest.fixture
def scene(tmp_path: Path, kafka_bootstrap: str) -> Iterator[Scene]:
    home = tmp_path / "home"
    home.mkdir()
    name = f"f{uuid.uuid4().hex[:10]}"
    settings = Settings(home=home, log_url=f"kafka://{kafka_bootstrap}", kafka_topic=f"{name}.events",
                        ledger_name=name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env |= {"LEDGER_LOG": settings.log_url, "LEDGER_KAFKA_TOPIC": settings.kafka_topic, "LEDGER_NAME": name,
            "KAFKA_WRITE_TIMEOUT_S": "60", "PYTHONUNBUFFERED": "1"}
    yield Scene(settings, env)


def committed(settings: Settings) -> list[tuple[int, str]]:
    """(seq, event id) of every record a ``read_committed`` consumer sees, in topic order per partition."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, isolation_level="read_committed",
                             enable_auto_commit=False, group_id=None)
    try:
        partitions = [TopicPartition(settings.kafka_topic, p)
                      for p in consumer.partitions_for_topic(settings.kafka_topic) or ()]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        found: list[tuple[int, str]] = []
        idle = 0
        while idle < 3:
            batch = consumer.poll(timeout_ms=500)
            idle = 0 if batch else idle + 1
            for records in batch.values():
                for record in records:
                    headers = {k: v.decode() for k, v in record.headers}
                    found.append((int(headers["seq"]), headers["event_id"]))
        return found
    finally:
        consumer.close()


def check_log(scene: Scene) -> dict[str, Any]:
    """The topic against the acknowledged appends: each once, seqs dense, no duplicates."""
    found = committed(scene.settings)
    seqs = Counter(seq for seq, _ in found)
    duplicates = sum(n - 1 for n in seqs.values())
    assert duplicates == 0, f"{duplicates} seqs appear twice in the topic"
    assert sorted(seqs) == list(range(1, len(seqs) + 1)), "the topic's seqs have a gap"
    missing = sorted(set(scene.acknowledged) - set(seqs))
    assert not missing, f"acknowledged seqs missing from the topic: {missing}"
    return {"acknowledged": len(scene.acknowledged), "found": len(found), "duplicates": duplicates}


def check_views(settings: Settings, codes: dict[str, int]) -> None:
    """The views equal a clean replay; each community in ``codes`` has that many events (0: none)."""
    with opened(settings) as services:
        services.runner.catch_up()
        checks = verify(services.ledger, services.store, services.runner.projections)
        for code, events in codes.items():
            stream = community_uuid(code)
            assert (len(services.ledger.history(stream)) if services.ledger.stream_exists(stream) else 0) == events
    assert checks and all(check.ok for check in checks), [check.summary() for check in checks if not check.ok]


def test_a_writer_killed_between_send_and_commit_loses_nothing_acknowledged(scene: Scene) -> None:
    first = scene.writer("first").start()
    try:
        for n in range(5):
            assert scene.register(first, f"ZZ-K-{n}").status_code == 201
        first.hold()
        answers: list[BaseException | httpx.Response] = []
        pending = threading.Thread(target=lambda: _call(answers, scene, first, "ZZ-K-LOST", "retry-me"), daemon=True)
        pending.start()
        first.wait_held()
        seen_while_open = committed(scene.settings)  # the open transaction's records are not readable
        first.signal(signal.SIGKILL)
        first.process.wait(timeout=30)  # type: ignore[union-attr]
        pending.join(timeout=30)
    finally:
        first.stop()
    assert answers and not isinstance(answers[0], httpx.Response), "the killed writer answered"
    assert sorted(seq for seq, _ in seen_while_open) == sorted(scene.acknowledged)

    second = scene.writer("second")
    started = time.monotonic()
    second.start()
    try:
        recovered = time.monotonic() - started
        retried = scene.register(second, "ZZ-K-LOST", key="retry-me")
        again = scene.register(second, "ZZ-K-LOST", key="retry-me")
        assert retried.status_code == 201, retried.text
        assert again.status_code in (200, 201) and again.json() == retried.json()  # one result, not two
        assert scene.register(second, "ZZ-K-NEXT").status_code == 201  # and it goes on
    finally:
        second.stop()
    figures = check_log(scene)
    check_views(scene.settings, {"ZZ-K-LOST": 1, "ZZ-K-NEXT": 1})
    print(f"\nwriter killed mid-transaction: {figures}, restart to first append {recovered:.1f} s")


def test_a_zombie_writer_resumed_after_a_new_one_took_over_cannot_commit(scene: Scene) -> None:
    zombie = scene.writer("zombie").start()
    successor = scene.writer("successor", scene.settings.home.parent / "other-machine")
    try:
        for n in range(3):
            assert scene.register(zombie, f"ZZ-Z-{n}").status_code == 201
        zombie.hold()
        answers: list[BaseException | httpx.Response] = []
        pending = threading.Thread(target=lambda: _call(answers, scene, zombie, "ZZ-Z-ZOMBIE", None), daemon=True)
        pending.start()
        zombie.wait_held()
        zombie.signal(signal.SIGSTOP)  # paused mid-transaction, its records sent

        started = time.monotonic()
        successor.start()  # init_transactions() fences the zombie and aborts its open transaction
        assert scene.register(successor, "ZZ-Z-NEW").status_code == 201
        took_over = time.monotonic() - started

        zombie.release()
        zombie.signal(signal.SIGCONT)
        pending.join(timeout=90)
        assert answers and isinstance(answers[0], httpx.Response), answers
        assert answers[0].status_code == 503, answers[0].text  # its commit was refused
        later = scene.register(zombie, "ZZ-Z-LATER")
        assert later.status_code == 503 and "ZZ-Z-LATER" not in scene.acknowledged.values()
        assert scene.register(successor, "ZZ-Z-AFTER").status_code == 201
    finally:
        zombie.stop()
        successor.stop()
    figures = check_log(scene)
    check_views(scene.settings, {"ZZ-Z-ZOMBIE": 0, "ZZ-Z-LATER": 0, "ZZ-Z-NEW": 1, "ZZ-Z-AFTER": 1})
    print(f"\nzombie writer: {figures}, successor serving after {took_over:.1f} s")


def _call(answers: list[BaseException | httpx.Response], scene: Scene, writer: Writer, code: str,
          key: str | None) -> None:
    try:
        answers.append(scene.register(writer, code, key=key, timeout=120))
    except httpx.HTTPError as error:
        answers.append(error)
