"""Spreadsheets agencies exchange (CSV, XLSX): the kinds of list, their columns, reading them into commands
and writing them from the views. Shared by ``POST|GET /v1/sheets/{kind}`` and ``ledger sheets``.

Kinds (``KINDS``), each a list of one kind of fact, one row a fact:

=================  ==========================================  =====================================
kind               a row records                               the export (``export_sheet``) lists
=================  ==========================================  =====================================
``certifications``  ``eligibility_certified`` (year, method,    each living retiree in scope, whether
                    certified_on)                               and when certified that year
``adjustments``     ``pension_adjusted`` (previous and new      each living retiree's current pension,
                    amounts, effective month, reason)           the year's adjustments, blank new_amount
``services``        ``service_delivered``                       the headers only (no view keeps services
                                                                one by one)
``staff``           ``staff_joined`` (a name and no left_on) or each staff member active now, with the
                    ``staff_left`` (left_on given)              joining date (names left blank)
``training``        ``course_completed``                        courses enrolled in and not completed
=================  ==========================================  =====================================

Headers are Chinese or English (``Column.zh`` / ``Column.name``, the command's field names, plus a few
aliases), matched without regard to case, blanks and full-width brackets. A row names its retiree by
``retiree_id`` or by ``id_number`` (身份证号码), found through the ledger's keyed hash (``Ledger.find_retiree``)
and checked like ``POST /v1/retirees/lookup``: a number nobody has and a retiree outside the caller's scope
are both "not found". ID numbers are never logged, put in a URL, or echoed: reports mask them (``***``).
Columns marked ``info`` are written by exports for the reader and ignored on import; a row whose input
columns say nothing to record (an adjustment without ``new_amount``, a certification without a date, an
exported roster line without a name or ``left_on``) is ``skipped``, so an export can be filled in and
imported as it is (round trip).

What is saved (a choice, stated here because it is a promise):

* the FILE is judged first, every cell of it: an unknown, repeated or missing header, a cell that is
  not a date, a month, a number, one of the listed values, or off its field's limits, refuses the whole
  file (``SheetRefusedError`` listing every problem by row and column) and NOTHING is saved. Such a file
  is the wrong template or a typing slip: fixing it and sending it again is the cure, and half a file in
  the ledger would make that second run a puzzle of what went in;
* a readable file is then decided row by row, by the rules and access checks of ``POST /v1/batches``
  (``Ledger.handle_many``, the caller's role and scope in ``Context.access``): a row the rules or the
  caller's scope refuse (403, 404, 409, 422 ``rule/...``) saves nothing of itself and is reported with its
  row and, where the rule names one, its column; the other rows are saved. An annual adjustment list of
  ten thousand retirees in which three died since it was drawn up must still pay the other 9,997: the rows
  are independent facts, and each refusal is a case for a person, not a fault of the file;
* with an idempotency key, row N is keyed ``<key>#N``: sending the same file again appends nothing.

Exports carry no personal data: no names, no ID numbers, no birth dates, no notes; ``retiree_id``, city,
community and the non-personal fields of the views only. They read the views through ``Views`` (a
``projections.store.ViewStore`` fits): the ledger core does not import projections.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date
from enum import StrEnum
from functools import cache
from typing import Any, Literal, Protocol, get_type_hints
from uuid import UUID

from pydantic import TypeAdapter, ValidationError

from ledger import commands as c
from ledger.access import Principal, Resource, check_read
from ledger.application import Ledger
from ledger.domain.values import AdjustmentReason, CertificationMethod, ServiceType, StaffRole
from ledger.errors import AccessDeniedError, InvalidInputError, LedgerError, NotFoundError, RuleViolationError
from ledger.exchange import tables
from ledger.fields import IdNumber, PastDay

Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = ("zh", "en")
MAX_PROBLEMS = 1000
"""At most this many cell problems are listed for a refused file (the count says how many there were)."""
MASK = "***"


# ---- reading one cell ------------------------------------------------------------------------------------

def text(cell: str) -> str:
    return cell


def integer(cell: str) -> int:
    if not (cell.isascii() and cell.isdigit()):
        raise ValueError("expected a whole number (ASCII digits)")
    return int(cell)


FLAGS = {"yes": True, "y": True, "true": True, "1": True, "是": True, "有": True,
         "no": False, "n": False, "false": False, "0": False, "否": False, "无": False}


def flag(cell: str) -> bool:
    found = FLAGS.get(cell.casefold())
    if found is None:
        raise ValueError("expected yes or no (是 / 否)")
    return found


_DAY = re.compile(r"([0-9]{4}) *[-/.年] *([0-9]{1,2}) *[-/.月] *([0-9]{1,2}) *日?(?:[T ]00:00(?::00)?)?")
_MONTH = re.compile(r"([0-9]{4}) *[-/.年] *([0-9]{1,2}) *月?")


def day(cell: str) -> str:
    """``YYYY-MM-DD`` (also ``2025/1/5``, ``2025.1.5``, ``2025年1月5日``) as ISO; the field judges the range."""
    found = _DAY.fullmatch(cell)
    if found is None:
        raise ValueError("expected a date written YYYY-MM-DD")
    try:
        return date(int(found[1]), int(found[2]), int(found[3])).isoformat()
    except ValueError:
        raise ValueError("no such date") from None


def month(cell: str) -> str:
    """``YYYY-MM`` (also ``2025/1``, ``2025年1月``, or the month's first day: Excel turns ``2025-01`` into a date)."""
    if (found := _MONTH.fullmatch(cell)) is None:
        whole = day(cell) if _DAY.fullmatch(cell) else None
        if whole is None or not whole.endswith("-01"):
            raise ValueError("expected a month written YYYY-MM")
        return whole[:7]
    if not 1 <= int(found[2]) <= 12:
        raise ValueError("no such month")
    return f"{int(found[1]):04d}-{int(found[2]):02d}"


def amount(cell: str) -> str:
    """An amount in CNY as written (``3060.00``); a thousands separator or a ``¥``/``元`` is dropped."""
    return cell.replace(",", "").removeprefix("¥").removeprefix("￥").removesuffix("元").strip()


def retiree_id(cell: str) -> UUID:
    try:
        value = UUID(cell.lower())
    except ValueError:
        raise ValueError("expected a retiree id (a UUID)") from None
    if str(value) != cell.lower():
        raise ValueError("expected a retiree id in canonical form (36 characters with dashes)")
    return value


def choice(kind: type[StrEnum], zh: Mapping[str, str]) -> Callable[[str], str]:
    """One of ``kind``'s values, written as the value (any case) or its Chinese label."""
    allowed = {member.value: member.value for member in kind} | dict(zh)

    def read(cell: str) -> str:
        found = allowed.get(cell.casefold()) or allowed.get(cell)
        if found is None:
            raise ValueError(f"must be one of {', '.join(member.value for member in kind)}")
        return found

    return read


METHODS = choice(CertificationMethod, {"现场认证": "in_person", "现场": "in_person", "上门认证": "home_visit",
                                       "上门": "home_visit", "人脸识别": "face_recognition",
                                       "数据比对": "data_matching"})
REASONS = choice(AdjustmentReason, {"年度调整": "annual_adjustment", "更正": "correction", "重新核定": "recalculation",
                                    "补发": "supplement"})
SERVICES = choice(ServiceType, {"上门探访": "home_visit", "健康检查": "health_check", "文化活动": "cultural_activity",
                                "政策咨询": "policy_consultation", "协助认证": "certification_assistance",
                                "困难帮扶": "hardship_relief", "应急救助": "emergency_assistance", "其他": "other"})
ROLES = choice(StaffRole, {"专职": "full_time", "兼职": "part_time", "志愿者": "volunteer"})


# ---- kinds -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    """One column: ``name`` (the English header: the command field it fills, or an export-only ``info``
    figure), ``zh`` (the Chinese header), ``read`` (cell text to the value handed to the command; a
    ``ValueError`` says what is wrong in words, never quoting the cell)."""

    name: str
    zh: str
    read: Callable[[str], Any] = text
    required: bool = False
    personal: bool = False
    info: bool = False
    aliases: tuple[str, ...] = ()


RETIREE_ID = Column("retiree_id", "退休人员编号", retiree_id, aliases=("退休人员ID",))
ID_NUMBER = Column("id_number", "身份证号码", personal=True, aliases=("身份证号", "公民身份号码"))
CITY = Column("city", "城市", info=True, aliases=("市",))
COMMUNITY_INFO = Column("community", "社区编码", info=True, aliases=("社区",))
COMMUNITY = Column("community", "社区编码", required=True, aliases=("社区",))
STAFF_ID = Column("staff_id", "工作人员编号", required=True, aliases=("员工编号",))


@dataclass(frozen=True)
class Kind:
    """A kind of list: its columns (in the order exports write them), the command a row records (``command``:
    the fields read from the row to a command class, or None: nothing to record), defaults for blank cells,
    and which column a refusing rule points at (``blame``)."""

    name: str
    title: str
    columns: tuple[Column, ...]
    command: Callable[[Mapping[str, Any]], type | None]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    blame: Mapping[str, str] = field(default_factory=dict)

    @property
    def by_retiree(self) -> bool:
        return any(column.name == "retiree_id" for column in self.columns)

    def column(self, name: str) -> Column:
        return next(column for column in self.columns if column.name == name)


def _always(kind: type) -> Callable[[Mapping[str, Any]], type | None]:
    return lambda values: kind


def _staff_command(values: Mapping[str, Any]) -> type | None:
    if "left_on" in values or "reason" in values:
        return c.RecordStaffLeft
    return c.JoinStaff if "name" in values else None


KINDS: dict[str, Kind] = {kind.name: kind for kind in (
    Kind("certifications", "Pension-eligibility certifications (认证结果)", (
        RETIREE_ID, ID_NUMBER, CITY, COMMUNITY_INFO, Column("year", "年度", integer, required=True),
        Column("certified", "已认证", info=True), Column("certified_on_recorded", "已记录认证日期", info=True),
        Column("method", "认证方式", METHODS), Column("certified_on", "认证日期", day, required=True),
    ), lambda values: c.CertifyEligibility if {"method", "certified_on"} & set(values) else None,
        blame={"one_certification_per_year": "year", "certification_in_its_year": "certified_on",
               "certification_before_retirement": "certified_on"}),
    Kind("adjustments", "Annual pension adjustments (养老金调整)", (
        RETIREE_ID, ID_NUMBER, CITY, COMMUNITY_INFO, Column("pension_status", "养老金状态", info=True),
        Column("adjustments_in_year", "本年调整次数", info=True),
        Column("previous_amount", "调整前月养老金", amount, required=True, aliases=("调整前金额",)),
        Column("new_amount", "调整后月养老金", amount, required=True, aliases=("调整后金额",)),
        Column("effective_month", "生效月份", month, required=True), Column("reason", "调整原因", REASONS),
        Column("policy_reference", "政策依据"),
    ), lambda values: c.AdjustPension if "new_amount" in values else None,
        defaults={"reason": AdjustmentReason.ANNUAL_ADJUSTMENT.value},
        blame={"previous_amount_must_match": "previous_amount", "effective_month_before_retirement": "effective_month",
               "amount_must_be_positive": "new_amount", "pension_suspended": "retiree_id"}),
    Kind("services", "Services delivered (服务记录)", (
        RETIREE_ID, ID_NUMBER, Column("service_id", "服务编号", required=True), COMMUNITY,
        Column("service_type", "服务类型", SERVICES, required=True),
        Column("delivered_on", "服务日期", day, required=True), STAFF_ID,
        Column("duration_minutes", "服务时长(分钟)", integer, required=True, aliases=("服务时长",)),
        Column("notes", "备注", personal=True),
    ), _always(c.DeliverService),
        blame={"service_id_unique": "service_id", "service_by_managing_community": "community",
               "staff_active_in_community": "staff_id"}),
    Kind("staff", "Community staff roster (社区工作人员)", (
        COMMUNITY, STAFF_ID, Column("name", "姓名", personal=True), Column("role", "岗位类型", ROLES),
        Column("qualified_social_worker", "持证社工", flag), Column("joined_on", "入职日期", day),
        Column("left_on", "离职日期", day), Column("reason", "离职原因"),
    ), _staff_command,
        blame={"staff_already_active": "staff_id", "staff_rejoin_after_leaving": "joined_on",
               "staff_left_after_joining": "left_on", "staff_known": "staff_id"}),
    Kind("training", "Training completions (培训结业)", (
        COMMUNITY, STAFF_ID, Column("course", "课程编码", required=True, aliases=("课程",)),
        Column("enrolled_on", "报名日期", info=True), Column("completed_on", "结业日期", day, required=True),
    ), lambda values: c.CompleteCourse if "completed_on" in values else None,
        blame={"staff_known": "staff_id", "course_offered": "course", "course_enrolled": "course"}),
)}


def kind_of(name: str) -> Kind:
    found = KINDS.get(name)
    if found is None:
        raise InvalidInputError(f"unknown kind of sheet; expected one of {', '.join(KINDS)}")
    return found


# ---- reading a file -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    """What is wrong at ``row`` (as in the file: the header is row 1) and ``column`` (its header as written,
    "" for the whole row), in words that never quote a cell."""

    row: int
    column: str
    problem: str


class SheetRefusedError(InvalidInputError):
    """The file cannot be read as its kind says (``problems``, by row and column); nothing was saved."""

    def __init__(self, problems: Sequence[Problem], count: int | None = None, *, header: Sequence[str] = (),
                 cells: Mapping[int, Sequence[str]] | None = None) -> None:
        self.problems = list(problems)
        self.count = len(self.problems) if count is None else count
        self.header = list(header)
        self.cells = dict(cells or {})
        """The cells of the rows named in ``problems`` (for the error sheet)."""
        first = self.problems[0]
        where = f"row {first.row}" + (f", column {first.column!r}" if first.column else "")
        more = f" (and {self.count - 1} more)" if self.count > 1 else ""
        super().__init__(f"the file was refused, nothing saved: {where}: {first.problem}{more}")


def _key(header: str) -> str:
    return re.sub(r"\s+", "", header.replace("\uff08", "(").replace("\uff09", ")")).casefold()


@dataclass(frozen=True)
class Layout:
    """How a file's header row maps to its kind: ``fields[i]`` is the column of position ``i`` (None: a blank
    header), ``headers[i]`` the header as written, ``language`` the one most headers were written in."""

    kind: Kind
    headers: list[str]
    fields: list[Column | None]
    language: Language

    def header_of(self, name: str) -> str:
        """The header the file uses for the field ``name`` (its Chinese or English header when absent)."""
        for header, column in zip(self.headers, self.fields, strict=True):
            if column is not None and column.name == name:
                return header
        column = self.kind.column(name) if any(col.name == name for col in self.kind.columns) else None
        return name if column is None or self.language == "en" else column.zh


def layout(kind: Kind, header: Sequence[str]) -> Layout:
    """The file's columns; an unknown, repeated or missing header refuses the file (row 1)."""
    names: dict[str, Column] = {}
    for column in kind.columns:
        for written in (column.name, column.zh, *column.aliases):
            names.setdefault(_key(written), column)
    problems: list[Problem] = []
    placed: list[Column | None] = []
    zh = en = 0
    for written in header:
        found = names.get(_key(written)) if written else None
        if written and found is None:
            problems.append(Problem(1, written, "unknown header; expected one of "
                                    + ", ".join(f"{col.zh} / {col.name}" for col in kind.columns)))
        elif found is not None and found in placed:
            problems.append(Problem(1, written, "this column appears twice"))
        if found is not None:
            zh, en = (zh, en + 1) if _key(written) == _key(found.name) else (zh + 1, en)
        placed.append(found)
    present = {column.name for column in placed if column is not None}
    for column in kind.columns:
        if column.required and column.name not in present:
            problems.append(Problem(1, f"{column.zh} / {column.name}", "this column is missing"))
    if kind.by_retiree and not present & {"retiree_id", "id_number"}:
        problems.append(Problem(1, "退休人员编号 / retiree_id", "a column naming the retiree is missing "
                                "(退休人员编号 / retiree_id or 身份证号码 / id_number)"))
    if problems:
        raise SheetRefusedError(problems, header=header)
    return Layout(kind, list(header), placed, "en" if en > zh else "zh")


