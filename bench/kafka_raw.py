"""The ceilings of the Kafka appends: raw kafka-python producers on the same broker as the ledger.

* ``threads_with_acks``: N threads share one producer (``acks=all``, idempotent, as the library
  defaults), each sending one record and waiting for its acknowledgement before the next — what
  N writers that each wait for their own append get from the client and the broker;
* ``transactional``: one transactional producer committing serial transactions of
  ``records_per_transaction`` records — what the ledger's single writer could reach with the
  transactions it actually made.

Both send records like the ledger's (a 36-byte key, the ledger's seven headers, values of the given
size) and return a ``RawRun``: records/s and the p50/p99 latency of a record (send to acknowledgement;
for a transaction, begin to commit). ``figures`` runs the ledger with 32 writers beside both, round by
round, and derives the ledger's records per transaction from the topic's end offsets (every
committed transaction adds one commit marker, which takes an offset).

Importing this module needs no broker; every function takes the bootstrap address.
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import TopicAlreadyExistsError

from bench.paired import Paired, p99_ms

Report = Callable[[str], None]


@dataclass(frozen=True)
class RawRun:
    """Records sent and acknowledged, in how long, and each record's latency (seconds)."""

    records: int
    seconds: float
    latencies: list[float]

    @property
    def per_second(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies) * 1000 if self.latencies else 0.0

    @property
    def p99_ms(self) -> float:
        return p99_ms(self.latencies) if self.latencies else 0.0


def ensure_topic(bootstrap: str, topic: str, partitions: int = 1, replication: int = 1) -> None:
    """Creates ``topic`` if missing (infinite retention, as the ledger's own)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics({topic: {"num_partitions": partitions, "replication_factor": replication,
                                     "configs": {"retention.ms": "-1"}}}, wait_for_metadata=True)
    except TopicAlreadyExistsError:
        pass
    finally:
        admin.close()


def end_offsets(bootstrap: str, topic: str) -> int:
    """The sum of the topic's end offsets over its partitions (records plus transaction markers)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        return sum(consumer.end_offsets(partitions).values()) if partitions else 0
    finally:
        consumer.close()


def records_per_transaction(records: int, offsets_moved: int) -> float:
    """Records per committed transaction from a count of records and how far the end offsets moved
    (one commit marker per transaction and partition it wrote to; one partition assumed)."""
    transactions = offsets_moved - records
    return records / transactions if transactions > 0 else float(records)


def ledger_like(value_bytes: int) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """A key, a value and headers of the sizes the ledger's writer sends."""
    key = str(uuid.uuid4()).encode()
    headers = [("seq", b"1234567"), ("event_id", str(uuid.uuid4()).encode()),
               ("topic", b"ledger.domain.retiree:Retiree.ServiceDelivered"), ("version", b"123"),
               ("prev_hash", b"0" * 64), ("hash", b"f" * 64), ("mac", b"a" * 64)]
    return key, b"x" * max(1, value_bytes), headers


def threads_with_acks(bootstrap: str, topic: str, threads: int = 32, per_thread: int = 20,
                      value_bytes: int = 400) -> RawRun:
    """``threads`` threads on one producer (acks=all), each waiting for its record's ack before the next."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    key, value, headers = ledger_like(value_bytes)
    try:
        producer.send(topic, key=key, value=value, headers=headers).get(timeout=30)  # connected, metadata known
        latencies: list[float] = []
        errors: list[BaseException] = []
        lock = threading.Lock()

        def work() -> None:
            mine = []
            try:
                for _ in range(per_thread):
                    began = time.perf_counter()
                    producer.send(topic, key=key, value=value, headers=headers).get(timeout=30)
                    mine.append(time.perf_counter() - began)
            except BaseException as error:
                errors.append(error)
            with lock:
                latencies.extend(mine)

        workers = [threading.Thread(target=work, daemon=True) for _ in range(threads)]
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        seconds = time.perf_counter() - started
        if errors:
            raise errors[0]
        return RawRun(threads * per_thread, seconds, latencies)
    finally:
        producer.close(timeout=5)


def transactional(bootstrap: str, topic: str, records_per_txn: int = 64, transactions: int = 20,
                  value_bytes: int = 400, transactional_id: str | None = None) -> RawRun:
    """Serial transactions of ``records_per_txn`` records; a record's latency is its transaction's."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0, enable_idempotence=True,
                             batch_size=256 * 1024,  # as the ledger's writer
                             transactional_id=transactional_id or f"raw-{uuid.uuid4().hex[:12]}")
    key, value, headers = ledger_like(value_bytes)
    per_txn = max(1, records_per_txn)
    try:
        producer.init_transactions()
        latencies: list[float] = []
        started = time.perf_counter()
        for _ in range(transactions):
            began = time.perf_counter()
            producer.begin_transaction()
            for _ in range(per_txn):
                producer.send(topic, key=key, value=value, headers=headers)
            producer.commit_transaction()
            latencies.extend([time.perf_counter() - began] * per_txn)
        seconds = time.perf_counter() - started
        return RawRun(transactions * per_txn, seconds, latencies)
    finally:
        producer.close(timeout=5)


