"""The transactional single writer of the Kafka log (see the package docstring): one thread, group commit."""

from __future__ import annotations

import collections
import contextlib
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field

from eventsourcing.persistence import IntegrityError, OperationalError, StoredEvent
from kafka import KafkaProducer
from kafka.errors import KafkaError, KafkaTimeoutError, ProducerFencedError

from ledger import failpoints
from ledger.errors import IntegrityViolationError
from ledger.eventlog.base import canonical_id
from ledger.eventlog.kafka.catchup import catch_up
from ledger.eventlog.kafka.index import IndexRow, KafkaIndex
from ledger.eventlog.kafka.records import KafkaConfig, record_mac
from ledger.integrity.chain import link_hash

RECORD_OVERHEAD = 400
"""Bytes of a record besides its value: key, headers (two hashes, a MAC, seq, event id, type), framing."""
PRODUCE_BATCH_BYTES = 256 * 1024
"""Bytes per produce batch (kafka-python's default is 16 KiB): a large transaction goes in few requests."""
FENCED = "this writer was fenced by a newer writer of the same ledger"


@dataclass
class _Save:
    events: Sequence[StoredEvent]
    event_ids: list[str | None]
    done: Future[list[int]] = field(default_factory=Future)
    size: int = field(init=False, default=0)
    """Bytes of its records in the topic (values, keys and headers, roughly)."""

    def __post_init__(self) -> None:
        self.size = sum(len(e.state) + RECORD_OVERHEAD for e in self.events)


