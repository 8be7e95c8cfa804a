"""Audit trail: every event of every retiree, in log order (DESIGN.md section 5).

Rows: ``("event", "RETIREE_ID|SEQ")`` (seq zero-padded so keys sort in log order), each with
``version``, ``type``, ``timestamp`` (when it was recorded), ``recorded_by``, ``event_id``,
``business_date`` and ``facts``: the event's business fields minus the personal fields
``ledger.privacy`` marks (names, ID numbers, dates of birth, sex and free-text notes and comments
never enter the view). The key holds the retiree and the seq; ``projections.queries.audit_trail``
puts them back in front of each entry (version 1 stored them in the row too: a fifth of its bytes).
Dates, times and UUIDs go to the rows as they are: the rows' JSON encoder writes them in the ISO
and canonical forms ``to_plain`` gives. The state as of a date or version is the ledger's own fold
(``Ledger.retiree(as_of=..., version=...)``).
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from typing import Any
from uuid import UUID

from ledger.application import COMMON_FIELDS
from ledger.codec import to_plain
from ledger.domain.retiree import Retiree
from ledger.privacy import personal_fields
from projections.base import Rows, cell_key, stream_id

NAME = "audit"
SEQ_WIDTH = 12

def entry(seq: int, event: Retiree.Event) -> dict[str, Any]:
    """The audit trail's entry of one retiree event (no personal fields), as ``audit_trail`` answers it."""
    return to_plain({"seq": seq, "retiree_id": stream_id(event), **stored(event)})  # type: ignore[no-any-return]


def stored(event: Retiree.Event) -> dict[str, Any]:
    """The row the view stores for one retiree event (orjson writes its dates, times and UUIDs)."""
    kind = type(event).__name__
    left_out = _left_out(kind)
    return {
        "version": event.originator_version,
        "type": kind,
        "timestamp": event.timestamp,
        "recorded_by": event.recorded_by,
        "event_id": event.event_id,
        "business_date": event.business_date,
        "facts": {key: value if type(value) in _AS_THEY_ARE else to_plain(value)
                  for key, value in vars(event).items() if key not in left_out},
    }


_NOT_FACTS = COMMON_FIELDS | {"recorded_by", "event_id"}  # what ``event_data`` leaves out
_AS_THEY_ARE = frozenset({str, int, bool, float, type(None), date, datetime, UUID})
"""Values the rows take as they are: ``to_plain`` returns the first unchanged, and orjson writes dates, times
and UUIDs as ``to_plain`` does (ISO forms, canonical UUID text)."""


@cache
def _left_out(kind: str) -> frozenset[str]:
    """The fields of an event of type ``kind`` that are not its facts: ``entry``'s ``facts`` is
    ``to_plain(without_personal(kind, event_data(event)))`` in one pass."""
    return _NOT_FACTS | personal_fields(kind)


class AuditView:
    """Per-retiree event lists for auditors: every retiree event, of any type (a new type needs no change
    here). Community and identity events are not part of it."""

    name = NAME
    version = 2

    def evolve(self, rows: Rows, event: object) -> None:
        if not isinstance(event, Retiree.Event):
            return
        rows.put("event", cell_key(stream_id(event), f"{rows.seq:0{SEQ_WIDTH}d}"), stored(event))
