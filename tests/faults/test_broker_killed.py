"""Broker killed (issue 10, the first fault test): ``kill -9`` one of three brokers while 20,000 events are
appended through the API.

Clients post enrollments to ``POST /v1/batches`` (one event each that a client asked for, plus the ledger's
identity and idempotency claims) with an ``Idempotency-Key`` per batch, and retry a batch answered 503 or
not answered at all with the same key, as a client should. Once 30 % are acknowledged the broker that
leads the ledger's partition is SIGKILLed; appends must go on with two brokers (``acks=all``,
``min.insync.replicas=2``) until 60 % are acknowledged, then it restarts on its ports and data and must
be back in the ISR of every partition while appends go on. At the end the whole topic is read with a
``read_committed`` consumer and compared with the acknowledged appends (every one exactly once, no
duplicates, seqs dense, the hash chain unbroken), and the views with a clean rebuild
(``projections.verify``). The figures are printed in every run (the README's reliability section
summarises them).
"""

from __future__ import annotations

import collections
import itertools
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from kafka import KafkaConsumer, TopicPartition

from api.main import create_app
from devtools.kafka_cluster import KafkaCluster
from ledger.eventlog.base import canonical_id
from projections.verify import verify
from runtime.serving import HTTP_PROTOCOL
from tests.e2e.conftest import serving
from tests.people import id_number

pytestmark = [pytest.mark.faults, pytest.mark.kafka]

EVENTS = 20_000
CLIENTS = 4
BATCH = 250  # one Kafka transaction per request (ledger.application.BATCH_CHUNK is 500)
KILL_AT, RESTART_AT = 0.3, 0.6  # of EVENTS acknowledged
TOPIC = "faults.events"
ENROLLED = "Retiree.Enrolled"