@dataclass(frozen=True)
class Row:
    """A data row: its number in the file, its cells by position, and the command it records (None: skipped)."""

    number: int
    cells: list[str]
    command: Any = None
    id_number: str | None = None


@cache
def _adapter(kind: type) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


_PLACEHOLDER = UUID(int=0)


def parse_row(lay: Layout, number: int, cells: Sequence[str]) -> tuple[Row, list[Problem]]:
    """The command of one row (or none: nothing to record), or the problems of its cells."""
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for position, cell in enumerate(cells):
        column = lay.fields[position] if position < len(lay.fields) else None
        if column is None:
            if cell:
                problems.append(Problem(number, "", f"a value in column {position + 1}, which has no header"))
            continue
        if column.info or not cell:
            continue
        try:
            values[column.name] = column.read(cell)
        except ValueError as error:
            problems.append(Problem(number, lay.header_of(column.name), str(error)))
    row = Row(number, list(cells))
    kind = lay.kind.command(values)
    if problems or kind is None:
        return row, problems
    identity = values.pop("id_number", None)
    if lay.kind.by_retiree and identity is None and "retiree_id" not in values:
        return row, [Problem(number, lay.header_of("retiree_id"), "no retiree named: give retiree_id or id_number")]
    values = {**lay.kind.defaults, **values}
    if identity is not None:
        values.setdefault("retiree_id", _PLACEHOLDER)  # resolved by the keyed hash when the file is judged
    try:
        command = _adapter(kind).validate_python({f.name: values[f.name] for f in fields(kind) if f.name in values})
    except ValidationError as error:
        return row, [_problem(lay, number, e) for e in error.errors(include_url=False, include_input=False)]
    if identity is not None:
        try:
            identity = _adapter_of_id_number().validate_python(identity)
        except ValidationError as error:
            return row, [Problem(number, lay.header_of("id_number"), error.errors()[0]["msg"])]
    return replace(row, command=command, id_number=identity), []


