"""``/v1/log``: the global event log from a position, in pages (auditors only, personal fields redacted)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import CallerDep, LedgerDep
from api.presenters import event_out
from api.responses import LogPage, problems
from ledger.access import Resource

router = APIRouter(tags=["log"], responses=problems(401, 403, 422))


@router.get("/log")
def read_log(
    ledger: LedgerDep,
    caller: CallerDep,
    after: Annotated[int, Query(ge=0, le=2**62, description="return events with seq > after")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> LogPage:
    """At most ``limit`` events with ``seq > after``, in seq order; pass ``next_after`` to go on."""
    caller.check_read(Resource.LOG)
    events = [event_out(ledger.entry(record), caller) for record in ledger.read_log(after=after, limit=limit)]
    return LogPage(events=events, next_after=events[-1].seq if events else after)