@dataclass(frozen=True)
class LedgerRound:
    """One round of the ledger's concurrent appends, seen from the topic too."""

    appends: int
    records: int
    seconds: float
    latencies: list[float]
    offsets_moved: int
    value_bytes: int

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0

    @property
    def records_per_transaction(self) -> float:
        return records_per_transaction(self.records, self.offsets_moved)


def figures(root: Path, log_url: str, *, writers: int = 32, per_writer: int = 20, rounds: int = 5,
            report: Report = lambda _: None) -> list[Paired]:
    """The ledger's Kafka appends with ``writers`` writers beside the raw producers, ``rounds`` rounds
    interleaved (one ledger, one topic, fresh services per round): records/s vs ``writers`` raw
    threads with acks, records/s vs raw transactions of the ledger's records per transaction, and
    the p99 latency of an append vs that of a record in those transactions."""
    from bench.workload import populate, service, timed_concurrently
    from ledger.config import Settings
    from runtime.bootstrap import opened

    bootstrap = log_url.removeprefix("kafka://")
    name = f"bench{uuid.uuid4().hex[:8]}"
    settings = Settings(home=root / name, keys_dir=root / "keys", log_url=log_url, kafka_topic=f"{name}.events",
                        ledger_name=name)
    raw_topic = f"{name}.raw"
    ensure_topic(bootstrap, raw_topic)
    ours: list[LedgerRound] = []
    threaded: list[RawRun] = []
    batched: list[RawRun] = []
    with opened(settings) as services:
        ledger = services.ledger
        report(f"Kafka: {writers} retirees for {writers} writers")
        rids = populate(ledger, writers)

        def ledger_round(round_: int) -> LedgerRound:
            head, offsets = ledger.head(), end_offsets(bootstrap, settings.kafka_topic)
            timing = timed_concurrently(writers, per_writer,
                                        lambda w, n: ledger.handle(service(rids[w], round_ * per_writer + n)))
            records = ledger.head() - head
            sizes = [len(r.state) for r in ledger.read_log(head, limit=records)]
            return LedgerRound(writers * per_writer, records, timing.seconds, timing.latencies,
                               end_offsets(bootstrap, settings.kafka_topic) - offsets,
                               int(statistics.mean(sizes)) if sizes else 400)

        def raw_round(shape: LedgerRound) -> None:
            per_thread = max(1, round(shape.records / writers))
            threaded.append(threads_with_acks(bootstrap, raw_topic, writers, per_thread, shape.value_bytes))
            per_txn = max(1, round(shape.records_per_transaction))
            batched.append(transactional(bootstrap, raw_topic, per_txn, max(5, shape.records // per_txn),
                                         shape.value_bytes))

        ledger_round(rounds)  # warm-up (connections, caches, the writer's catch-up), not reported
        for round_ in range(rounds):
            report(f"Kafka round {round_ + 1}/{rounds}")
            if round_ % 2 == 0:
                ours.append(ledger_round(round_))
                raw_round(ours[-1])
            else:
                raw_round(ours[-1])  # the shape of the previous round (round 0 comes first)
                ours.append(ledger_round(round_))
    per_txn = statistics.median(r.records_per_transaction for r in ours)
    extra: tuple[tuple[str, float], ...] = (
        ("records_per_transaction", per_txn), ("ledger_p50_ms", statistics.median(p50(r.latencies) for r in ours)),
        ("raw_p50_ms", statistics.median(r.p50_ms for r in batched)))
    return [
        Paired(f"Kafka appends, {writers} writers: records/s", "/s", f"raw kafka-python, {writers} threads, acks=all",
               [r.records_per_second for r in ours], [r.per_second for r in threaded],
               extra=(("records_per_transaction", per_txn),)),
        Paired(f"Kafka appends, {writers} writers: records/s vs transactions", "/s",
               "raw kafka-python transactions, the ledger's records per transaction",
               [r.records_per_second for r in ours], [r.per_second for r in batched], extra=extra),
        Paired(f"Kafka appends, {writers} writers: p99", "ms",
               "raw kafka-python transactions, the ledger's records per transaction",
               [p99_ms(r.latencies) for r in ours], [r.p99_ms for r in batched], extra=extra),
    ]


def p50(latencies: list[float]) -> float:
    return statistics.median(latencies) * 1000 if latencies else 0.0


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.kafka_raw HOST:PORT``: the two raw baselines alone, printed."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    bootstrap = args[0] if args else "127.0.0.1:9092"
    topic = f"raw{uuid.uuid4().hex[:8]}"
    ensure_topic(bootstrap, topic)
    runs: list[tuple[str, Callable[[], RawRun]]] = [
        ("32 threads, acks=all", lambda: threads_with_acks(bootstrap, topic)),
        ("transactions of 64", lambda: transactional(bootstrap, topic, 64, 20))]
    for label, run in runs:
        result = run()
        print(f"{label}: {result.per_second:,.0f} records/s, p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
