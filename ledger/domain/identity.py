"""The IdentityClaim aggregate: one per national ID number, so one enrollment per person.

Its id is derived from a keyed hash of the ID number (computed outside the domain), so the
number itself is never the key. Enrolling saves the claim and the Retiree atomically: a
second enrollment of the same person conflicts on the claim and nothing is written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from eventsourcing.domain import Aggregate


class IdentityClaim(Aggregate):
    class Claimed(Aggregate.Created):
        PERSONAL = frozenset[str]()
        retiree_id: UUID
        recorded_by: str
        event_id: UUID

        def apply(self, claim: IdentityClaim) -> None:
            claim.retiree_id = self.retiree_id

    if TYPE_CHECKING:
        retiree_id: UUID

    @classmethod
    def claim(cls, *, claim_id: UUID, retiree_id: UUID, recorded_by: str, event_id: UUID) -> IdentityClaim:
        return cls._create(cls.Claimed, id=claim_id, retiree_id=retiree_id, recorded_by=recorded_by, event_id=event_id)
