"""``/v1/agencies``: an agency's service standards, course catalogue and funding; its state and history.

An agency is the social insurance agency of an area: a city (``Changsha``) or the province (``Hunan``).
Writes are the agency's own (an agency token whose scope value is the area): ``agency_established``
first, then ``standard_adopted`` / ``standard_revised`` / ``standard_retired``, ``course_offered``, and
``funding_allocated`` for a community of its city (the province funds every city), which is recorded on
that community's stream. Reads: every agency, community and auditor (standards are public policy);
viewers read the projections only.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Response
from starlette.concurrency import run_in_threadpool

from api.appending import append
from api.deps import AgencyWriterDep, CallerDep, IdempotencyKeyDep, LedgerDep
from api.presenters import events_response
from api.responses import AppendedOut, EventOut, problems
from api.schemas import AgencyEventIn
from ledger.access import Resource
from ledger.codec import to_plain
from ledger.domain.values import agency_uuid

router = APIRouter(prefix="/agencies", tags=["agencies"], responses=problems(401, 403, 404, 422))

AREA_PATTERN = r"^\w(?:[\w .'-]{0,62}[\w.])?$"
AreaPath = Annotated[str, Path(min_length=1, max_length=64, pattern=AREA_PATTERN,
                               description="a city name (Changsha) or the province (Hunan)")]


@router.post("/{area}/events", status_code=201, response_model=AppendedOut, responses=problems(400, 409, 413))
async def append_agency_event(
    area: AreaPath,
    body: Annotated[AgencyEventIn, Body()],
    writer: AgencyWriterDep,
    idempotency_key: IdempotencyKeyDep = None,
) -> Response:
    """Appends an agency event (see the module docstring). Agency tokens only, for their own area.

    ``funding_allocated`` answers with the community's stream (its code and version).
    """
    return await append(writer, body.to_command(area=area), expected_version=body.expected_version,
                        idempotency_key=idempotency_key)


@router.get("/{area}")
def get_agency(area: AreaPath, ledger: LedgerDep, caller: CallerDep) -> dict[str, Any]:
    """The agency now: its standards (every version, with the day it took effect) and courses."""
    caller.check_read(Resource.AGENCY, agency_area=area)
    agency = ledger.agency(area)
    state = {key: value for key, value in vars(agency).items() if not key.startswith("_")}
    return {"id": str(agency.id), "version": agency.version, **to_plain(state)}


@router.get("/{area}/history", response_model=list[EventOut])
async def agency_history(area: AreaPath, ledger: LedgerDep, caller: CallerDep) -> Response:
    """Every event of the agency, in order."""

    def page() -> Response:
        caller.check_read(Resource.AGENCY, agency_area=area)
        ledger.agency(area)
        return events_response(ledger.history(agency_uuid(area)), caller)

    return await run_in_threadpool(page)