@cache
def _adapter_of_id_number() -> TypeAdapter[str]:
    return TypeAdapter(IdNumber)


def _problem(lay: Layout, number: int, error: Any) -> Problem:
    loc = error.get("loc") or ()
    name = str(loc[0]) if loc else ""
    header = lay.header_of(name) if name else ""
    if error["type"] in ("missing", "missing_argument"):
        return Problem(number, header, "this value is missing")
    return Problem(number, header, str(error["msg"]).removeprefix("Value error, "))


def read_sheet(kind: Kind, data: bytes, fmt: tables.Format) -> tuple[Layout, list[Row]]:
    """Every row of the file read into its command, or ``SheetRefusedError`` with every cell problem."""
    header, raw = tables.read(data, fmt)
    lay = layout(kind, header)
    if not raw:
        raise SheetRefusedError([Problem(2, "", "the file has a header row but no data rows")], header=header)
    rows: list[Row] = []
    problems: list[Problem] = []
    for number, cells in raw:
        row, found = parse_row(lay, number, cells)
        problems.extend(found)
        rows.append(row)
    if problems:
        shown = problems[:MAX_PROBLEMS]
        named = {p.row for p in shown}
        raise SheetRefusedError(shown, len(problems), header=header,
                                cells={row.number: row.cells for row in rows if row.number in named})
    return lay, rows