def enrollment(n: int) -> dict[str, Any]:
    """The n-th enrollment: 40 birth dates x 500 sequence numbers make 20,000 people."""
    born = date(1950, 3, 1) - timedelta(days=n // 500)
    return {"type": "enrolled", "name": "Wang Fang", "id_number": id_number(born, 2 * (n % 500)), "sex": "female",
            "birth_date": born.isoformat(), "danwei_code": "D-1", "danwei_name": "Mill",
            "retirement_date": "2005-03-01", "monthly_pension": "2000.00", "agency": "ZZ-SIA", "city": "Zhuzhou",
            "district": "Hetang"}


@dataclass
class Appends:
    """What the clients saw; every method is thread-safe."""

    acknowledged: dict[int, tuple[str, int]] = field(default_factory=dict)  # enrollment -> (retiree id, seq)
    acks: list[tuple[float, float]] = field(default_factory=list)  # (sent, answered) of each acknowledged request
    attempts: int = 0
    failed_attempts: int = 0
    replayed: int = 0  # items acknowledged on a retry that found them already appended
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def count(self) -> int:
        with self.lock:
            return len(self.acknowledged)

    def record(self, first: int, results: list[dict[str, Any]], sent: float) -> None:
        with self.lock:
            for offset, result in enumerate(results):
                self.acknowledged[first + offset] = (result["id"], result["seq"])
                self.replayed += bool(result["replayed"])
            self.acks.append((sent, time.monotonic()))


def append_batches(url: str, todo: queue.Queue[int], appends: Appends) -> None:
    """One client: posts the batches it takes from ``todo``, each until it is acknowledged."""
    with httpx.Client(base_url=url, timeout=60) as http:
        while not appends.errors:
            try:
                number = todo.get_nowait()
            except queue.Empty:
                return
            first = number * BATCH
            items = [enrollment(n) for n in range(first, first + BATCH)]
            deadline = time.monotonic() + 180
            while True:
                sent = time.monotonic()
                with appends.lock:
                    appends.attempts += 1
                try:
                    response = http.post("/v1/batches", json=items, headers={"Idempotency-Key": f"fault-{number}"})
                    results = response.json()["results"] if response.status_code == 200 else []
                    statuses = {r["status"] for r in results}
                except httpx.HTTPError:
                    response, statuses = None, set()
                if statuses == {201}:
                    assert response is not None
                    appends.record(first, response.json()["results"], sent)
                    break
                if statuses - {201, 503} or (response is not None and response.status_code not in (200, 503)):
                    problems = {(r.get("problem") or {}).get("type") for r in results if r["status"] != 201}
                    appends.errors.append(f"batch {number}: HTTP {response and response.status_code} {statuses} "
                                          f"{problems or (response and response.text[:300])}")
                    return
                with appends.lock:
                    appends.failed_attempts += 1
                if time.monotonic() > deadline:
                    appends.errors.append(f"batch {number}: not acknowledged within 180 s")
                    return
                time.sleep(0.25)


def wait_for(condition: Callable[[], bool], clients: list[threading.Thread], appends: Appends, what: str,
             timeout: float) -> float:
    """Seconds until ``condition`` holds; fails if it does not within ``timeout`` or the clients gave up."""
    began = time.monotonic()
    while not condition():
        assert not appends.errors, appends.errors[:3]
        assert any(c.is_alive() for c in clients) or condition(), f"the clients stopped before {what}"
        assert time.monotonic() - began < timeout, f"not {what} within {timeout:g} s ({appends.count} acknowledged)"
        time.sleep(0.05)
    return time.monotonic() - began


@dataclass(frozen=True)
class Record:
    seq: int
    stream: str
    version: int
    event_id: str
    type: str
    prev_hash: str
    hash: str


def read_committed(bootstrap: str, topic: str) -> list[Record]:
    """Every committed record of ``topic``, in offset order, as a ``read_committed`` consumer sees it."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed", enable_auto_commit=False,
                             group_id=None, max_poll_records=5000, max_partition_fetch_bytes=8 * 1024 * 1024)
    found: list[Record] = []
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        assert partitions, f"topic {topic} has no partitions"
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        deadline = time.monotonic() + 120
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            assert time.monotonic() < deadline, "the topic was not read to its end within 120 s"
            for records in consumer.poll(timeout_ms=500).values():
                for r in records:
                    headers = {name: value.decode() for name, value in r.headers}
                    found.append(Record(int(headers["seq"]), r.key.decode(), int(headers["version"]),
                                        headers["event_id"], headers["topic"], headers["prev_hash"], headers["hash"]))
    finally:
        consumer.close()
    return found


def duplicates(values: list[Any]) -> int:
    return sum(n - 1 for n in collections.Counter(values).values() if n > 1)


def test_killing_the_leading_broker_mid_append_loses_and_duplicates_nothing(
    kafka_cluster: KafkaCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    extra = {"LEDGER_LOG": f"kafka://{kafka_cluster.bootstrap}", "LEDGER_KAFKA_TOPIC": TOPIC, "LEDGER_NAME": "faults",
             "KAFKA_REPLICATION_FACTOR": "3", "KAFKA_MIN_INSYNC_REPLICAS": "2"}
    appends = Appends()
    with serving(create_app(dev_mode=True, host="127.0.0.1"), tmp_path / "home", extra, http=HTTP_PROTOCOL) as server:
        (leader, isr), = kafka_cluster.partitions([TOPIC]).values()
        assert isr == [1, 2, 3], "the ledger's topic is not replicated to all three nodes"
        todo: queue.Queue[int] = queue.Queue()
        for number in range(EVENTS // BATCH):
            todo.put(number)
        clients = [threading.Thread(target=append_batches, args=(server.url, todo, appends), daemon=True)
                   for _ in range(CLIENTS)]
        began = time.monotonic()
        for client in clients:
            client.start()
        wait_for(lambda: appends.count >= KILL_AT * EVENTS, clients, appends, "30 % acknowledged", 300)
        leaders = {where: lead for where, (lead, _) in kafka_cluster.partitions().items()}
        leader = leaders[(TOPIC, 0)]
        also_leads = sorted(f"{topic}-{part}" for (topic, part), lead in leaders.items() if lead == leader)
        victim = kafka_cluster.node(leader)
        victim.kill()  # SIGKILL to its own pid, as `kill -9`
        killed_at, at_kill = time.monotonic(), appends.count
        wait_for(lambda: appends.count >= RESTART_AT * EVENTS, clients, appends, "60 % acknowledged on two nodes", 300)
        with_two_nodes = appends.count - at_kill
        (new_leader, isr_without), = kafka_cluster.partitions([TOPIC]).values()
        restarted_at = time.monotonic()
        victim.start()
        restart_s = time.monotonic() - restarted_at
        kafka_cluster.wait_in_sync(leader, timeout=180)  # every partition, internal ones too
        back_in_sync_at = time.monotonic()
        appended_during_rejoin = appends.count
        for client in clients:
            client.join(timeout=600)
        elapsed = time.monotonic() - began
        assert not appends.errors, appends.errors[:3]
        assert not [c for c in clients if c.is_alive()], "a client did not finish"

        records = read_committed(kafka_cluster.bootstrap, TOPIC)
        head = server.head()
        services = server.services
        wait = time.monotonic() + 120
        while min(services.runner.positions().values()) < head:
            assert time.monotonic() < wait, f"the views did not reach seq {head} within 120 s"
            time.sleep(0.2)
        checks = verify(services.ledger, services.store, services.runner.projections)

    by_seq = {r.seq: r for r in records}
    acknowledged = appends.acknowledged
    found = sum(1 for retiree, seq in acknowledged.values() if seq in by_seq
                and by_seq[seq].stream == canonical_id(UUID(retiree)) and by_seq[seq].type.endswith(ENROLLED))
    enrolled = [r.stream for r in records if r.type.endswith(ENROLLED)]
    duplicated = {"seq": duplicates([r.seq for r in records]), "event_id": duplicates([r.event_id for r in records]),
                  "stream_version": duplicates([(r.stream, r.version) for r in records]),
                  "enrollment": duplicates(enrolled)}
    ordered = sorted(records, key=lambda r: r.seq)
    broken_links = sum(1 for before, after in itertools.pairwise(ordered) if after.prev_hash != before.hash)
    recovered = [answered - killed_at for sent, answered in appends.acks if sent >= killed_at]
    answered_times = sorted(answered for _, answered in appends.acks)
    stall = max((b - a for a, b in itertools.pairwise(answered_times) if b > killed_at), default=0.0)
    figures = {
        "killed": f"node {leader} by SIGKILL, leader of {', '.join(also_leads)}, at {at_kill} acknowledged; "
                  f"then leader node {new_leader}, ISR {isr_without}",
        "appended": f"{EVENTS} enrollments, {EVENTS // BATCH} batches of {BATCH}, {CLIENTS} clients, {elapsed:.1f} s "
                    f"({EVENTS / elapsed:.0f}/s); {appends.attempts} requests, {appends.failed_attempts} failed "
                    f"and retried, {appends.replayed} items replayed on retry",
        "acknowledged": f"{len(acknowledged)}, of them {with_two_nodes} while a broker was down",
        "found": f"{found} of the acknowledged, in {len(records)} log records (head {head}), seqs dense: "
                 f"{[r.seq for r in ordered] == list(range(1, len(records) + 1))}, broken links {broken_links}",
        "duplicates": f"{sum(duplicated.values())} {duplicated}",
        "recovery": f"longest stall {stall:.1f} s; first write sent after the kill acknowledged "
                    f"{min(recovered, default=float('nan')):.1f} s after it; restarted node ready in "
                    f"{restart_s:.1f} s, in every ISR {back_in_sync_at - restarted_at:.1f} s after its restart "
                    f"({back_in_sync_at - killed_at:.1f} s after the kill; {appended_during_rejoin} acknowledged then)",
        "views": ", ".join(f"{c.view} {c.summary()}" for c in checks) + " (against a clean rebuild)",
    }
    with capsys.disabled():  # shown in every run, CI's too
        print("\nbroker killed:\n" + "\n".join(f"  {name:>12}: {line}" for name, line in figures.items()))

    assert len(acknowledged) == EVENTS  # every batch was acknowledged in the end, retries included
    assert found == EVENTS  # each acknowledged event is in the log, at its seq, in its stream
    assert duplicated == {"seq": 0, "event_id": 0, "stream_version": 0, "enrollment": 0}
    assert sorted(enrolled) == sorted(canonical_id(UUID(retiree)) for retiree, _ in acknowledged.values())
    assert [r.seq for r in ordered] == list(range(1, len(records) + 1)) and head == len(records)  # dense
    assert broken_links == 0
    assert with_two_nodes > 0 and recovered, "no append was acknowledged while a broker was down"
    assert [c.view for c in checks if not c.ok] == [], [c.summary() for c in checks]
