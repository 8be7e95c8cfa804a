"""The Kafka event log: a transactional single-writer persistence module on kafka-python.

Select it with ``PERSISTENCE_MODULE=ledger.eventlog.kafka:KafkaFactory`` (``LEDGER_LOG=kafka://HOST:PORT``).
This package is the only code that imports kafka-python.

Contract (DESIGN.md section 3), and how it is kept without a conditional append in Kafka:

* one writer per ledger is the sequencer: a transactional producer with a fixed ``transactional_id``;
  ``init_transactions()`` fences every older writer, whose next save then fails cleanly;
* the recorder (``kafka.recorder.KafkaRecorder``) holds the local index (``kafka.index.KafkaIndex``,
  the port; ``SQLiteKafkaIndex`` keeps it in one SQLite file) and the writer
  (``kafka.writer.KafkaWriter``): the index answers every read, every write goes through the writer;
* before its first write the writer reads the topic (``read_committed``) to the end into the
  index (``kafka.catchup.catch_up``), so version and event-id checks see everything committed;
* saves are queued to one writer thread; it takes what queued up while the previous transaction
  was in flight, at most ``KAFKA_BATCH_MAX`` saves (default 64) and ``KAFKA_BATCH_MAX_BYTES`` of
  records (default 1,000,000; a larger save goes alone), waiting at most ``KAFKA_BATCH_WAIT_MS`` in
  all (default 0: no added latency) for more, checks each save on its own against ONE index query
  for the whole batch (a conflicting save fails alone), and commits the rest in ONE Kafka
  transaction (group commit); coordinator calls run on one long-lived daemon thread, bounded;
  ``KAFKA_GROUP_COMMIT=off`` makes every save its own transaction;
* a save is acknowledged only after its transaction committed; a caller that waited longer than
  ``KAFKA_WRITE_TIMEOUT_S`` gets an error (the outcome is unknown, nothing acknowledged) and the
  writer re-reads the topic before it accepts another write;
* each record: key = stream id, value = the stored event bytes, headers = seq, event id, event
  topic (type), version, prev_hash, hash.

Readers other than the writer (projections, other systems) use ``TopicReader``: the committed
records straight from the topic, by partition and offset.
"""


from ledger.eventlog.kafka.factory import KafkaFactory, rebuild_index
from ledger.eventlog.kafka.reader import TopicReader, committed_records
from ledger.eventlog.kafka.recorder import KafkaRecorder
from ledger.eventlog.kafka.records import KafkaConfig

__all__ = ["KafkaConfig", "KafkaFactory", "KafkaRecorder", "TopicReader", "committed_records", "rebuild_index"]
