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
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, WithJsonSchema

from api.deps import CallerDep, RunnerDep, ServicesDep, StoreDep
from api.projection_rows import (
    ComplianceRow,
    FundingRow,
    Page,
    PensionsRow,
    SatisfactionRow,
    StandardsRow,
    TrainingRow,
    WorkloadRow,
    flat,
    page,
)
from api.reading import MinSeq, caught_up
from api.responses import ProjectionsStatusOut, ViewStatusOut, problems
from api.schemas import CODE_PATTERN
from ledger.access import Resource
from ledger.domain.values import MONTH_PATTERN
from ledger.errors import InvalidInputError, NotFoundError
from ledger.exchange import tables
from projections import compliance as compliance_view
from projections import funding as funding_view
from projections import queries
from projections import training as training_view
from projections.satisfaction import OVERALL
from projections.series import communities
from projections.store import ViewStore
from runtime.bootstrap import Services


def may_read_projections(caller: CallerDep) -> None:
    caller.check_read(Resource.PROJECTIONS)


router = APIRouter(
    prefix="/projections",
    tags=["projections"],
    responses=problems(401, 403, 404, 422),
    dependencies=[Depends(may_read_projections)],
)


LIMIT = 1000
MAX_LIMIT = 5000
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
Cursor = Annotated[str | None, Query(max_length=512, description="the ``next_cursor`` of the previous page")]
Limit = Annotated[int | None, Query(ge=1, le=MAX_LIMIT, description=f"at most this many rows (default {LIMIT}; "
                                    "for a download: every row)")]
Download = Annotated[Literal["json", "csv", "xlsx"], Query(
    description="``csv`` or ``xlsx``: the same rows as a file (nested fields spread into ``a.b`` columns)")]
_FILES = {"content": {tables.MEDIA_TYPES["csv"]: {"schema": {"type": "string"}},
                      tables.MEDIA_TYPES["xlsx"]: {"schema": {"type": "string", "format": "binary"}}},
          "description": "the page (JSON), or with ``format`` the rows as a CSV or XLSX file"}
DOWNLOADS: dict[int | str, dict[str, Any]] = {200: _FILES}


def rows_of(view: str, rows: Callable[[], list[dict[str, Any]]], services: Services, response: Response,
            f: queries.Filters, min_seq: int | None, cursor: str | None, limit: int | None,
            fmt: str) -> dict[str, Any] | Response:
    """A page of the view's rows (or with ``fmt`` a CSV/XLSX file of them) once it caught up with the log head
    seen now (or ``min_seq``), with its lag. A community or city the view has never seen is a 404."""
    position, lag = caught_up(view, services, response, min_seq)
    _known(services.store, view, f)
    chosen, next_cursor = page(view, rows(), cursor, limit if limit is not None or fmt != "json" else LIMIT)
    if fmt == "json":
        return {"rows": chosen, "next_cursor": next_cursor, "position": position, "lag": lag}
    columns, spread = flat(chosen)
    headers = {**response.headers, "Content-Disposition": f'attachment; filename="{view}.{fmt}"'}
    if next_cursor is not None:
        headers["Ledger-Next-Cursor"] = next_cursor
    file_format: tables.Format = "csv" if fmt == "csv" else "xlsx"
    return Response(tables.write(columns, spread, file_format, sheet=view), media_type=tables.MEDIA_TYPES[file_format],
                    headers=headers)


def _known(store: ViewStore, view: str, f: queries.Filters) -> None:
    known = communities(store, view)
    if f.community is not None and f.community not in known:
        raise NotFoundError(f"no community {f.community!r} is registered")
    if f.city is not None and not any(c.get("city") == f.city for c in known.values()):
        raise NotFoundError(f"no community is registered in the city {f.city!r}")


def _route(path: str, model: type[BaseModel], doc: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return router.get(path, response_model=Page[model], responses=DOWNLOADS, description=doc)  # type: ignore[valid-type]


@_route("/workload", WorkloadRow, "Community x month: managed retirees, transfers, services, minutes, staff "
        "(DESIGN.md section 5).")
def workload(store: StoreDep, f: UntypedDep, services: ServicesDep, response: Response, min_seq: MinSeq = None,
             cursor: Cursor = None, limit: Limit = None, format: Download = "json") -> Any:
    return rows_of("workload", lambda: queries.workload(store, f), services, response, f, min_seq, cursor, limit,
                   format)


@_route("/satisfaction", SatisfactionRow, "Community x service type x month: count, mean and distribution of scores.")
def satisfaction(store: StoreDep, f: FiltersDep, services: ServicesDep, response: Response, min_seq: MinSeq = None,
                 cursor: Cursor = None, limit: Limit = None, format: Download = "json") -> Any:
    return rows_of("satisfaction", lambda: queries.satisfaction(store, f), services, response, f, min_seq, cursor,
                   limit, format)


@_route("/pensions", PensionsRow, "Community x month: total monthly pension at month end, adjustments and their sum.")
def pensions(store: StoreDep, f: UntypedDep, services: ServicesDep, response: Response, min_seq: MinSeq = None,
             cursor: Cursor = None, limit: Limit = None, format: Download = "json") -> Any:
    return rows_of("pensions", lambda: queries.pensions(store, f), services, response, f, min_seq, cursor, limit,
                   format)


@_route("/standards", StandardsRow, "Community x year: share certified, share of retirees aged 80+ visited in the "
        "last quarter.")
def standards(store: StoreDep, f: UntypedDep, services: ServicesDep, response: Response, min_seq: MinSeq = None,
              cursor: Cursor = None, limit: Limit = None, format: Download = "json") -> Any:
    return rows_of("standards", lambda: queries.standards(store, f), services, response, f, min_seq, cursor, limit,
                   format)


def _years(f: queries.Filters) -> dict[str, int | None]:
    return {"year_from": int(f.month_from[:4]) if f.month_from else None,
            "year_to": int(f.month_to[:4]) if f.month_to else None}


@_route("/compliance", ComplianceRow, "Community x period x standard: value, threshold, met, the standard's version "
        "in force on the period's last day; furthest below standard first (``projections.compliance``).")
def compliance(store: StoreDep, f: UntypedDep, services: ServicesDep, response: Response, min_seq: MinSeq = None,
               cursor: Cursor = None, limit: Limit = None, format: Download = "json") -> Any:
    return rows_of("compliance", lambda: compliance_view.compliance(
        store, f.community, f.city, f.month_from, f.month_to), services, response, f, min_seq, cursor, limit, format)


@_route("/training", TrainingRow, "Community x year x staff member: hours against the standard, courses outstanding, "
        "qualification; the community's qualified share and staff who left within a year of joining beside it.")
def training(store: StoreDep, f: UntypedDep, services: ServicesDep, response: Response, min_seq: MinSeq = None,
             cursor: Cursor = None, limit: Limit = None, format: Download = "json") -> Any:
    return rows_of("training", lambda: training_view.training(store, f.community, f.city, **_years(f)),
                   services, response, f, min_seq, cursor, limit, format)


@_route("/funding", FundingRow, "Community x year: funding by source and purpose, per managed retiree and per "
        "full-time staff, facilities.")
def funding(store: StoreDep, f: UntypedDep, services: ServicesDep, response: Response, min_seq: MinSeq = None,
            cursor: Cursor = None, limit: Limit = None, format: Download = "json") -> Any:
    return rows_of("funding", lambda: funding_view.funding(store, f.community, f.city, **_years(f)),
                   services, response, f, min_seq, cursor, limit, format)


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
