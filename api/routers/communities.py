"""``/v1/communities``: register communities, record staff events, read state and history.

Writes: registrations are the agency's (its city); staff events the community's own. Reads: an
agency reads the communities of its city, a community its own, an auditor all (staff names
redacted), a viewer none.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Response
from starlette.concurrency import run_in_threadpool

from api.appending import append
from api.auth import Caller
from api.deps import AgencyWriterDep, CallerDep, CommunityWriterDep, IdempotencyKeyDep, LedgerDep
from api.presenters import community_state, events_response
from api.responses import AppendedOut, EventOut, problems
from api.schemas import CODE_PATTERN, CommunityEventIn, RegisterCommunityIn
from ledger.access import Resource
from ledger.application import Ledger
from ledger.domain.community import Community
from ledger.domain.values import community_uuid

router = APIRouter(prefix="/communities", tags=["communities"], responses=problems(401, 403, 404, 422))

CodePath = Annotated[str, Path(min_length=1, max_length=64, pattern=CODE_PATTERN, description="community code")]


@router.post("", status_code=201, response_model=AppendedOut, responses=problems(400, 409, 413))
async def register_community(
    body: RegisterCommunityIn,
    writer: AgencyWriterDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> Response:
    """Registers a community; its code is its public id. A code registered twice is a 409.

    Agency tokens only, for their own city.
    """
    return await append(writer, body.to_command(), expected_version=body.expected_version,
                        idempotency_key=idempotency_key)


@router.post("/{code}/events", status_code=201, response_model=AppendedOut, responses=problems(400, 409, 413))
async def append_community_event(
    code: CodePath,
    body: Annotated[CommunityEventIn, Body()],
    writer: CommunityWriterDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> Response:
    """Appends ``staff_joined``, ``staff_left``, ``staff_trained``, ``enrolled_in_course``, ``course_completed``,
    ``qualification_obtained`` or ``facility_recorded`` to the community (funding: ``/v1/agencies``).

    Community tokens only, for their own community.
    """
    return await append(writer, body.to_command(community=code), expected_version=body.expected_version,
                        idempotency_key=idempotency_key)


def readable_community(ledger: Ledger, code: str, caller: Caller, resource: Resource) -> Community:
    """The community (404 if unknown), once ``caller`` may read ``resource`` about it (else 403)."""
    community = ledger.community(code)
    caller.check_read(resource, community=code, community_city=community.city)
    return community


@router.get("/{code}")
def get_community(code: CodePath, ledger: LedgerDep, caller: CallerDep) -> dict[str, Any]:
    """The community now, with its staff."""
    return community_state(readable_community(ledger, code, caller, Resource.COMMUNITY), caller)


@router.get("/{code}/history", response_model=list[EventOut])
async def community_history(code: CodePath, ledger: LedgerDep, caller: CallerDep) -> Response:
    """Every event of the community, in order."""

    def page() -> Response:
        readable_community(ledger, code, caller, Resource.HISTORY)
        return events_response(ledger.history(community_uuid(code)), caller)

    return await run_in_threadpool(page)
