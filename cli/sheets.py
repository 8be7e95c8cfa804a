"""``ledger sheets import|export``: the spreadsheets agencies exchange (CSV, XLSX), for the operator.

The kinds, their headers and what is saved when rows are bad are ``ledger.exchange.sheets``'s, shared with
``/v1/sheets/{kind}``. The CLI is the local operator, trusted like ``ledger import``: rows are decided by
the same rules through ``Ledger.handle_many`` (no token scope; the author recorded is ``sheets``), and
exports list every retiree and community (``--city`` / ``--community`` narrow them). ``import`` prints the
refused rows as a table and exits 1 when any row was refused or the file was; ``--report FILE`` also
writes the error sheet. Exports hold no personal data.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.base import app, err, out
from ledger import commands as cmd
from ledger.config import Settings
from ledger.errors import InvalidInputError
from ledger.exchange import sheets, tables
from runtime.bootstrap import opened

sheets_app = typer.Typer(no_args_is_help=True, help="Import and export spreadsheets (CSV, XLSX): "
                         + ", ".join(sheets.KINDS) + ".")
app.add_typer(sheets_app, name="sheets")
SheetKind = StrEnum("SheetKind", {name: name for name in sheets.KINDS})  # type: ignore[misc]
PRINCIPAL = "sheets"


def _format(given: str | None, output: Path | None) -> tables.Format:
    """``--format``, else the suffix of ``--out``, else xlsx."""
    if given is None:
        return tables.format_of(output.name, None) if output is not None else "xlsx"
    if given not in tables.FORMATS:
        raise typer.BadParameter("expected csv or xlsx", param_hint="--format")
    return "csv" if given == "csv" else "xlsx"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _problems(title: str, rows: list[tuple[int, str, str]]) -> None:
    """``title`` on a line of its own (never wrapped to the table's width), then the table."""
    table = Table()
    table.add_column("row", justify="right", no_wrap=True)
    table.add_column("column", overflow="fold", max_width=24)
    table.add_column("problem", overflow="fold")
    for row, column, problem in rows:
        table.add_row(str(row), column, problem)
    out().print(title, soft_wrap=True)
    out().print(table)


@sheets_app.command("import")
def sheets_import(
    kind: Annotated[SheetKind, typer.Argument(metavar="KIND", help="The kind of list.")],
    file: Annotated[Path, typer.Argument(metavar="FILE", exists=True, dir_okay=False, help="A .csv or .xlsx file.")],
    report: Annotated[Path | None, typer.Option("--report", dir_okay=False,
                                                help="Also write the error sheet (.csv or .xlsx) here.")] = None,
    idempotency_key: Annotated[str | None, typer.Option("--idempotency-key", help="Row N is keyed KEY#N: the same "
                                                        "file again with the same key appends nothing.")] = None,
) -> None:
    """Decide every row of FILE by the ledger's rules and save the good ones.

    A file with malformed cells (an unknown header, a bad date, not a number ...) saves nothing.

    Refused rows or cells are printed as a table of row, column and problem; the exit code is then 1."""
    chosen = sheets.kind_of(str(kind.value))
    fmt = tables.format_of(file.name, None)
    report_fmt = None if report is None else tables.format_of(report.name, None)
    data = file.read_bytes()
    with opened(Settings.from_env()) as services:
        try:
            judged = sheets.import_sheet(services.ledger, chosen, data, fmt, cmd.Context(principal=PRINCIPAL),
                                         idempotency_key=idempotency_key)
        except sheets.SheetRefusedError as refused:
            _problems(f"{file.name}: refused, nothing saved ({_count(refused.count, 'problem')})",
                      [(p.row, p.column, p.problem) for p in refused.problems])
            if report is not None and report_fmt is not None:
                report.write_bytes(sheets.refused_report(chosen, refused, report_fmt))
                err().print(f"error sheet written to {report}", soft_wrap=True)
            raise typer.Exit(1) from None
        services.settle()
    refused_rows = judged.refused
    if refused_rows:
        _problems(f"{file.name}: {_count(len(refused_rows), 'row')} refused",
                  [(r.row, r.column, r.problem) for r in refused_rows])
    if report is not None and report_fmt is not None:
        report.write_bytes(sheets.judged_report(judged, report_fmt))
        err().print(f"error sheet written to {report}", soft_wrap=True)
    out().print(f"{_count(len(judged.results), 'row')}: {judged.count('appended')} appended, "
                f"{judged.count('replayed')} already present, {judged.count('skipped')} with nothing to record, "
                f"{len(refused_rows)} refused",
                soft_wrap=True)
    if refused_rows:
        raise typer.Exit(1)


@sheets_app.command("export")
def sheets_export(
    kind: Annotated[SheetKind, typer.Argument(metavar="KIND", help="The kind of list.")],
    year: Annotated[int | None, typer.Option(min=1900, max=2100, help="The year listed (default: this year).")] = None,
    community: Annotated[str | None, typer.Option(help="One community (its code).")] = None,
    city: Annotated[str | None, typer.Option(help="One city.")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="csv or xlsx (default: from --out, else xlsx).")] = None,
    lang: Annotated[str, typer.Option(help="Headers in zh or en.")] = "zh",
    output: Annotated[Path | None, typer.Option("--out", "-o", dir_okay=False,
                                                help="The file (default: a name from the kind and filters).")] = None,
) -> None:
    """Write a list of KIND to fill in and import again (no names or ID numbers)."""
    if lang not in sheets.LANGUAGES:
        raise typer.BadParameter("expected zh or en", param_hint="--lang")
    chosen = sheets.kind_of(str(kind.value))
    selection = sheets.Selection(year or date.today().year, {}, community, city)
    file_format = _format(fmt, output)
    target = output or Path(sheets.file_name(chosen, selection, file_format))
    with opened(Settings.from_env()) as services:
        services.runner.catch_up()
        content, rows = sheets.export_sheet(chosen, services.store, selection, file_format,
                                            "en" if lang == "en" else "zh")
    try:
        target.write_bytes(content)
    except OSError as error:
        raise InvalidInputError(f"cannot write {target}: {error.strerror}") from None
    out().print(f"wrote {_count(rows, 'row')} of {chosen.name} to {target}", soft_wrap=True)
