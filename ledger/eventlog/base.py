"""The event-log contract shared by every backend (DESIGN.md section 3).

Both backends are ``eventsourcing`` application recorders and add:

* a dense global sequence: ``seq`` (the notification id) is 1, 2, 3 ... with no gaps;
* an event id per stored event, unique in the ledger: appending an event id seen before
  raises ``IntegrityError`` and writes nothing, and ``find_event`` returns the original;
* the hash chain (DESIGN.md section 4): every record carries ``prev_hash`` and ``hash``,
  computed by ``ledger.integrity.link_hash`` over the stored bytes in the same transaction;
* ``select_stream`` returns one stream's records (or a page of them) with their ``seq`` and hashes, ``record_at``
  one of them.

``insert_events(stored_events, event_ids=[...])`` is atomic: every event or none. A stream
version that exists already raises ``IntegrityError`` (the optimistic-concurrency check). A recorder
whose ``checks_unchanged`` is true also takes ``unchanged={stream id: version}``: streams the decision
only read, refused with ``IntegrityError`` if any holds a later version when the events would be
written (the SQLite log; the Kafka writer does not, so its commands decide on fresh loads).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent

GENESIS_HASH = "0" * 64
Row = tuple[int, str, int, str, bytes, "str | None", str, str]
"""``(seq, canonical stream id, version, topic, state, event_id, prev_hash, hash)``."""
T = TypeVar("T")
Node = Callable[[int, int], bytes]


SHARES = (1, 2, 4, 8, 16)
"""How many shares the streams may be split into (``stream_share``): the divisors of 16."""


def stream_share(stream: UUID, shares: int) -> int:
    """Which of ``shares`` shares a stream belongs to: its id's last hex digit modulo ``shares`` (a split
    rebuild folds each share in its own process; every event of a stream falls in the same share)."""
    return (stream.int & 15) % shares


def share_digits(share: int, shares: int) -> str:
    """The last hex digits of the stream ids in ``share`` of ``shares``."""
    if shares not in SHARES or not 0 <= share < shares:
        raise ValueError(f"share {share} of {shares}: shares must be one of {SHARES}")
    return "".join(digit for digit in "0123456789abcdef" if int(digit, 16) % shares == share)


@dataclass(frozen=True)
class LogRecord(Notification):
    """A stored event at its place in the global sequence (``id`` is the ``seq``)."""

    event_id: str | None
    prev_hash: str
    hash: str

    @property
    def seq(self) -> int:
        return self.id


@runtime_checkable
class EventLog(Protocol):
    """What the ledger needs from a recorder, beyond ``eventsourcing.ApplicationRecorder``."""

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None: ...

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]: ...

    def max_notification_id(self) -> int | None: ...

    def find_event(self, event_id: str) -> LogRecord | None: ...

    def select_stream(
        self, originator_id: UUID | str, *, gt: int | None = None, limit: int | None = None
    ) -> list[LogRecord]:
        """One stream's records in version order: those with a version above ``gt``, at most ``limit``."""
        ...

    def record_at(self, originator_id: UUID | str, version: int) -> LogRecord | None:
        """The record of a stream at a version (None if the stream has no such version)."""
        ...

    def merkle(self, work: Callable[[Node, int], T]) -> T:
        """Runs ``work(node, tree_size)`` on one consistent read of the log's Merkle tree
        (``ledger.integrity.merkle``), which grows in the same transaction as the log."""
        ...

    def raw_rows(self, after: int = 0, batch: int = 10_000) -> Iterator[Row]:
        """Every record with ``seq > after`` in seq order as a plain ``Row`` tuple, read in batches:
        no UUID or record objects (what verification streams)."""
        ...


def canonical_id(originator_id: UUID | str) -> str:
    """The form of a stream id that is hashed and exported (UUIDs with dashes)."""
    return str(originator_id)


def as_rows(records: Iterator[LogRecord] | Sequence[LogRecord]) -> Iterator[Row]:
    """``LogRecord``s as ``Row`` tuples (for logs read another way, e.g. a Kafka topic)."""
    for r in records:
        yield (r.id, canonical_id(r.originator_id), r.originator_version, r.topic, r.state, r.event_id,
               r.prev_hash, r.hash)
