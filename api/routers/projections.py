"""``/v1/projections``: the dashboards' views (workload, satisfaction, pension roll, standards, compliance,
training, funding), their status.

Every role may read them (they hold community figures, no personal data); a token is required.
Read-your-writes: a read first waits (bounded, ``runtime.bootstrap.READ_WAIT_S``) until the view has
applied the log up to its head as it stood when the read arrived, or up to the ``Ledger-Min-Seq``
the client names (the ``seq`` a POST answered). The answer states where the view stands
(``position``, ``lag``, also as headers ``Ledger-Position`` and ``Ledger-Lag``): never silently stale.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import WithJsonSchema

from api.deps import CallerDep, RunnerDep, ServicesDep, StoreDep
from api.reading import MinSeq, caught_up
from api.responses import ProjectionsStatusOut, RowsOut, ViewStatusOut, problems
from api.schemas import CODE_PATTERN
from ledger.access import Resource
from ledger.domain.values import MONTH_PATTERN
from ledger.errors import InvalidInputError
from projections import compliance as compliance_view
from projections import funding as funding_view
from projections import queries
from projections import training as training_view
from projections.satisfaction import OVERALL
from runtime.bootstrap import Services


def may_read_projections(caller: CallerDep) -> None:
    caller.check_read(Resource.PROJECTIONS)


router = APIRouter(
    prefix="/projections",
    tags=["projections"],
    responses=problems(401, 403, 422),
    dependencies=[Depends(may_read_projections)],
)


SERVICE_TYPES = [*queries.SERVICE_TYPES, OVERALL]
Month = Annotated[str | None, Query(pattern=MONTH_PATTERN.pattern, description="YYYY-MM, inclusive")]


def filters(
    community: Annotated[str | None, Query(max_length=64, pattern=CODE_PATTERN)] = None,
    city: Annotated[str | None, Query(max_length=64)] = None,
    month_from: Month = None,
    month_to: Month = None,
    service_type: Annotated[str | None, Query(), WithJsonSchema({"type": "string", "enum": SERVICE_TYPES})] = None,
) -> queries.Filters:
    """The query filters. A malformed month is a 422 ``validation-error``; ``month_from`` after ``month_to`` and
    an unknown service type are 422 ``invalid-input`` (raised by ``Filters``, which also knows the types)."""
    return queries.Filters(
        community=community, city=city, month_from=month_from, month_to=month_to, service_type=service_type
    )


FiltersDep = Annotated[queries.Filters, Depends(filters)]


def untyped_filters(
    request: Request,
    community: Annotated[str | None, Query(max_length=64, pattern=CODE_PATTERN)] = None,
    city: Annotated[str | None, Query(max_length=64)] = None,
    month_from: Month = None,
    month_to: Month = None,
) -> queries.Filters:
    """The filters of a view without service types: a ``service_type`` given anyway is refused (422
    ``invalid-input``), never silently ignored."""
    if "service_type" in request.query_params:
        raise InvalidInputError("this view has no service_type dimension (only /v1/projections/satisfaction has)")
    return filters(community, city, month_from, month_to)


UntypedDep = Annotated[queries.Filters, Depends(untyped_filters)]
def rows_of(view: str, rows: Callable[[], list[dict[str, Any]]], services: Services, response: Response,
            min_seq: int | None) -> RowsOut:
    """The view's rows once it caught up with the log head seen now (or ``min_seq``), with its lag."""
    position, lag = caught_up(view, services, response, min_seq)
    return RowsOut(rows=rows(), position=position, lag=lag)


@router.get("/workload")
def workload(store: StoreDep, f: UntypedDep, services: ServicesDep, response: Response,
             min_seq: MinSeq = None) -> RowsOut:
    """Community x month: managed retirees, transfers, services, minutes, staff (DESIGN.md section 5)."""
    return rows_of("workload", lambda: queries.workload(store, f), services, response, min_seq)


@router.get("/satisfaction")
def satisfaction(store: StoreDep, f: FiltersDep, services: ServicesDep, response: Response,
                 min_seq: MinSeq = None) -> RowsOut:
    """Community x service type x month: count, mean and distribution of scores."""
    return rows_of("satisfaction", lambda: queries.satisfaction(store, f), services, response, min_seq)


@router.get("/pensions")
def pensions(store: StoreDep, f: UntypedDep, services: ServicesDep, response: Response,
             min_seq: MinSeq = None) -> RowsOut:
    """Community x month: total monthly pension at month end, adjustments and their sum."""
    return rows_of("pensions", lambda: queries.pensions(store, f), services, response, min_seq)


@router.get("/standards")
def standards(store: StoreDep, f: UntypedDep, services: ServicesDep, response: Response,
              min_seq: MinSeq = None) -> RowsOut:
    """Community x year: share certified, share of retirees aged 80+ visited in the last quarter."""
    return rows_of("standards", lambda: queries.standards(store, f), services, response, min_seq)


def _years(f: queries.Filters) -> dict[str, int | None]:
    return {"year_from": int(f.month_from[:4]) if f.month_from else None,
            "year_to": int(f.month_to[:4]) if f.month_to else None}


@router.get("/compliance")
def compliance(store: StoreDep, f: UntypedDep, services: ServicesDep, response: Response,
               min_seq: MinSeq = None) -> RowsOut:
    """Community x period x standard: value, threshold, met, the standard's version in force on the period's
    last day; furthest below standard first (``projections.compliance``)."""
    return rows_of("compliance", lambda: compliance_view.compliance(
        store, f.community, f.city, f.month_from, f.month_to), services, response, min_seq)


@router.get("/training")
def training(store: StoreDep, f: UntypedDep, services: ServicesDep, response: Response,
             min_seq: MinSeq = None) -> RowsOut:
    """Community x year x staff member: hours against the standard, courses outstanding, qualification; the
    community's qualified share and staff who left within a year of joining beside it."""
    return rows_of("training", lambda: training_view.training(store, f.community, f.city, **_years(f)),
                   services, response, min_seq)


@router.get("/funding")
def funding(store: StoreDep, f: UntypedDep, services: ServicesDep, response: Response,
            min_seq: MinSeq = None) -> RowsOut:
    """Community x year: funding by source and purpose, per managed retiree and per full-time staff, facilities."""
    return rows_of("funding", lambda: funding_view.funding(store, f.community, f.city, **_years(f)),
                   services, response, min_seq)


@router.get("/status")
def status(runner: RunnerDep, services: ServicesDep) -> ProjectionsStatusOut:
    """Per view: code version, stored position, log head, lag (head - position) and its error if failing."""
    head = services.ledger.head()
    for view in services.read_side().positions:  # like every projection read: wait (bounded) for the head
        services.view_position(view, head)
    errors = services.read_side().errors
    return ProjectionsStatusOut(
        views=[
            ViewStatusOut(
                name=s.name,
                version=s.version,
                stored_version=s.stored_version,
                position=s.position,
                head=s.head,
                lag=s.lag,
                error=errors.get(s.name),
            )
            for s in runner.status()
        ]
    )
