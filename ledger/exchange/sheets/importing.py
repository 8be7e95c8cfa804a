"""Importing a read file: each row decided by the ledger's rules and the caller's access, the good rows saved;
and the error sheet listing the refused rows or cells."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any, Literal, get_type_hints
from uuid import UUID

from ledger import commands as c
from ledger.access import Principal, Resource, check_read
from ledger.application import Ledger
from ledger.errors import AccessDeniedError, InvalidInputError, LedgerError, NotFoundError, RuleViolationError
from ledger.exchange import tables
from ledger.exchange.sheets.kinds import Kind, Language
from ledger.exchange.sheets.reading import PLACEHOLDER, Layout, Problem, Row, SheetRefusedError, header_key, read_sheet
from ledger.fields import PastDay

MASK = "***"


Outcome = Literal["appended", "replayed", "skipped", "refused"]


@dataclass(frozen=True)
class RowResult:
    """One data row's answer: ``appended`` (``id``, ``version``, ``seq``), ``replayed`` (saved before, with the
    same idempotency key), ``skipped`` (nothing to record) or ``refused`` (``error``: what refused it; ``column``
    the header it points at, "" for the whole row; ``problem`` in words)."""

    row: int
    outcome: Outcome
    id: str | None = None
    version: int | None = None
    seq: int | None = None
    column: str = ""
    problem: str = ""
    error: LedgerError | None = None


@dataclass(frozen=True)
class Judged:
    """A file read and decided: its layout, its rows and each row's result, in file order."""

    layout: Layout
    rows: list[Row]
    results: list[RowResult]

    def count(self, outcome: Outcome) -> int:
        return sum(1 for result in self.results if result.outcome == outcome)

    @property
    def refused(self) -> list[RowResult]:
        return [result for result in self.results if result.outcome == "refused"]


def import_sheet(ledger: Ledger, kind: Kind, data: bytes, fmt: tables.Format, context: c.Context, *,
                 idempotency_key: str | None = None) -> Judged:
    """Reads the file (``SheetRefusedError``: nothing saved) and decides every row through
    ``Ledger.handle_many`` with ``context`` (its ``access`` is the caller whose role and scope each row is
    checked against; None: a trusted operator); see the module docstring."""
    lay, rows = read_sheet(kind, data, fmt)
    results: dict[int, RowResult] = {}
    items: list[tuple[c.Command, c.Context]] = []
    decided: list[Row] = []
    for row in rows:
        if row.command is None:
            results[row.number] = RowResult(row.number, "skipped")
            continue
        command = row.command
        if row.id_number is not None:
            named = command.retiree_id if command.retiree_id != PLACEHOLDER else None
            found = _resolve(ledger, context.access, row.id_number, named)
            if isinstance(found, LedgerError):
                results[row.number] = _refusal(lay, row, found)
                continue
            command = replace(command, retiree_id=found)
        key = None if idempotency_key is None else f"{idempotency_key}#{row.number}"
        items.append((command, replace(context, idempotency_key=key)))
        decided.append(row)
    for row, result in zip(decided, ledger.handle_many(items), strict=True):
        if isinstance(result, c.Appended):
            results[row.number] = RowResult(row.number, "replayed" if result.replayed else "appended",
                                            result.id, result.version, result.seq)
        else:
            results[row.number] = _refusal(lay, row, result)
    return Judged(lay, rows, [results[row.number] for row in rows])


def _resolve(ledger: Ledger, principal: Principal | None, id_number: str, named: UUID | None) -> UUID | LedgerError:
    """The retiree of an ID number the caller may read (as ``POST /v1/retirees/lookup`` finds it)."""
    unknown = NotFoundError("no retiree with this ID number that you may read")
    found = ledger.find_retiree(id_number)
    if found is None:
        return unknown
    if principal is not None:
        try:
            retiree = ledger.retiree(found)
            check_read(principal, Resource.RETIREE, retiree_city=retiree.city, retiree_community=retiree.community)
        except (AccessDeniedError, NotFoundError):
            return unknown
    if named is not None and named != found:
        return InvalidInputError("retiree_id and id_number name different retirees")
    return found


def _refusal(lay: Layout, row: Row, error: LedgerError) -> RowResult:
    """The row refused by ``error``, pointing at the column the refusal concerns when one does."""
    target = "id_number" if row.id_number is not None else "retiree_id" if lay.kind.by_retiree else lay.kind.owner
    name = ""
    if isinstance(error, RuleViolationError):
        name = lay.kind.blame.get(error.rule, "")
        if error.rule == "date_in_future":
            name = _past_day_field(type(row.command))
        elif not name and error.rule in ("retiree_deceased", "community_registered"):
            name = target
        problem = f"{error.detail} (rule {error.rule})"
    elif isinstance(error, AccessDeniedError | NotFoundError):
        name = target
        problem = error.detail if isinstance(error, NotFoundError) else f"outside your role or scope: {error.detail}"
    else:
        name = "id_number" if "id_number" in error.detail and row.id_number is not None else ""
        problem = error.detail
    return RowResult(row.number, "refused", column=lay.header_of(name) if name else "", problem=problem, error=error)


def _past_day_field(kind: type) -> str:
    """The field of a command holding the date that may not lie in the future."""
    hints = get_type_hints(kind, include_extras=True)
    return next((f.name for f in fields(kind) if hints[f.name] == PastDay), "")


# ---- the error sheet ------------------------------------------------------------------------------------------

REPORT_HEADERS: dict[Language, tuple[str, str, str]] = {
    "zh": ("行号", "列", "问题"), "en": ("row", "column", "problem")}


def report_sheet(kind: Kind, header: Sequence[str], entries: Iterable[tuple[Problem, Sequence[str]]],
                 fmt: tables.Format) -> bytes:
    """The error sheet: row, column and problem, then the row's original cells under the file's headers
    (personal columns, such as ID numbers and names, masked). In Chinese unless every header was ASCII."""
    language: Language = "en" if all(h.isascii() for h in header) else "zh"
    personal = {header_key(written) for column in kind.columns if column.personal
                for written in (column.name, column.zh, *column.aliases)}
    hidden = {position for position, written in enumerate(header) if header_key(written) in personal}
    columns = ["_row", "_column", "_problem", *(f"_{i}" for i in range(len(header)))]
    rows = []
    for problem, cells in entries:
        row: dict[str, Any] = {"_row": problem.row, "_column": problem.column, "_problem": problem.problem}
        for position, cell in enumerate(cells[:len(header)]):
            row[f"_{position}"] = MASK if position in hidden and cell else cell
        rows.append(row)
    return tables.write(columns, rows, fmt, headers=[*REPORT_HEADERS[language], *header], sheet="problems")


def refused_report(kind: Kind, error: SheetRefusedError, fmt: tables.Format) -> bytes:
    """The error sheet of a file refused as a whole."""
    return report_sheet(kind, error.header, ((p, error.cells.get(p.row, ())) for p in error.problems), fmt)


def judged_report(judged: Judged, fmt: tables.Format) -> bytes:
    """The error sheet of a decided file: its refused rows."""
    cells = {row.number: row.cells for row in judged.rows}
    entries = ((Problem(r.row, r.column, r.problem), cells[r.row]) for r in judged.refused)
    return report_sheet(judged.layout.kind, judged.layout.headers, entries, fmt)