# ---- deciding a file ------------------------------------------------------------------------------------------

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
            named = command.retiree_id if command.retiree_id != _PLACEHOLDER else None
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
    target = "id_number" if row.id_number is not None else "retiree_id" if lay.kind.by_retiree else "community"
    name = ""
    if isinstance(error, RuleViolationError):
        name = lay.kind.blame.get(error.rule, "")
        if error.rule == "date_in_future":
            name = _past_day_field(type(row.command))
        elif error.rule in ("retiree_deceased", "community_registered"):
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
    personal = {_key(written) for column in kind.columns if column.personal
                for written in (column.name, column.zh, *column.aliases)}
    hidden = {position for position, written in enumerate(header) if _key(written) in personal}
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


# ---- exports ------------------------------------------------------------------------------------------------

class ViewRow(Protocol):
    @property
    def key(self) -> str: ...

    @property
    def data(self) -> dict[str, Any]: ...


class Views(Protocol):
    """What exports read: a view's rows of one kind (``projections.store.ViewStore`` fits)."""

    def rows(self, name: str, kind: str | None = None, prefix: str = "") -> Sequence[ViewRow]: ...


VIEWS: dict[str, tuple[str, ...]] = {
    "certifications": ("directory", "workload"), "adjustments": ("directory", "pensions"), "services": (),
    "staff": ("training",), "training": ("training",),
}
"""The views each export reads (a reader waits until they caught up with the log)."""


