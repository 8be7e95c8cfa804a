"""The IdempotencyClaim aggregate: what an ``Idempotency-Key`` first answered, so a reuse can be judged.

Its id derives from the key (scoped to the principal) and it is saved atomically with the events
of the request it answered, carrying the request's fingerprint (a digest of the command: its kind,
its target and every field, and the expected version). A repeat with the same fingerprint is a
replay; one with another fingerprint is refused and appends nothing (the IETF Idempotency-Key
draft's semantics). Nothing personal is stored: the fingerprint is a SHA-256 digest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from eventsourcing.domain import Aggregate


class IdempotencyClaim(Aggregate):
    class KeyClaimed(Aggregate.Created):
        PERSONAL = frozenset[str]()
        fingerprint: str
        recorded_by: str
        event_id: UUID

        def apply(self, claim: IdempotencyClaim) -> None:
            claim.fingerprint = self.fingerprint

    if TYPE_CHECKING:
        fingerprint: str

    @classmethod
    def claim(cls, *, claim_id: UUID, fingerprint: str, recorded_by: str, event_id: UUID) -> IdempotencyClaim:
        return cls._create(cls.KeyClaimed, id=claim_id, fingerprint=fingerprint, recorded_by=recorded_by,
                           event_id=event_id)
