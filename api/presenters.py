"""Aggregates and history entries into JSON-ready response shapes (via ``ledger.codec.to_plain``).

Every shape passes through ``Caller.shown`` with the personal fields that ``ledger.privacy``
marks (the one redaction rule): a retiree's state, a staff member in a community's state, and the
data of every event. Roles that may not see personal data (auditors, viewers) get ``"***"``.
"""

from __future__ import annotations

from typing import Any

from api.auth import Caller
from api.responses import EventOut
from ledger.application import HistoryEntry
from ledger.codec import to_plain
from ledger.domain.community import Community
from ledger.domain.retiree import Retiree
from ledger.privacy import RETIREE_STATE, STAFF_STATE, personal_fields


def _public_state(aggregate: Retiree | Community) -> dict[str, Any]:
    return {key: value for key, value in vars(aggregate).items() if not key.startswith("_")}


def retiree_state(retiree: Retiree, caller: Caller) -> dict[str, Any]:
    """The retiree's folded state: ``id``, ``version`` and every state field of the aggregate."""
    state = {"id": str(retiree.id), "version": retiree.version, **to_plain(_public_state(retiree))}
    return caller.shown(state, RETIREE_STATE)


def community_state(community: Community, caller: Caller) -> dict[str, Any]:
    """The community with its staff as a list (each with its stints and whether active now)."""
    state = _public_state(community)
    staff = [
        caller.shown({"staff_id": staff_id, **to_plain(member), "active": member["stints"][-1][1] is None},
                     STAFF_STATE)
        for staff_id, member in sorted(state.pop("staff").items())
    ]
    return {"id": str(community.id), "version": community.version, **to_plain(state), "staff": staff}


def event_out(entry: HistoryEntry, caller: Caller) -> EventOut:
    data = to_plain(entry.data)
    return EventOut(
        seq=entry.seq,
        stream=entry.stream,
        version=entry.version,
        type=entry.type,
        timestamp=entry.timestamp.isoformat(),
        recorded_by=entry.recorded_by,
        event_id=entry.event_id,
        data=caller.shown(data, personal_fields(entry.type)),
        prev_hash=entry.prev_hash,
        hash=entry.hash,
    )