@dataclass(frozen=True)
class Selection:
    """What an export lists: ``year`` (certifications, adjustments), the ``community`` or ``city`` asked for,
    and ``within``, the caller's scope (``ledger.access.listed_retirees``: ``{"city": ...}``,
    ``{"community": ...}``, or ``{}`` for all). A filter outside the scope selects nothing."""

    year: int
    within: Mapping[str, str] = field(default_factory=dict)
    community: str | None = None
    city: str | None = None

    def admits(self, city: str | None, community: str | None) -> bool:
        wanted = {"city": self.city, "community": self.community}
        facts = {"city": city, "community": community}
        return all(value is None or facts[name] == value for name, value in wanted.items()) and all(
            facts.get(name) == value for name, value in self.within.items())


def _yes(value: bool, language: Language) -> str:
    return ("是" if value else "否") if language == "zh" else ("yes" if value else "no")


def _retirees(views: Views, selection: Selection) -> list[tuple[str, dict[str, Any]]]:
    """Living retirees of the directory the selection admits, by community then retiree id."""
    found = [(row.key, row.data) for row in views.rows("directory", "retiree") if row.data.get("stage") != "deceased"
             and selection.admits(row.data.get("city"), row.data.get("community"))]
    return sorted(found, key=lambda item: (item[1].get("community") or "", item[0]))


