"""Audit trail: every event of every retiree, in log order (DESIGN.md section 5).

Rows: ``("event", "RETIREE_ID|SEQ")`` (seq zero-padded so keys sort in log order), each with
``seq``, ``retiree_id``, ``version``, ``type``, ``timestamp`` (when it was recorded),
``recorded_by``, ``event_id``, ``business_date`` and ``facts``: the event's business fields
minus the personal fields ``ledger.privacy`` marks (names, ID numbers, dates of birth, sex and
free-text notes and comments never enter the view). The state as of a date or
version is the ledger's own fold (``Ledger.retiree(as_of=..., version=...)``).
"""

from __future__ import annotations

from typing import Any

from ledger.application import event_data
from ledger.codec import to_plain
from ledger.domain.retiree import Retiree
from ledger.privacy import without_personal
from projections.base import Rows, cell_key, stream_id

NAME = "audit"
SEQ_WIDTH = 12

def entry(seq: int, event: Retiree.Event) -> dict[str, Any]:
    """The audit row of one retiree event (no personal fields)."""
    kind = type(event).__name__
    facts = to_plain(without_personal(kind, event_data(event)))
    return {
        "seq": seq,
        "retiree_id": stream_id(event),
        "version": event.originator_version,
        "type": kind,
        "timestamp": event.timestamp.isoformat(),
        "recorded_by": event.recorded_by,
        "event_id": str(event.event_id),
        "business_date": event.business_date.isoformat(),
        "facts": facts,
    }


class AuditView:
    """Per-retiree event lists for auditors: every retiree event, of any type (a new type needs no change
    here). Community and identity events are not part of it."""

    name = NAME
    version = 1

    def evolve(self, rows: Rows, event: object) -> None:
        if not isinstance(event, Retiree.Event):
            return
        retiree_id = stream_id(event)
        rows.put("event", cell_key(retiree_id, f"{rows.seq:0{SEQ_WIDTH}d}"), entry(rows.seq, event))