class _Caller:
    """One daemon thread that runs the calls it is given, in order, each answering through a future.

    A daemon thread, not a ``ThreadPoolExecutor``: the executor's workers are joined at interpreter
    exit, so a call stuck on an unreachable coordinator would keep the process from exiting.
    """

    def __init__(self) -> None:
        self._calls: queue.Queue[tuple[Callable[[], None], Future[None]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._serve, name="kafka-transaction-call", daemon=True)
        self._thread.start()

    def run(self, call: Callable[[], None]) -> Future[None]:
        outcome: Future[None] = Future()
        self._calls.put((call, outcome))
        return outcome

    def stop(self) -> None:
        self._calls.put(None)

    def _serve(self) -> None:
        while (item := self._calls.get()) is not None:
            call, outcome = item
            try:
                call()
                outcome.set_result(None)
            except BaseException as error:
                outcome.set_exception(error)


class KafkaWriter:
    """Checks saves against the index, commits them in Kafka transactions, then indexes them.

    ``stale`` is true while the index may lag the topic (at start, after an unknown outcome, a
    reset producer or a failed index append): the topic is read into the index before the next
    transaction. Once fenced by a newer writer, every save fails.
    """

    def __init__(self, index: KafkaIndex, config: KafkaConfig) -> None:
        self.index, self.config = index, config
        self.stale = True
        self.fenced = False
        self._queue: queue.Queue[_Save | None] = queue.Queue()
        self._producer: KafkaProducer | None = None
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._caller: _Caller | None = None
        self._head: tuple[int, str] | None = None
        self.failures: collections.Counter[str] = collections.Counter()
        """Failed write batches by kind (``kafka``, ``fenced``, ``integrity``, ``other``), for ``/metrics``."""
        """The last seq and hash this writer indexed, while it is sure nothing came after them (else None)."""

    @property
    def producer(self) -> KafkaProducer | None:
        """The current transactional producer (``None`` before the first write and after a reset)."""
        return self._producer

    def submit(self, events: Sequence[StoredEvent], event_ids: Sequence[str | None]) -> list[int]:
        """Saves the events atomically; returns their seqs once the transaction committed."""
        if self.fenced:
            raise OperationalError(FENCED)
        save = _Save(events, list(event_ids) + [None] * (len(events) - len(event_ids)))
        self._ensure_thread()
        self._queue.put(save)
        try:
            return save.done.result(timeout=self.config.write_timeout_s)
        except FutureTimeout:
            self.stale = True
            raise OperationalError(
                f"no acknowledgement from Kafka within {self.config.write_timeout_s:g}s; the write is not "
                "acknowledged (retry with the same Idempotency-Key)"
            ) from None

    def close(self) -> None:
        """Stops the writer thread and closes the producer."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=5)
        self._reset_producer()
        with self._start_lock:
            caller, self._caller = self._caller, None
        if caller is not None:
            caller.stop()

    # ---- the writer thread ---------------------------------------------------------------------

    def _ensure_thread(self) -> None:
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="kafka-writer", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        held: _Save | None = None  # the save that did not fit in the previous transaction
        while True:
            first = held if held is not None else self._queue.get()
            held = None
            if first is None:
                return
            batch, held = self._gather(first)
            self._commit_batch(batch)

    def _gather(self, first: _Save) -> tuple[list[_Save], _Save | None]:
        """The next transaction: ``first`` and whatever queued behind it, at most ``batch_max`` saves
        and ``batch_max_bytes`` of records, waiting at most ``batch_wait_ms`` in all for more. Returns
        the batch and the save that would have overflowed it (the first of the next one)."""
        batch, size = [first], first.size
        if not self.config.group_commit:
            return batch, None
        wait = self.config.batch_wait_ms / 1000
        deadline = time.monotonic() + wait
        while len(batch) < self.config.batch_max:
            try:
                item = self._queue.get_nowait()  # what is queued first, without waiting
            except queue.Empty:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
            if item is None:
                self._queue.put(None)
                break
            if size + item.size > self.config.batch_max_bytes:
                return batch, item
            batch.append(item)
            size += item.size
        return batch, None

    def _commit_batch(self, batch: list[_Save]) -> None:
        try:
            producer = self._ready_producer()
            accepted, rejected = self._sequence(batch)
            try:
                if accepted:
                    self._transact(producer, accepted)
            finally:  # losers learn of their conflict only once the winners are in the index
                for save in rejected:
                    save.done.set_exception(IntegrityError("stream version or event id already recorded"))
        except IntegrityViolationError as error:  # the topic does not verify: refuse to build on it
            self.failures["integrity"] += 1
            self._reset_producer()
            self._fail(batch, error)
        except ProducerFencedError:
            self.failures["fenced"] += 1
            self.fenced = True
            self._fail(batch, OperationalError(FENCED))
        except (KafkaError, OperationalError) as error:
            self.failures["kafka"] += 1
            self._reset_producer()
            self._fail(batch, OperationalError(f"Kafka write failed: {type(error).__name__}"))
        except Exception as error:  # never leave a caller waiting
            self.failures["other"] += 1
            self._reset_producer()
            self._fail(batch, OperationalError(f"Kafka write failed: {type(error).__name__}"))

    def _ready_producer(self) -> KafkaProducer:
        if self.fenced:
            raise ProducerFencedError()
        if self._producer is None:
            producer = KafkaProducer(
                bootstrap_servers=self.config.bootstrap, transactional_id=self.config.transactional_id,
                enable_idempotence=True, acks="all", max_block_ms=self.config.client_timeout_ms,
                request_timeout_ms=self.config.client_timeout_ms, linger_ms=0,
                batch_size=PRODUCE_BATCH_BYTES,
            )
            try:
                producer.init_transactions()
            except BaseException:
                producer.close(timeout=1)
                raise
            self._producer = producer
            self.stale = True
        if self.stale:
            self._head = None
            catch_up(self.index, self.config)
            self.stale = False
        return self._producer

    def _sequence(self, batch: list[_Save]) -> tuple[list[tuple[_Save, list[IndexRow]]], list[_Save]]:
        """Checks each save against the index and the saves before it; assigns seq and hashes.

        The index is asked once for the whole batch (``KafkaIndex.taken``), not once per event."""
        seq, prev_hash = self._head or self.index.head()
        wanted_keys = [(e.originator_id, e.originator_version) for save in batch for e in save.events]
        wanted_ids = [i for save in batch for i in save.event_ids if i is not None]
        keys_taken, ids_taken = self.index.taken(wanted_keys, wanted_ids)
        indexed_keys = {(canonical_id(k[0]), k[1]) for k, hit in zip(wanted_keys, keys_taken, strict=True) if hit}
        indexed_ids = {i for i, hit in zip(wanted_ids, ids_taken, strict=True) if hit}
        taken_keys: set[tuple[str, int]] = set()
        taken_ids: set[str] = set()
        accepted, rejected = [], []
        for save in batch:
            keys = [(canonical_id(e.originator_id), e.originator_version) for e in save.events]
            ids = [i for i in save.event_ids if i is not None]
            if (len(set(keys)) < len(keys) or len(set(ids)) < len(ids) or taken_keys.intersection(keys)
                    or taken_ids.intersection(ids) or indexed_keys.intersection(keys)
                    or indexed_ids.intersection(ids)):
                rejected.append(save)
                continue
            rows = []
            for event, event_id, (stream, _) in zip(save.events, save.event_ids, keys, strict=True):
                seq += 1
                digest = link_hash(prev_hash, seq, stream, event.originator_version,
                                   event.topic, event_id, event.state)
                rows.append(IndexRow(seq, event.originator_id, event.originator_version, event.topic, event.state,
                                     event_id, prev_hash, digest))
                prev_hash = digest
            taken_keys.update(keys)
            taken_ids.update(ids)
            accepted.append((save, rows))
        return accepted, rejected

    def _transact(self, producer: KafkaProducer, accepted: list[tuple[_Save, list[IndexRow]]]) -> None:
        producer.begin_transaction()
        sent = []
        try:
            for _, rows in accepted:
                for row in rows:
                    headers = [("seq", str(row.seq).encode()), ("event_id", (row.event_id or "").encode()),
                               ("topic", row.topic.encode()), ("version", str(row.originator_version).encode()),
                               ("prev_hash", row.prev_hash.encode()), ("hash", row.hash.encode())]
                    if self.config.writer_key is not None:
                        headers.append(("mac", record_mac(self.config.writer_key, row.hash).encode()))
                    sent.append(producer.send(self.config.topic, key=canonical_id(row.originator_id).encode(),
                                              value=row.state, headers=headers))
            failpoints.reached("before-commit", producer.flush)  # fault tests only: sent, not yet committed
            self._bounded(producer.commit_transaction)
        except ProducerFencedError:
            raise
        except BaseException:
            try:
                self._bounded(producer.abort_transaction)
            except ProducerFencedError:  # the commit failed another way, but a newer writer exists
                raise ProducerFencedError() from None
            except Exception:  # the producer is reset by the caller; the topic is re-read before the next write
                self.stale = True
            raise
        positions: dict[int, int] = {}
        for future in sent:
            metadata = future.get(timeout=1)
            positions[metadata.partition] = max(positions.get(metadata.partition, 0), metadata.offset + 1)
        all_rows = [row for _, rows in accepted for row in rows]
        try:
            self.index.append(all_rows, positions)
            self._head = (all_rows[-1].seq, all_rows[-1].hash) if all_rows else self._head
        except Exception:
            self._head = None
            self.stale = True  # committed in Kafka; the index catches up before the next write
        for save, rows in accepted:
            save.done.set_result([row.seq for row in rows])

    def _bounded(self, call: Callable[[], None]) -> None:
        """Runs a transaction call that kafka-python may retry forever, for at most the client timeout.

        The call runs on the caller thread (one long-lived daemon thread, not one per call). On
        timeout the producer is abandoned (the caller resets it) and so is the caller thread, stuck
        in it: the next call gets a fresh one. The next writer's ``init_transactions()`` fences the
        abandoned producer and settles its transaction, and the topic is re-read.
        """
        with self._start_lock:
            if self._caller is None:
                self._caller = _Caller()
            caller = self._caller
        outcome = caller.run(call)
        try:
            outcome.result(timeout=self.config.client_timeout_ms / 1000)
        except FutureTimeout:
            with self._start_lock:
                if self._caller is caller:
                    self._caller = None
            caller.stop()  # it exits once the stuck call returns, if ever
            raise KafkaTimeoutError("no answer from the transaction coordinator") from None

    def _fail(self, batch: list[_Save], error: Exception) -> None:
        for save in batch:
            if not save.done.done():
                save.done.set_exception(error)

    def _reset_producer(self) -> None:
        self.stale = True
        self._head = None
        producer, self._producer = self._producer, None
        if producer is not None:
            threading.Thread(target=self._close_quietly, args=(producer,), daemon=True).start()

    @staticmethod
    def _close_quietly(producer: KafkaProducer) -> None:
        with contextlib.suppress(Exception):  # closing a broken producer must not hide the original error
            producer.close(timeout=1)
