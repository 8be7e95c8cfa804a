"""Audit trail: every event of every retiree, in log order (DESIGN.md section 5).

Rows: ``("event", "RETIREE_ID|SEQ")`` (seq zero-padded so keys sort in log order), each with
``seq``, ``retiree_id``, ``version``, ``type``, ``timestamp`` (when it was recorded),
``recorded_by``, ``event_id``, ``business_date`` and ``facts``: the event's business fields
minus personal data. Only the fields listed in ``FACTS`` are kept (names, ID numbers, dates of
birth, sex and free-text notes and comments never enter the view). The state as of a date or
version is the ledger's own fold (``Ledger.retiree(as_of=..., version=...)``).
"""

from __future__ import annotations

from typing import Any

from ledger.codec import to_plain
from ledger.domain.retiree import Retiree
from projections.base import Rows, UnknownEventError, cell_key

NAME = "audit"
SEQ_WIDTH = 12

FACTS: dict[str, tuple[str, ...]] = {
    "Enrolled": ("danwei_code", "danwei_name", "retirement_date", "monthly_pension", "agency", "city", "district"),
    "TransferredToCommunity": (
        "from_danwei", "community", "effective_date", "personnel_file", "socialized_payment", "contact_card",
        "party_relation", "approved_by",
    ),
    "Relocated": ("from_community", "to_community", "effective_date", "reason"),
    "PensionAdjusted": ("previous_amount", "new_amount", "effective_month", "reason", "policy_reference"),
    "EligibilityCertified": ("year", "method", "certified_on"),
    "PensionSuspended": ("effective_month", "reason"),
    "PensionResumed": ("effective_month", "reason", "back_pay"),
    "ServiceDelivered": ("service_id", "community", "service_type", "delivered_on", "staff_id", "duration_minutes"),
    "SatisfactionRated": ("service_id", "score", "rated_on", "channel"),
    "Deceased": ("date_of_death", "reported_by"),
}


def entry(seq: int, event: Retiree.Event) -> dict[str, Any]:
    """The audit row of one retiree event (no personal fields)."""
    kind = type(event).__name__
    facts = {field: to_plain(getattr(event, field)) for field in FACTS[kind]}
    return {
        "seq": seq,
        "retiree_id": str(event.originator_id),
        "version": event.originator_version,
        "type": kind,
        "timestamp": event.timestamp.isoformat(),
        "recorded_by": event.recorded_by,
        "event_id": str(event.event_id),
        "business_date": event.business_date.isoformat(),
        "facts": facts,
    }


class AuditView:
    """Per-retiree event lists for auditors. Community and identity events are not part of it."""

    name = NAME
    version = 1

    def evolve(self, rows: Rows, event: object) -> None:
        if not isinstance(event, Retiree.Event):
            return
        if type(event).__name__ not in FACTS:
            raise UnknownEventError(f"view {self.name!r} does not know the event type {type(event).__name__}")
        retiree_id = str(event.originator_id)
        rows.put("event", cell_key(retiree_id, f"{rows.seq:0{SEQ_WIDTH}d}"), entry(rows.seq, event))
