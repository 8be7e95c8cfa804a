"""``/v1/sheets/{kind}``: the spreadsheets agencies exchange (CSV, XLSX), in and out.

The kinds, their columns (Chinese or English headers), what a row records and what is saved when some rows
are bad are ``ledger.exchange.sheets``'s (its docstring is the contract); this router only speaks HTTP.

``POST`` takes the file itself as the body (``Content-Type: text/csv`` or the XLSX media type; no form
encoding). Agency and community tokens; every row is checked against the caller's role and scope by
``Ledger.handle_many``, as ``POST /v1/batches`` does. The answer is 200 whenever the file was read and
decided: per row (``row`` as in the file, the header being row 1) ``outcome`` ``appended`` (``id``,
``version``, ``seq``), ``replayed``, ``skipped`` (nothing to record) or ``refused`` (``status`` and ``type``
as the row's own endpoint would answer, ``column`` and ``problem``). A file that cannot be read as its kind
(an unknown or missing header, a malformed cell) saves nothing and is a 422 ``invalid-input`` whose
``errors`` list every problem by ``row`` and ``column``. With ``?report=csv|xlsx`` (or ``Accept:`` one of
the two media types) the answer is instead the error sheet as a file (row, column, problem and the row's
original cells, ID numbers and names masked), with status 200 in both cases and the outcome in headers:
``Sheet-Outcome`` (``decided`` or ``refused``), ``Sheet-Saved`` and ``Sheet-Failed`` (rows). With an
``Idempotency-Key``, row N is keyed ``<key>#N``: sending the same file again appends nothing. The request
gate (``api.intake``) takes bodies of up to 16 MiB here, as for batches, and refuses other media types (415).

``GET`` exports a list to fill in (``format`` csv or xlsx, headers in ``lang`` zh or en) for the caller's
scope (an agency its city, a community its own retirees and staff; auditors and viewers all), after the
views it reads caught up with the log (``Ledger-Min-Seq``, ``Ledger-Position``, ``Ledger-Lag``). Exports
carry no personal data: no names, no ID numbers, only ids, codes and non-personal figures.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from api.deps import CallerDep, IdempotencyKeyDep, ServicesDep, WriterDep
from api.errors import problem_of, problem_response
from api.reading import MinSeq, caught_up
from api.responses import problems
from api.schemas import CODE_PATTERN
from ledger.errors import InvalidInputError
from ledger.exchange import sheets, tables
from runtime.bootstrap import Services

router = APIRouter(prefix="/sheets", tags=["sheets"], responses=problems(401, 403, 422))

KindPath = Annotated[str, Path(pattern=f"^({'|'.join(sheets.KINDS)})$", description="the kind of list: "
                               + ", ".join(f"``{name}`` ({kind.title})" for name, kind in sheets.KINDS.items()))]
Report = Annotated[tables.Format | None, Query(description="answer the error sheet as a CSV or XLSX file")]
_FILES = {tables.MEDIA_TYPES["csv"]: {"schema": {"type": "string"}},
          tables.MEDIA_TYPES["xlsx"]: {"schema": {"type": "string", "format": "binary"}}}
_OUTCOME = {name: {"description": text, "schema": {"type": "string"}} for name, text in (
    ("Sheet-Outcome", "with a report: ``decided`` (rows saved but the refused) or ``refused`` (nothing saved)"),
    ("Sheet-Saved", "with a report: rows appended or replayed"), ("Sheet-Failed", "with a report: rows refused"))}


class SheetRowOut(BaseModel):
    """One data row's answer (``ledger.exchange.sheets.RowResult``); ``status`` and ``type`` for a refused row
    are those its own endpoint would answer."""

    row: int
    outcome: Literal["appended", "replayed", "skipped", "refused"]
    id: str | None = None
    version: int | None = None
    seq: int | None = None
    status: int | None = None
    type: str | None = None
    column: str | None = None
    problem: str | None = None


class SheetOut(BaseModel):
    """Counts of the data rows by outcome, and each row's answer in file order."""

    kind: str
    rows: int
    appended: int
    replayed: int
    skipped: int
    failed: int
    results: list[SheetRowOut]


def _row_out(result: sheets.RowResult) -> SheetRowOut:
    out = SheetRowOut(row=result.row, outcome=result.outcome, id=result.id, version=result.version, seq=result.seq)
    if result.error is not None:
        status, body = problem_of(result.error)
        out.status, out.type, out.column, out.problem = status, body["type"], result.column, result.problem
    elif result.outcome in ("appended", "replayed"):
        out.status = 201
    return out


