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
``funding``         ``funding_allocated`` (area, community,     each registered community, its city as
                    year, amount, source, purpose)              the area, the year's funding so far
=================  ==========================================  =====================================

Headers are Chinese or English (``Column.zh`` / ``Column.name``, the command's field names, plus a few
aliases), matched without regard to case, blanks and full-width brackets. A row names its retiree by
``retiree_id`` or by ``id_number`` (身份证号码), found through the ledger's keyed hash (``Ledger.find_retiree``)
and checked like ``POST /v1/retirees/lookup``: a number nobody has and a retiree outside the caller's scope
are both "not found". ID numbers are never logged, put in a URL, or echoed: reports mask them (``***``).
Columns marked ``info`` are written by exports for the reader and ignored on import; a row whose input
columns say nothing to record (an adjustment without ``new_amount``, a certification without a date, an
exported roster line without a name or ``left_on``, a funding line without an amount) is ``skipped``, so
an export can be filled in and imported as it is (round trip).

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

Modules, by role: ``cells`` (one cell's text to a field's value), ``kinds`` (the kinds and their columns),
``reading`` (a file to commands, or ``SheetRefusedError``), ``importing`` (rows decided and saved, the error
sheet), ``exporting`` (the lists from the views). The names below are the package's public face.
"""

from ledger.exchange.sheets.cells import amount, choice, day, flag, integer, month, retiree_id, text
from ledger.exchange.sheets.exporting import (
    EXPORTS,
    VIEWS,
    Selection,
    ViewRow,
    Views,
    export_rows,
    export_sheet,
    file_name,
)
from ledger.exchange.sheets.importing import (
    MASK,
    Judged,
    Outcome,
    RowResult,
    import_sheet,
    judged_report,
    refused_report,
    report_sheet,
)
from ledger.exchange.sheets.kinds import KINDS, LANGUAGES, Column, Kind, Language, kind_of
from ledger.exchange.sheets.reading import (
    MAX_PROBLEMS,
    Layout,
    Problem,
    Row,
    SheetRefusedError,
    layout,
    parse_row,
    read_sheet,
)

__all__ = [
    "EXPORTS", "KINDS", "LANGUAGES", "MASK", "MAX_PROBLEMS", "VIEWS", "Column", "Judged", "Kind", "Language", "Layout",
    "Outcome", "Problem", "Row", "RowResult", "Selection", "SheetRefusedError", "ViewRow", "Views", "amount",
    "choice", "day", "export_rows", "export_sheet", "file_name", "flag", "import_sheet", "integer", "judged_report",
    "kind_of", "layout", "month", "parse_row", "read_sheet", "refused_report", "report_sheet", "retiree_id", "text",
]
