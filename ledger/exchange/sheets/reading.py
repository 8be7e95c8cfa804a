"""Reading a file of one kind into commands: the header row matched to the kind's columns, every cell read
and checked against its field's limits; any problem refuses the whole file (``SheetRefusedError``)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from functools import cache
from typing import Any
from uuid import UUID

from pydantic import TypeAdapter, ValidationError

from ledger.errors import InvalidInputError
from ledger.exchange import tables
from ledger.exchange.sheets.kinds import Column, Kind, Language
from ledger.fields import IdNumber

MAX_PROBLEMS = 1000
"""At most this many cell problems are listed for a refused file (the count says how many there were)."""


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


def header_key(header: str) -> str:
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
            names.setdefault(header_key(written), column)
    problems: list[Problem] = []
    placed: list[Column | None] = []
    zh = en = 0
    for written in header:
        found = names.get(header_key(written)) if written else None
        if written and found is None:
            problems.append(Problem(1, written, "unknown header; expected one of "
                                    + ", ".join(f"{col.zh} / {col.name}" for col in kind.columns)))
        elif found is not None and found in placed:
            problems.append(Problem(1, written, "this column appears twice"))
        if found is not None:
            zh, en = (zh, en + 1) if header_key(written) == header_key(found.name) else (zh + 1, en)
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


PLACEHOLDER = UUID(int=0)


def parse_row(lay: Layout, number: int, cells: Sequence[str]) -> tuple[Row, list[Problem]]:
    """The command of one row (or none: nothing to record), or every problem of its cells: a cell that cannot
    be read, and a value read that is off its field's limits or missing where the row needs it."""
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
    unread = {problem.column for problem in problems}
    row = Row(number, list(cells))
    kind = lay.kind.command(values)
    if kind is None:
        return row, problems
    identity = values.pop("id_number", None)
    if identity is not None:
        try:
            identity = _adapter_of_id_number().validate_python(identity)
        except ValidationError as error:
            problems.append(Problem(number, lay.header_of("id_number"), error.errors()[0]["msg"]))
    elif lay.kind.by_retiree and "retiree_id" not in values and not {lay.header_of("retiree_id"),
                                                                     lay.header_of("id_number")} & unread:
        problems.append(Problem(number, lay.header_of("retiree_id"), "no retiree named: give retiree_id or id_number"))
    values = {**lay.kind.defaults, **values}
    if lay.kind.by_retiree:
        values.setdefault("retiree_id", PLACEHOLDER)  # resolved by the keyed hash when the file is judged
    try:
        command = _adapter(kind).validate_python({f.name: values[f.name] for f in fields(kind) if f.name in values})
    except ValidationError as error:
        found = (_problem(lay, number, e) for e in error.errors(include_url=False, include_input=False))
        problems.extend(problem for problem in found if problem.column not in unread)
    if problems:
        return row, problems
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

