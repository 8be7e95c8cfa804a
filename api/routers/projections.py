"""``/v1/projections``: the dashboards' views (workload, satisfaction, pension roll, standards), their status.

Every role may read them (they hold community figures, no personal data); a token is required.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import CallerDep, RunnerDep, StoreDep
from api.responses import ProjectionsStatusOut, RowsOut, ViewStatusOut, problems
from api.schemas import CODE_PATTERN
from ledger.access import Resource
from projections import queries


def may_read_projections(caller: CallerDep) -> None:
    caller.check_read(Resource.PROJECTIONS)


router = APIRouter(
    prefix="/projections",
    tags=["projections"],
    responses=problems(401, 403, 422),
    dependencies=[Depends(may_read_projections)],
)


def filters(
    community: Annotated[str | None, Query(max_length=64, pattern=CODE_PATTERN)] = None,
    city: Annotated[str | None, Query(max_length=64)] = None,
    month_from: Annotated[str | None, Query(max_length=7, description="YYYY-MM, inclusive")] = None,
    month_to: Annotated[str | None, Query(max_length=7, description="YYYY-MM, inclusive")] = None,
    service_type: Annotated[str | None, Query(max_length=64)] = None,
) -> queries.Filters:
    """The query filters; a malformed month is a 422 ``invalid-input`` (raised by ``Filters``)."""
    return queries.Filters(
        community=community, city=city, month_from=month_from, month_to=month_to, service_type=service_type
    )


FiltersDep = Annotated[queries.Filters, Depends(filters)]


@router.get("/workload")
def workload(store: StoreDep, f: FiltersDep) -> RowsOut:
    """Community x month: managed retirees, transfers, services, minutes, staff (DESIGN.md section 5)."""
    return RowsOut(rows=queries.workload(store, f))


@router.get("/satisfaction")
def satisfaction(store: StoreDep, f: FiltersDep) -> RowsOut:
    """Community x service type x month: count, mean and distribution of scores."""
    return RowsOut(rows=queries.satisfaction(store, f))


@router.get("/pensions")
def pensions(store: StoreDep, f: FiltersDep) -> RowsOut:
    """Community x month: total monthly pension at month end, adjustments and their sum."""
    return RowsOut(rows=queries.pensions(store, f))


@router.get("/standards")
def standards(store: StoreDep, f: FiltersDep) -> RowsOut:
    """Community x year: share certified, share of retirees aged 80+ visited in the last quarter."""
    return RowsOut(rows=queries.standards(store, f))


@router.get("/status")
def status(runner: RunnerDep) -> ProjectionsStatusOut:
    """Per view: code version, stored position, log head and lag (head - position)."""
    return ProjectionsStatusOut(
        views=[
            ViewStatusOut(
                name=s.name,
                version=s.version,
                stored_version=s.stored_version,
                position=s.position,
                head=s.head,
                lag=s.lag,
            )
            for s in runner.status()
        ]
    )