def _report_format(report: tables.Format | None, request: Request) -> tables.Format | None:
    if report is not None:
        return report
    accepted = request.headers.get("accept", "")
    for fmt in tables.FORMATS:
        if tables.MEDIA_TYPES[fmt].split(";")[0] in accepted:
            return fmt
    return None


def _file(content: bytes, fmt: tables.Format, name: str, headers: dict[str, str]) -> Response:
    return Response(content, media_type=tables.MEDIA_TYPES[fmt],
                    headers={**headers, "Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/{kind}", response_model=SheetOut, responses={200: {"content": _FILES, "headers": _OUTCOME,
                                         "description": "each row's answer, or with ``report`` the error sheet"},
                                   **problems(400, 409, 413, 415)})
async def import_sheet(
    kind: KindPath, request: Request, writer: WriterDep, report: Report = None,
    idempotency_key: IdempotencyKeyDep = None,
) -> Any:
    """Imports a CSV or XLSX file of ``kind`` sent as the body (see the module docstring): every row decided as
    its own endpoint would, the good ones saved; a file with malformed cells saves nothing (422)."""
    chosen = sheets.kind_of(kind)
    body = await request.body()
    if not body:
        raise InvalidInputError("send the file as the body: Content-Type text/csv or " + tables.MEDIA_TYPES["xlsx"])
    try:
        fmt = tables.format_of(None, request.headers.get("content-type"))
    except InvalidInputError as error:
        raise HTTPException(415, error.detail) from None
    wanted = _report_format(report, request)
    context = writer.caller.context(expected_version=None, idempotency_key=None)
    try:
        judged = await run_in_threadpool(sheets.import_sheet, writer.ledger, chosen, body, fmt, context,
                                         idempotency_key=idempotency_key)
    except sheets.SheetRefusedError as refused:
        if wanted is not None:
            outcome = {"Sheet-Outcome": "refused", "Sheet-Saved": "0", "Sheet-Failed": str(refused.count)}
            return _file(sheets.refused_report(chosen, refused, wanted), wanted, f"{kind}-problems.{wanted}", outcome)
        errors = [{"row": p.row, "column": p.column, "problem": p.problem} for p in refused.problems]
        return problem_response(422, "invalid-input", "Invalid input", refused.detail, request.url.path,
                                errors=errors, count=refused.count)
    if wanted is not None:
        saved = judged.count("appended") + judged.count("replayed")
        outcome = {"Sheet-Outcome": "decided", "Sheet-Saved": str(saved), "Sheet-Failed": str(len(judged.refused))}
        return _file(sheets.judged_report(judged, wanted), wanted, f"{kind}-problems.{wanted}", outcome)
    answer = SheetOut(kind=kind, rows=len(judged.results), appended=judged.count("appended"),
                      replayed=judged.count("replayed"), skipped=judged.count("skipped"),
                      failed=len(judged.refused), results=[_row_out(r) for r in judged.results])
    return answer


@router.get("/{kind}", response_class=Response, responses={200: {"content": _FILES, "description": "the list"}})
def export_sheet(
    kind: KindPath,
    services: ServicesDep,
    caller: CallerDep,
    year: Annotated[int | None, Query(ge=1900, le=2100, description="the year listed (default: this year)")] = None,
    community: Annotated[str | None, Query(max_length=64, pattern=CODE_PATTERN, description="one community")] = None,
    city: Annotated[str | None, Query(max_length=64, description="one city")] = None,
    format: Annotated[tables.Format, Query(description="csv or xlsx")] = "xlsx",
    lang: Annotated[sheets.Language, Query(description="the headers' language")] = "zh",
    min_seq: MinSeq = None,
) -> Response:
    """A list of ``kind`` to fill in and import again, for the caller's scope, without personal data (see the
    module docstring)."""
    chosen = sheets.kind_of(kind)
    headers = _caught_up(sheets.VIEWS[kind], services, min_seq)
    selection = sheets.Selection(year or date.today().year, caller.listed_retirees(), community, city)
    content, rows = sheets.export_sheet(chosen, services.store, selection, format, lang)
    return _file(content, format, sheets.file_name(chosen, selection, format), {**headers, "Sheet-Rows": str(rows)})


def _caught_up(views: tuple[str, ...], services: Services, min_seq: int | None) -> dict[str, str]:
    """``Ledger-Position`` and ``Ledger-Lag`` of the view furthest behind, once each view reached the log head
    seen now (or ``min_seq``) or the wait ended (``api.reading.caught_up``)."""
    answers = [caught_up(view, services, Response(), min_seq) for view in views]
    position, lag = min(answers, default=(services.ledger.head(), 0))
    return {"Ledger-Position": str(position), "Ledger-Lag": str(lag)}
