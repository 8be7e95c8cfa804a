"""``/v1/retirees``: enroll retirees, append their events, read state (now, as of, at a version) and history.

Writes: enrollments are the agency's; retiree events are the agency's or the community's, and
``Ledger.handle`` decides which (by event kind) and whether the retiree is in the caller's scope.
Reads: the retiree's CURRENT city and community decide (``ledger.access.check_read``), also for
past states; auditors read every retiree without personal fields, viewers none.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Body, Path, Query, Request, Response

from api.appending import append
from api.auth import Caller
from api.deps import AgencyDep, CallerDep, IdempotencyKeyDep, LedgerDep, WriterDep
from api.presenters import event_out, retiree_state
from api.responses import AppendedOut, EventOut, problems
from api.schemas import CanonicalUuid, EnrollIn, IsoDate, RetireeEventIn
from ledger.access import Resource
from ledger.application import Ledger
from ledger.domain.retiree import Retiree
from ledger.errors import InvalidInputError

router = APIRouter(prefix="/retirees", tags=["retirees"], responses=problems(401, 403, 404, 422))

RetireeIdPath = Annotated[CanonicalUuid, Path(description="the retiree's id, a UUID in canonical form")]


@router.post("", status_code=201, responses=problems(400, 409, 413))
def enroll(
    body: EnrollIn,
    ledger: LedgerDep,
    caller: AgencyDep,
    response: Response,
    idempotency_key: IdempotencyKeyDep = None,
) -> AppendedOut:
    """Enrolls a retiree (one enrollment per ID number); ``id`` in the answer is the new retiree id.

    Agency tokens only, for their own city.
    """
    return append(
        ledger,
        body.to_command(),
        caller=caller,
        expected_version=body.expected_version,
        idempotency_key=idempotency_key,
        response=response,
    )


@router.post("/{retiree_id}/events", status_code=201, responses=problems(400, 409, 413))
def append_retiree_event(
    retiree_id: RetireeIdPath,
    body: Annotated[RetireeEventIn, Body()],
    ledger: LedgerDep,
    caller: WriterDep,
    response: Response,
    idempotency_key: IdempotencyKeyDep = None,
) -> AppendedOut:
    """Appends one event (chosen by ``type``) to the retiree's stream, if the rules allow it.

    Agencies (the retiree's city): transfers, relocations, pension changes, suspensions and
    resumptions, death. Communities (managing the retiree now): services, ratings, certifications.
    """
    return append(
        ledger,
        body.to_command(retiree_id=retiree_id),
        caller=caller,
        expected_version=body.expected_version,
        idempotency_key=idempotency_key,
        response=response,
    )


def readable_retiree(ledger: Ledger, retiree_id: UUID, caller: Caller, resource: Resource) -> Retiree:
    """The retiree now (404 if unknown), once ``caller`` may read ``resource`` about them (else 403)."""
    retiree = ledger.retiree(retiree_id)
    caller.check_read(resource, retiree_city=retiree.city, retiree_community=retiree.community)
    return retiree


@router.get("/{retiree_id}")
def get_retiree(
    retiree_id: RetireeIdPath,
    ledger: LedgerDep,
    caller: CallerDep,
    as_of: Annotated[IsoDate | None, Query(description="state as of this business date (YYYY-MM-DD)")] = None,
    version: Annotated[int | None, Query(ge=1, le=10**9, description="state at this stream version")] = None,
) -> dict[str, Any]:
    """The retiree now, ``as_of`` a business date, or at a ``version`` (not both)."""
    if as_of is not None and version is not None:
        raise InvalidInputError("give either as_of or version, not both")
    retiree = readable_retiree(ledger, retiree_id, caller, Resource.RETIREE)
    if as_of is not None or version is not None:
        retiree = ledger.retiree(retiree_id, version=version, as_of=as_of)
    return retiree_state(retiree, caller)


NEXT_LINK = {"Link": {"description": 'the next page (RFC 8288, rel="next"); absent on the last page',
                      "schema": {"type": "string"}}}


@router.get("/{retiree_id}/history", responses={200: {"headers": NEXT_LINK}})
def retiree_history(
    retiree_id: RetireeIdPath,
    ledger: LedgerDep,
    caller: CallerDep,
    request: Request,
    response: Response,
    after_version: Annotated[int, Query(ge=0, le=10**9, description="return events with version > after_version")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="at most this many events")] = 100,
) -> list[EventOut]:
    """The retiree's events in version order, with seq, version, author, event id and hashes, a page at a time.

    At most ``limit`` events (default 100, at most 1000) with a version above ``after_version``
    (default 0: from the first). When more follow, the ``Link`` header names the next page (RFC 8288):
    ``Link: </v1/retirees/{retiree_id}/history?after_version=V&limit=L>; rel="next"``, where V is the
    last version of this page; the last page has no ``Link``. Past the last version the list is empty.
    """
    readable_retiree(ledger, retiree_id, caller, Resource.HISTORY)
    entries = ledger.history(retiree_id, after_version=after_version, limit=limit + 1)  # one more: is there a next?
    if len(entries) > limit:
        entries = entries[:limit]
        query = urlencode({"after_version": entries[-1].version, "limit": limit})
        response.headers["Link"] = f'<{request.url.path}?{query}>; rel="next"'
    return [event_out(entry, caller) for entry in entries]
