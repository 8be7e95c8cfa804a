"""Tables in and out of spreadsheets: CSV (UTF-8 with a BOM, so Excel opens Chinese text right) and XLSX.

``write(columns, rows, fmt)`` renders rows (mappings) under the given headers; ``read(data, fmt)`` gives
the header row and the data rows of the first sheet as strings (empty cells as ``""``; a data row is at
least as long as the header), each with its row number in the file as a person counts it (the header is
row 1). Reading is bounded: a file that is not a CSV/XLSX, or that has more than ``MAX_ROWS`` rows, is an
``InvalidInputError`` naming why.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from ledger.errors import InvalidInputError

Format = Literal["csv", "xlsx"]
FORMATS: tuple[Format, ...] = ("csv", "xlsx")
MEDIA_TYPES: dict[Format, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
MAX_ROWS = 200_000
_BOM = "\ufeff"


def _cell(value: Any) -> Any:
    if isinstance(value, list | tuple | dict):
        return ";".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else ";".join(map(str, value))
    return value


def _xlsx(value: Any) -> Any:
    """A cell openpyxl can store: control characters XML 1.0 cannot hold become U+FFFD."""
    return ILLEGAL_CHARACTERS_RE.sub("\ufffd", value) if isinstance(value, str) else value


def write(columns: Sequence[str], rows: Iterable[Mapping[str, Any]], fmt: Format, *,
          headers: Sequence[str] | None = None, sheet: str = "rows") -> bytes:
    """The rows as a CSV or XLSX file; ``headers`` (default: the column names) label the columns.

    Lists and mappings in a cell are joined with ``;`` (``1=3;2=5``); in XLSX, control characters (which
    XML cannot hold) are replaced by U+FFFD."""
    shown = list(headers) if headers is not None else list(columns)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(shown)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else _cell(row.get(c)) for c in columns])
        return (_BOM + out.getvalue()).encode("utf-8")
    book = Workbook(write_only=True)
    ws = book.create_sheet(sheet[:31])
    ws.append([_xlsx(header) for header in shown])
    for row in rows:
        ws.append([_xlsx(_cell(row.get(c))) for c in columns])
    out_bytes = io.BytesIO()
    book.save(out_bytes)
    return out_bytes.getvalue()


def format_of(filename: str | None, media_type: str | None) -> Format:
    """``csv`` or ``xlsx`` from a file name's suffix or a media type; anything else is refused."""
    name = (filename or "").lower()
    media = (media_type or "").split(";")[0].strip().lower()
    if name.endswith(".xlsx") or media == MEDIA_TYPES["xlsx"]:
        return "xlsx"
    if name.endswith(".csv") or media in ("text/csv", "application/csv"):
        return "csv"
    raise InvalidInputError("a spreadsheet must be a .csv (UTF-8) or .xlsx file")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _raw(data: bytes, fmt: Format) -> Iterator[Sequence[Any]]:
    """The rows of the file (of its first sheet) as read, cell values untouched."""
    if fmt == "csv":
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise InvalidInputError("a CSV file must be UTF-8 encoded (save it as 'CSV UTF-8')") from None
        yield from csv.reader(io.StringIO(text))
        return
    book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    if not book.worksheets:
        raise InvalidInputError("the workbook has no sheet")
    yield from book.worksheets[0].iter_rows(values_only=True)


def read(data: bytes, fmt: Format) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header row and the data rows (with their row numbers, header = 1); blank rows are skipped.

    Whatever the file holds, a file that cannot be read is an ``InvalidInputError`` (for XLSX, any error of
    the zip or XML parsers: the bytes come from outside)."""
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    try:
        for number, cells in enumerate(_raw(data, fmt), start=1):
            values = [_text(v) for v in cells]
            if not any(values):
                continue
            if header is None:
                while values and not values[-1]:
                    values.pop()
                header = values
                continue
            values += [""] * (len(header) - len(values))  # XLSX rows end at their last written cell
            if len(rows) >= MAX_ROWS:
                raise InvalidInputError(f"a spreadsheet may hold at most {MAX_ROWS} rows")
            rows.append((number, values))
    except InvalidInputError:
        raise
    except csv.Error:
        raise InvalidInputError("the CSV file cannot be read (a cell longer than 128 KiB?)") from None
    except Exception:
        if fmt == "csv":
            raise
        raise InvalidInputError("the file is not a readable .xlsx workbook") from None
    if header is None:
        raise InvalidInputError("the file is empty: no header row")
    return header, rows
