"""Stored state sealed to its place: AES-GCM with associated data, and snapshots checked on load.

Every stored ciphertext (events and snapshots) is bound to where it belongs: the associated data
is the record's topic (so the kind of record: an event type, or a snapshot), its stream id and
version, and for a snapshot also the ``seq`` and chain hash of the event it folds up to, as the
log holds them. A blob copied onto another row, another stream, another version, or a snapshot
whose events were rewritten no longer decrypts.

Snapshots are a cache, never trusted more than the events: :class:`CheckedSnapshots` hands the
repository only snapshots that decrypt under that binding; any other is ignored (the stream is
replayed from its events), counted and logged by stream and version, never by content. Without
a data key nothing can authenticate a snapshot, so the ledger then takes and reads none.

Sealed bytes: ``b"scl1" + nonce (12) + ciphertext-with-tag``. Records written before sealing
(``nonce + tag + ciphertext``, no associated data) are still read.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.domain import Snapshot
from eventsourcing.persistence import EventStore, Mapper, StoredEvent, Transcoder
from eventsourcing.utils import resolve_topic

from ledger.errors import IntegrityViolationError
from ledger.eventlog.base import LogRecord

logger = logging.getLogger("ledger.sealing")

MAGIC = b"scl1"
NONCE = 12
Locate = Callable[[UUID, int], LogRecord | None]
"""The log's record of a stream at a version (for a snapshot's binding), or None."""


class SealError(IntegrityViolationError):
    """The stored bytes do not open under their place's binding (moved, altered or forged): the
    stream cannot be loaded, so nothing is decided on it (``ledger verify`` names the seq)."""


def is_snapshot(topic: str) -> bool:
    try:
        cls = resolve_topic(topic)
    except Exception:
        return False
    return isinstance(cls, type) and issubclass(cls, Snapshot)


class SealingMapper(Mapper[UUID]):
    """The library's mapper with the sealing above; ``key`` None stores plain bytes (no cipher)."""

    def __init__(self, transcoder: Transcoder, key: bytes | None, locate: Locate) -> None:
        super().__init__(transcoder=transcoder)
        self._aead = AESGCM(key) if key is not None else None
        self._locate = locate

    @property
    def seals(self) -> bool:
        return self._aead is not None

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        stored = super().to_stored_event(domain_event)
        return stored if self._aead is None else replace(stored, state=self.seal(stored))

    def seal(self, stored: StoredEvent) -> bytes:
        """The sealed bytes of ``stored`` (its state in plain) at its place."""
        assert self._aead is not None
        nonce = os.urandom(NONCE)
        return MAGIC + nonce + self._aead.encrypt(nonce, stored.state, self._binding(stored))

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        if self._aead is not None:
            stored_event = replace(stored_event, state=self.open(stored_event))
        return super().to_domain_event(stored_event)

    def open(self, stored: StoredEvent) -> bytes:
        """The plain bytes of ``stored``; ``SealError`` when they do not open where they are."""
        assert self._aead is not None
        state = stored.state
        try:
            if state.startswith(MAGIC):
                nonce, body = state[len(MAGIC):len(MAGIC) + NONCE], state[len(MAGIC) + NONCE:]
                return self._aead.decrypt(nonce, body, self._binding(stored))
            nonce, tag, body = state[:NONCE], state[NONCE:NONCE + 16], state[NONCE + 16:]
            return self._aead.decrypt(nonce, body + tag, None)  # written before sealing
        except (InvalidTag, ValueError):
            raise SealError(f"the stored state of {stored.originator_id} version {stored.originator_version} "
                            "does not open where it is stored") from None

    def _binding(self, stored: StoredEvent) -> bytes:
        stream = str(UUID(str(stored.originator_id)))
        parts = [stored.topic, stream, str(stored.originator_version)]
        if is_snapshot(stored.topic):
            folded = self._locate(UUID(stream), stored.originator_version)
            if folded is None:
                raise SealError(f"snapshot of {stream} version {stored.originator_version}: no such event")
            parts += [str(folded.id), folded.hash]
        return "\x1f".join(parts).encode()


class CheckedSnapshots(EventStore[UUID]):
    """The snapshot store the repository reads: only snapshots that open under their binding."""

    def __init__(self, mapper: SealingMapper, recorder: Any) -> None:
        super().__init__(mapper=mapper, recorder=recorder)
        self._lock = threading.Lock()
        self.rejected = 0

    def get(  # type: ignore[override]
        self, originator_id: UUID, *, gt: int | None = None, lte: int | None = None, desc: bool = False,
        limit: int | None = None, **_: Any,
    ) -> Iterator[Any]:
        records: Sequence[StoredEvent] = self.recorder.select_events(
            originator_id, gt=gt, lte=lte, desc=desc, limit=limit)
        for record in records:
            try:
                snapshot = self.mapper.to_domain_event(record)
            except Exception as error:  # moved, altered, or its events rewritten: replay instead
                with self._lock:
                    self.rejected += 1
                logger.warning("snapshot of %s at version %d ignored: %s", originator_id,
                               record.originator_version, type(error).__name__)
                continue
            yield snapshot
