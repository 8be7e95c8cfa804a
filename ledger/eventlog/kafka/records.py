"""How records look in the topic: headers, and the configuration of the Kafka log."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.utils import Environment, strtobool

from ledger.errors import IntegrityViolationError
from ledger.eventlog.base import LogRecord
from ledger.eventlog.kafka.index import IndexRow

HEADERS = ("seq", "event_id", "topic", "version", "prev_hash", "hash")  # and "mac" with a writer key


@dataclass(frozen=True)
class KafkaConfig:
    bootstrap: str
    topic: str
    transactional_id: str
    partitions: int = 1
    replication: int = 1
    min_insync: int = 1
    group_commit: bool = True
    batch_max: int = 64
    batch_max_bytes: int = 1_000_000
    batch_wait_ms: float = 0.0
    write_timeout_s: float = 15.0
    client_timeout_ms: int = 10_000
    writer_key: bytes | None = None

    @classmethod
    def from_env(cls, env: Environment) -> KafkaConfig:
        def get(key: str, default: str) -> str:
            return env.get(key) or default

        return cls(
            bootstrap=get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
            topic=get("KAFKA_TOPIC", "ledger.events"),
            transactional_id=get("KAFKA_TRANSACTIONAL_ID", "ledger-writer"),
            partitions=int(get("KAFKA_PARTITIONS", "1")),
            replication=int(get("KAFKA_REPLICATION_FACTOR", "1")),
            min_insync=int(get("KAFKA_MIN_INSYNC_REPLICAS", "1")),
            group_commit=strtobool(get("KAFKA_GROUP_COMMIT", "on")),
            batch_max=int(get("KAFKA_BATCH_MAX", "64")),
            batch_max_bytes=int(get("KAFKA_BATCH_MAX_BYTES", "1000000")),
            batch_wait_ms=float(get("KAFKA_BATCH_WAIT_MS", "0")),
            write_timeout_s=float(get("KAFKA_WRITE_TIMEOUT_S", "15")),
            client_timeout_ms=int(get("KAFKA_CLIENT_TIMEOUT_MS", "10000")),
            writer_key=bytes.fromhex(env.get("KAFKA_WRITER_KEY") or "") or None,
        )



def record_mac(key: bytes, record_hash: str) -> str:
    """The writer's MAC of a record: HMAC-SHA256 over its chain hash (which covers everything else)."""
    return hmac.new(key, record_hash.encode(), hashlib.sha256).hexdigest()


def row_from_record(record: Any) -> IndexRow:
    """The record as an index row; a record without the ledger's headers is an ``IntegrityViolationError``."""
    try:
        headers = {name: value.decode() for name, value in record.headers}
        stream = record.key.decode()
        try:
            originator: UUID | str = UUID(stream)
        except ValueError:
            originator = stream
        return IndexRow(int(headers["seq"]), originator, int(headers["version"]), headers["topic"], record.value,
                        headers["event_id"] or None, headers["prev_hash"], headers["hash"], headers.get("mac"))
    except (KeyError, ValueError, AttributeError, TypeError, UnicodeDecodeError):
        offset = getattr(record, "offset", "?")
        raise IntegrityViolationError(f"the record at offset {offset} of the topic is not a ledger event") from None


def log_record(record: Any) -> LogRecord:
    row = row_from_record(record)
    return LogRecord(id=row.seq, originator_id=row.originator_id, originator_version=row.originator_version,
                     topic=row.topic, state=row.state, event_id=row.event_id, prev_hash=row.prev_hash, hash=row.hash)
