"""Catching the index up with the topic: what the writer does before it writes, and what a rebuild is."""

from __future__ import annotations

import hmac

from eventsourcing.persistence import OperationalError
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from ledger.errors import IntegrityViolationError
from ledger.eventlog.kafka.index import IndexRow, KafkaIndex
from ledger.eventlog.kafka.records import KafkaConfig, record_mac, row_from_record


def catch_up(index: KafkaIndex, config: KafkaConfig) -> int:
    """Reads the committed records after the index's positions into the index; returns how many.

    Kafka failures are an ``OperationalError``; a record that is not a ledger event, is not
    signed by the writer (with a writer key) or does not link to the chain is an
    ``IntegrityViolationError``, and then nothing is indexed.
    """
    consumer = KafkaConsumer(
        bootstrap_servers=config.bootstrap, isolation_level="read_committed", enable_auto_commit=False,
        group_id=None, request_timeout_ms=config.client_timeout_ms + 5000, fetch_max_wait_ms=50,
        max_partition_fetch_bytes=8 * 1024 * 1024, max_poll_records=5000,
    )
    try:
        found = sorted(consumer.partitions_for_topic(config.topic) or ())
        partitions = [TopicPartition(config.topic, p) for p in found]
        if not partitions:
            raise OperationalError(f"topic {config.topic} does not exist")
        consumer.assign(partitions)
        start = index.positions()
        for tp in partitions:
            consumer.seek(tp, start.get(tp.partition, 0))
        end = consumer.end_offsets(partitions, timeout_ms=config.client_timeout_ms)
        rows: list[IndexRow] = []
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            for records in consumer.poll(timeout_ms=500).values():
                rows.extend(row_from_record(r) for r in records)
        positions = {tp.partition: consumer.position(tp) for tp in partitions}
    except KafkaError as error:
        raise OperationalError(f"cannot read the topic: {type(error).__name__}") from error
    finally:
        consumer.close()
    rows.sort(key=lambda row: row.seq)
    check_writer(rows, config.writer_key)
    index.append(rows, positions)
    return len(rows)


def check_writer(rows: list[IndexRow], key: bytes | None) -> None:
    """With a writer key, every record must carry the writer's MAC: a record produced by anyone
    else, however consistent its hash, is refused before it reaches the index."""
    if key is None:
        return
    for row in rows:
        if row.mac is None or not hmac.compare_digest(row.mac, record_mac(key, row.hash)):
            raise IntegrityViolationError(f"the record at seq {row.seq} was not written by this ledger's writer")
