"""The development broker is a real Kafka: transactions work, and up/status/down manage it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

from devtools.kafka_broker import down, status, up

pytestmark = pytest.mark.kafka

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "kafka.sh"
# 3 committed records, their commit marker, 1 aborted record, its abort marker
END_OF_BOTH_TRANSACTIONS = 6


def test_read_committed_consumer_sees_only_committed_transactional_records(
    kafka_bootstrap: str,
) -> None:
    topic = f"txn-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        admin.create_topics({topic: {"num_partitions": 1, "replication_factor": 1}},
                            wait_for_metadata=True)
    finally:
        admin.close()

    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=f"{topic}-tx")
    try:
        producer.init_transactions()
        producer.begin_transaction()
        for n in range(3):
            producer.send(topic, key=b"k", value=f"committed-{n}".encode())
        producer.commit_transaction()
        producer.begin_transaction()
        producer.send(topic, key=b"k", value=b"aborted")
        producer.flush()  # else kafka-python drops the unsent record and the abort writes nothing
        producer.abort_transaction()
    finally:
        producer.close()

    committed_view = _read_to_end(kafka_bootstrap, topic, "read_committed")
    raw_view = _read_to_end(kafka_bootstrap, topic, "read_uncommitted")
    assert committed_view == [b"committed-0", b"committed-1", b"committed-2"]
    assert raw_view == [*committed_view, b"aborted"]  # the aborted record did reach the log


def _read_to_end(bootstrap: str, topic: str, isolation_level: str) -> list[bytes]:
    partition = TopicPartition(topic, 0)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, isolation_level=isolation_level,
                             enable_auto_commit=False, auto_offset_reset="earliest")
    values: list[bytes] = []
    try:
        consumer.assign([partition])
        deadline = time.monotonic() + 30  # the markers are written just after the calls return
        while (consumer.position(partition) < END_OF_BOTH_TRANSACTIONS
               and time.monotonic() < deadline):
            for records in consumer.poll(timeout_ms=500).values():
                values.extend(record.value for record in records)
        assert consumer.position(partition) == END_OF_BOTH_TRANSACTIONS
    finally:
        consumer.close()
    return values


def test_up_status_and_down_manage_one_detached_broker(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert status(home) is None

    bootstrap = up(home)
    try:
        assert bootstrap.startswith("127.0.0.1:")
        assert status(home) == bootstrap
        assert up(home) == bootstrap  # already running: no second broker
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            assert isinstance(admin.list_topics(), list)
        finally:
            admin.close()
    finally:
        stopped = down(home)

    assert stopped is True
    assert status(home) is None
    assert down(home) is False


def test_the_script_controls_one_broker_from_separate_processes(tmp_path: Path) -> None:
    home = str(tmp_path / "home")
    env = {**os.environ, "PYTHON": sys.executable}

    def script(verb: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", str(SCRIPT), verb, home], env=env, capture_output=True,
                              text=True, timeout=180, check=False)

    started = script("up")
    assert started.returncode == 0, started.stderr
    bootstrap = started.stdout.strip()
    try:
        assert bootstrap.startswith("127.0.0.1:")
        assert (script("status").stdout.strip(), status(Path(home))) == (bootstrap, bootstrap)
    finally:
        stopped = script("down")
    assert (stopped.returncode, stopped.stdout.strip()) == (0, "stopped")
    after = script("status")
    assert (after.returncode, after.stdout.strip(), status(Path(home))) == (1, "not running", None)


def described_partition(admin: KafkaAdminClient, topic: str, isr: int, timeout_s: float = 30) -> dict[str, Any]:
    """The topic's first partition as the cluster describes it, once ``isr`` replicas are in sync. A new
    topic's metadata reaches the other nodes a moment after its creation: the node asked may not know it
    yet (no partitions) or not yet list every follower in sync."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = admin.describe_topics([topic])
        partitions = found[0]["partitions"] if found else []
        if (partitions and len(partitions[0]["isr_nodes"]) >= isr) or time.monotonic() > deadline:
            assert partitions, f"the cluster never described topic {topic}"
            return partitions[0]  # type: ignore[no-any-return]
        time.sleep(0.2)


def test_up_with_three_nodes_runs_a_replicated_cluster_that_down_stops(tmp_path: Path) -> None:
    home = tmp_path / "home"
    bootstrap = up(home, nodes=3)
    try:
        assert len(bootstrap.split(",")) == 3 and status(home) == bootstrap
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        try:
            admin.create_topics({"replicated": {"num_partitions": 1, "replication_factor": 3}}, wait_for_metadata=True)
            partition = described_partition(admin, "replicated", isr=3)
        finally:
            admin.close()
        assert sorted(partition["isr_nodes"]) == [1, 2, 3]
    finally:
        stopped = down(home)
    assert stopped is True and status(home) is None
    assert not [pid for pid in (home / "kafka-cluster").glob("node*/broker.pid")]