def _certifications(views: Views, selection: Selection, language: Language) -> list[dict[str, Any]]:
    days = {row.key: row.data.get("certified", []) for row in views.rows("workload", "retiree")}
    prefix = f"{selection.year:04d}-"
    found = []
    for retiree, data in _retirees(views, selection):
        on = next((d for d in days.get(retiree, []) if d.startswith(prefix)), None)
        found.append({"retiree_id": retiree, "city": data.get("city"), "community": data.get("community"),
                      "year": selection.year, "certified": _yes(on is not None, language),
                      "certified_on_recorded": on})
    return found


def _adjustments(views: Views, selection: Selection, language: Language) -> list[dict[str, Any]]:
    roll = {row.key: row.data for row in views.rows("pensions", "retiree")}
    prefix = f"{selection.year:04d}-"
    found = []
    for retiree, data in _retirees(views, selection):
        pension = roll.get(retiree, {})
        found.append({"retiree_id": retiree, "city": data.get("city"), "community": data.get("community"),
                      "pension_status": pension.get("pension_status"),
                      "adjustments_in_year": sum(1 for a in pension.get("adjustments", []) if a[0].startswith(prefix)),
                      "previous_amount": pension.get("monthly_pension"), "effective_month": f"{prefix}01",
                      "reason": AdjustmentReason.ANNUAL_ADJUSTMENT.value})
    return found


def _staff_rows(views: Views, selection: Selection) -> list[tuple[str, str, dict[str, Any]]]:
    """(community, staff id, facts) of the training view's staff the selection admits, in that order."""
    cities = {row.data["code"]: row.data.get("city") for row in views.rows("training", "community")}
    found = []
    for row in views.rows("training", "staff"):
        code, _, staff_id = row.key.partition("|")
        if selection.admits(cities.get(code), code):
            found.append((code, staff_id, row.data))
    return sorted(found, key=lambda item: (item[0], item[1]))


def _roster(views: Views, selection: Selection, language: Language) -> list[dict[str, Any]]:
    return [{"community": code, "staff_id": staff_id, "role": member.get("role"),
             "qualified_social_worker": _yes(bool(member.get("qualified")), language),
             "joined_on": member["stints"][-1][0]}
            for code, staff_id, member in _staff_rows(views, selection)
            if member.get("stints") and member["stints"][-1][1] is None]


def _courses(views: Views, selection: Selection, language: Language) -> list[dict[str, Any]]:
    return [{"community": code, "staff_id": staff_id, "course": course, "enrolled_on": enrolled_on}
            for code, staff_id, member in _staff_rows(views, selection)
            for course, enrolled_on in sorted(member.get("enrolled", {}).items())
            if course not in member.get("completed", {})]


EXPORTS: dict[str, Callable[[Views, Selection, Language], list[dict[str, Any]]]] = {
    "certifications": _certifications, "adjustments": _adjustments, "services": lambda *_: [],
    "staff": _roster, "training": _courses,
}


def export_rows(kind: Kind, views: Views, selection: Selection, language: Language = "zh") -> list[dict[str, Any]]:
    """The rows of an export, by column name (no personal data; see the module docstring)."""
    return EXPORTS[kind.name](views, selection, language)


def export_sheet(kind: Kind, views: Views, selection: Selection, fmt: tables.Format,
                 language: Language = "zh") -> tuple[bytes, int]:
    """The export as a file whose headers (``language``) an import reads back, and its number of rows."""
    rows = export_rows(kind, views, selection, language)
    headers = [column.zh if language == "zh" else column.name for column in kind.columns]
    content = tables.write([column.name for column in kind.columns], rows, fmt, headers=headers, sheet=kind.name)
    return content, len(rows)


def file_name(kind: Kind, selection: Selection, fmt: tables.Format) -> str:
    """A download name: ``adjustments-2025-Changsha.xlsx`` (ASCII: codes, year; a city as given)."""
    parts = [kind.name, *([str(selection.year)] if kind.name in ("certifications", "adjustments") else []),
             *(p for p in (selection.city, selection.community) if p)]
    return re.sub(r"[^A-Za-z0-9_.-]", "_", "-".join(parts)) + f".{fmt}"
