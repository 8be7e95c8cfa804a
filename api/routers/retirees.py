"""``/v1/retirees``: enroll retirees, append their events, read state (now, as of, at a version) and history;
find retirees (the directory list, lookup by ID number).

Writes: enrollments are the agency's; retiree events are the agency's or the community's, and
``Ledger.handle`` decides which (by event kind) and whether the retiree is in the caller's scope.
Reads: the retiree's CURRENT city and community decide (``ledger.access.check_read``), also for
past states; auditors read every retiree without personal fields, viewers none. The directory
(``GET /v1/retirees``) is a view without personal data: each caller lists the retirees of its scope
(``ledger.access.listed_retirees``). Names are encrypted at rest and not searchable; a retiree is found
by ID number (``POST /v1/retirees/lookup``, through the keyed hash).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Body, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from api.appending import append
from api.auth import Caller
from api.deps import (
    AgencyWriterDep,
    CallerDep,
    IdempotencyKeyDep,
    LedgerDep,
    ServicesDep,
    StoreDep,
    WriterDep,
)
from api.presenters import events_response, retiree_state
from api.reading import MinSeq, caught_up
from api.responses import AppendedOut, DirectoryEntryOut, EventOut, RetireeFoundOut, RetireesPageOut, problems
from api.schemas import CODE_PATTERN, UUID_PATTERN, CanonicalUuid, EnrollIn, IsoDate, LookupIn, RetireeEventIn
from ledger.access import Resource, Role
from ledger.application import Ledger
from ledger.domain.retiree import Retiree
from ledger.domain.values import PensionStatus, Stage
from ledger.errors import AccessDeniedError, InvalidInputError, NotFoundError
from projections import directory

router = APIRouter(prefix="/retirees", tags=["retirees"], responses=problems(401, 403, 404, 422))

RetireeIdPath = Annotated[CanonicalUuid, Path(description="the retiree's id, a UUID in canonical form")]


@router.post("", status_code=201, response_model=AppendedOut, responses=problems(400, 409, 413))
async def enroll(
    body: EnrollIn,
    writer: AgencyWriterDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> Response:
    """Enrolls a retiree (one enrollment per ID number); ``id`` in the answer is the new retiree id.

    Agency tokens only, for their own city.
    """
    return await append(writer, body.to_command(), expected_version=body.expected_version,
                        idempotency_key=idempotency_key)


@router.post("/{retiree_id}/events", status_code=201, response_model=AppendedOut, responses=problems(400, 409, 413))
async def append_retiree_event(
    retiree_id: RetireeIdPath,
    body: Annotated[RetireeEventIn, Body()],
    writer: WriterDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> Response:
    """Appends one event (chosen by ``type``) to the retiree's stream, if the rules allow it.

    Agencies (the retiree's city): transfers, relocations, pension changes, suspensions and
    resumptions, death. Communities (managing the retiree now): services, ratings, certifications.
    """
    return await append(writer, body.to_command(retiree_id=retiree_id), expected_version=body.expected_version,
                        idempotency_key=idempotency_key)


@router.get("")
def list_retirees(
    store: StoreDep,
    services: ServicesDep,
    caller: CallerDep,
    response: Response,
    city: Annotated[str | None, Query(max_length=64, description="the retiree's city")] = None,
    community: Annotated[str | None, Query(max_length=64, pattern=CODE_PATTERN,
                                           description="the managing community now (its code)")] = None,
    stage: Annotated[Stage | None, Query()] = None,
    pension_status: Annotated[PensionStatus | None, Query()] = None,
    cursor: Annotated[str | None, Query(pattern=UUID_PATTERN, description="the ``next`` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="at most this many retirees")] = 100,
    min_seq: MinSeq = None,
) -> RetireesPageOut:
    """The retiree directory, sorted by retiree id, a page at a time: id, city, district, managing community,
    stage, pension status, retirement date (no name, no ID number).

    Only retirees in the caller's scope: an agency's city, a community's own retirees (managed now);
    auditors and viewers all. Filters are exact; every one given must match. Pass the answer's ``next``
    as ``cursor`` for the next page (``next`` is null on the last page). Read-your-writes as the
    projection reads (``Ledger-Min-Seq``, ``Ledger-Position``, ``Ledger-Lag``).
    """
    position, lag = caught_up(directory.NAME, services, response, min_seq)
    wanted = {"city": city, "community": community, "stage": stage, "pension_status": pension_status}
    found = directory.page(store, wanted, after=cursor, limit=limit, within=caller.listed_retirees())
    return RetireesPageOut(retirees=[DirectoryEntryOut(**row) for row in found.rows], next=found.next,
                           position=position, lag=lag)


@router.post("/lookup")
def lookup_retiree(body: LookupIn, ledger: LedgerDep, caller: CallerDep) -> RetireeFoundOut:
    """The retiree an ID number belongs to, found through the keyed hash (the number is never stored or
    logged). 404 when no retiree has it or when the caller may not read that retiree (the answer does
    not say which); viewers may not look retirees up (403)."""
    caller.require_role(Role.AGENCY, Role.COMMUNITY, Role.AUDITOR)
    retiree_id = ledger.find_retiree(body.id_number)
    unknown = NotFoundError("no retiree with this ID number that you may read")
    if retiree_id is None:
        raise unknown
    try:
        readable_retiree(ledger, retiree_id, caller, Resource.RETIREE)
    except (AccessDeniedError, NotFoundError):
        raise unknown from None
    return RetireeFoundOut(retiree_id=str(retiree_id))


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


@router.get("/{retiree_id}/history", response_model=list[EventOut], responses={200: {"headers": NEXT_LINK}})
async def retiree_history(
    retiree_id: RetireeIdPath,
    ledger: LedgerDep,
    caller: CallerDep,
    request: Request,
    after_version: Annotated[int, Query(ge=0, le=10**9, description="return events with version > after_version")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="at most this many events")] = 100,
) -> Response:
    """The retiree's events in version order, with seq, version, author, event id and hashes, a page at a time.

    At most ``limit`` events (default 100, at most 1000) with a version above ``after_version``
    (default 0: from the first). When more follow, the ``Link`` header names the next page (RFC 8288):
    ``Link: </v1/retirees/{retiree_id}/history?after_version=V&limit=L>; rel="next"``, where V is the
    last version of this page; the last page has no ``Link``. Past the last version the list is empty.
    """

    def page() -> Response:  # on the thread pool (api.presenters.events_response)
        readable_retiree(ledger, retiree_id, caller, Resource.HISTORY)
        entries = ledger.history(retiree_id, after_version=after_version, limit=limit + 1)  # one more: a next?
        headers = None
        if len(entries) > limit:
            entries = entries[:limit]
            query = urlencode({"after_version": entries[-1].version, "limit": limit})
            headers = {"Link": f'<{request.url.path}?{query}>; rel="next"'}
        return events_response(entries, caller, headers)

    return await run_in_threadpool(page)
