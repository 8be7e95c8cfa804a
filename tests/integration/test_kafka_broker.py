"""The development broker is a real Kafka: transactions work, and up/status/down manage it."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

from ledger.devtools.kafka_broker import down, status, up

pytestmark = pytest.mark.kafka

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "kafka.sh"


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

    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, transactional_id=f"{topic}-producer")
    try:
        producer.init_transactions()
        producer.begin_transaction()
        for n in range(3):
            producer.send(topic, key=b"k", value=f"committed-{n}".encode())
        producer.commit_transaction()
        producer.begin_transaction()
        producer.send(topic, key=b"k", value=b"aborted")
        producer.flush()
        producer.abort_transaction()
    finally:
        producer.close()

    partition = TopicPartition(topic, 0)
    consumer = KafkaConsumer(bootstrap_servers=kafka_bootstrap, isolation_level="read_committed",
                             enable_auto_commit=False, auto_offset_reset="earliest")
    try:
        consumer.assign([partition])
        end = consumer.end_offsets([partition])[partition]  # the last stable offset
        assert end == 6  # 3 records + commit marker + 1 record + abort marker
        values: list[bytes] = []
        deadline = time.monotonic() + 30
        while consumer.position(partition) < end and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                values.extend(record.value for record in records)
    finally:
        consumer.close()
    assert values == [b"committed-0", b"committed-1", b"committed-2"]


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


def test_the_script_controls_a_broker_from_separate_processes(tmp_path: Path) -> None:
    home = str(tmp_path / "home")

    def script(verb: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", str(SCRIPT), verb, home], capture_output=True, text=True,
                              timeout=180, check=False)

    started = script("up")
    assert started.returncode == 0, started.stderr
    bootstrap = started.stdout.strip()
    try:
        assert script("status").stdout.strip() == bootstrap
        assert status(Path(home)) == bootstrap
    finally:
        stopped = script("down")
    assert (stopped.returncode, stopped.stdout.strip()) == (0, "stopped")
    after = script("status")
    assert (after.returncode, after.stdout.strip(), status(Path(home))) == (1, "not running", None)
