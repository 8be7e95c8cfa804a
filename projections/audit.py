"""Audit trail: every event of every retiree, in log order (DESIGN.md section 5).

Rows: ``("event", "RETIREE_ID|SEQ")`` (seq zero-padded so keys sort in log order), each with
``seq``, ``retiree_id``, ``version``, ``type``, ``timestamp`` (when it was recorded),
``recorded_by``, ``event_id``, ``business_date`` and ``facts``: the event's business fields
minus the personal fields ``ledger.privacy`` marks (names, ID numbers, dates of birth, sex and
free-text notes and comments never enter the view). The state as of a date or
version is the ledger's own fold (``Ledger.retiree(as_of=..., version=...)``).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from ledger.application import COMMON_FIELDS
from ledger.codec import to_plain
from ledger.domain.retiree import Retiree
from ledger.privacy import personal_fields
from projections.base import Rows, cell_key, stream_id

NAME = "audit"
SEQ_WIDTH = 12

def entry(seq: int, event: Retiree.Event) -> dict[str, Any]:
    """The audit row of one retiree event (no personal fields)."""
    kind = type(event).__name__
    left_out = _left_out(kind)
    facts = {key: value if type(value) in _AS_THEY_ARE else to_plain(value)
             for key, value in vars(event).items() if key not in left_out}
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


_NOT_FACTS = COMMON_FIELDS | {"recorded_by", "event_id"}  # what ``event_data`` leaves out
_AS_THEY_ARE = frozenset({str, int, bool, float, type(None)})  # ``to_plain`` returns them unchanged


@cache
def _left_out(kind: str) -> frozenset[str]:
    """The fields of an event of type ``kind`` that are not its facts: ``entry``'s ``facts`` is
    ``to_plain(without_personal(kind, event_data(event)))`` in one pass."""
    return _NOT_FACTS | personal_fields(kind)


class AuditView:
    """Per-retiree event lists for auditors: every retiree event, of any type (a new type needs no change
    here). Community and identity events are not part of it."""

    name = NAME
    version = 1

    def evolve(self, rows: Rows, event: object) -> None:
        if not isinstance(event, Retiree.Event):
            return
        seq = rows.seq
        rows.put("event", cell_key(stream_id(event), f"{seq:0{SEQ_WIDTH}d}"), entry(seq, event))
