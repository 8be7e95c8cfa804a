"""``ledger.exchange.sheets``: headers in Chinese or English, cells read into commands, bad cells reported by
row and column (the whole file refused, nothing saved), and exports of the views (on stand-in views: no disk
here; deciding rows on a real ledger is in tests/integration/api/test_sheets.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from ledger import commands as cmd
from ledger.errors import InvalidInputError
from ledger.exchange import sheets, tables
from tests.people import id_number

COMMUNITY = "CS-YL-001"
OTHER = "CS-FR-002"
BORN = "1950-03-01"


def csv(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def certifications(data: bytes) -> tuple[sheets.Layout, list[sheets.Row]]:
    return sheets.read_sheet(sheets.KINDS["certifications"], data, "csv")


def refusal(kind: str, data: bytes, fmt: tables.Format = "csv") -> sheets.SheetRefusedError:
    with pytest.raises(sheets.SheetRefusedError) as caught:
        sheets.read_sheet(sheets.KINDS[kind], data, fmt)
    return caught.value


RETIREE = "0b7e3c2a-5d1f-4c8e-9a6b-1f2e3d4c5b6a"
R1 = "00000000-0000-4000-8000-000000000001"
R2 = "00000000-0000-4000-8000-000000000002"
R3 = "00000000-0000-4000-8000-000000000003"
R4 = "00000000-0000-4000-8000-000000000004"


# ---- reading -----------------------------------------------------------------------------------------------

def test_chinese_and_english_headers_read_into_the_same_command() -> None:
    _, zh = certifications(csv("退休人员编号,年度,认证方式,认证日期", f"{RETIREE},2026,上门认证,2026/3/5"))
    _, en = certifications(csv("Retiree_ID , year,method,certified_on", f"{RETIREE},2026,home_visit,2026-03-05"))
    expected = cmd.CertifyEligibility(retiree_id=UUID(RETIREE), year=2026, method="home_visit",
                                      certified_on=date(2026, 3, 5))
    assert [row.command for row in zh] == [row.command for row in en] == [expected]
    assert zh[0].number == 2


def test_full_width_brackets_and_aliases_name_the_same_column() -> None:
    kind = sheets.KINDS["services"]
    header = ["身份证号", "服务编号", "社区", "服务类型", "服务日期", "员工编号", "服务时长（分钟）"]  # noqa: RUF001 (full-width brackets, as typed in Chinese)
    lay = sheets.layout(kind, header)
    assert [column.name if column else None for column in lay.fields] == [
        "id_number", "service_id", "community", "service_type", "delivered_on", "staff_id", "duration_minutes"]
    assert lay.language == "zh"


@pytest.mark.parametrize(("cell", "read"), [
    ("2026-01-05", "2026-01-05"), ("2026/1/5", "2026-01-05"), ("2026.1.5", "2026-01-05"),
    ("2026年1月5日", "2026-01-05"), ("2026-01-05T00:00:00", "2026-01-05"),
])
def test_dates_may_be_written_as_excel_and_chinese_users_write_them(cell: str, read: str) -> None:
    assert sheets.day(cell) == read


@pytest.mark.parametrize(("cell", "read"), [("2026-01", "2026-01"), ("2026/1", "2026-01"), ("2026年1月", "2026-01"),
                                            ("2026-01-01", "2026-01")])
def test_months_also_come_as_the_first_day_excel_turned_them_into(cell: str, read: str) -> None:
    assert sheets.month(cell) == read


@pytest.mark.parametrize("cell", ["2026-13", "2026-01-15", "Jan 2026", "２０２６-01"])  # noqa: RUF001 (full-width digits are refused)
def test_other_months_are_refused(cell: str) -> None:
    with pytest.raises(ValueError, match="month"):
        sheets.month(cell)


def test_bad_cells_refuse_the_whole_file_and_are_named_by_row_and_column_as_written() -> None:
    refused = refusal("certifications", csv(
        "退休人员编号,年度,认证方式,认证日期",
        f"{RETIREE},2026,上门认证,2026-03-05",
        f"{RETIREE},二〇二六,上门认证,2026-02-30",
        "",
        "not-a-uuid,2026,by_magic,2026-03-05"))
    found = {(p.row, p.column): p.problem for p in refused.problems}
    assert set(found) == {(3, "年度"), (3, "认证日期"), (5, "退休人员编号"), (5, "认证方式")}
    assert "whole number" in found[3, "年度"] and "no such date" in found[3, "认证日期"]
    assert "in_person" in found[5, "认证方式"]
    assert refused.count == 4 and "row 3" in refused.detail and "nothing saved" in refused.detail
    assert refused.cells[5][0] == "not-a-uuid"


def test_a_value_off_its_field_limits_is_a_cell_problem_of_its_column() -> None:
    refused = refusal("adjustments", csv(
        "retiree_id,previous_amount,new_amount,effective_month",
        f"{RETIREE},3000.00,3060.123,2026-01",
        f"{RETIREE},3000.00,,2026-01"))  # no new amount: nothing to record, no problem
    assert [(p.row, p.column) for p in refused.problems] == [(2, "new_amount")]
    assert "2500.00" in refused.problems[0].problem


def test_unknown_repeated_and_missing_headers_are_named() -> None:
    refused = refusal("certifications", csv("退休人员编号,年度,年度,备注,认证方式", f"{RETIREE},2026,2026,x,in_person"))
    found = {p.column: p.problem for p in refused.problems}
    assert set(found) == {"年度", "备注", "认证日期 / certified_on"}
    assert "twice" in found["年度"] and "unknown header" in found["备注"]
    assert "missing" in found["认证日期 / certified_on"]
    assert {p.row for p in refused.problems} == {1}


def test_a_list_of_retirees_needs_a_column_naming_them() -> None:
    refused = refusal("certifications", csv("年度,认证方式,认证日期", "2026,in_person,2026-03-05"))
    assert "retiree_id" in refused.problems[0].problem


def test_a_missing_value_of_a_row_that_records_something_is_named() -> None:
    refused = refusal("certifications", csv("retiree_id,year,method,certified_on", f"{RETIREE},2026,in_person,"))
    assert [(p.row, p.column, p.problem) for p in refused.problems] == [(2, "certified_on", "this value is missing")]


def test_an_invalid_id_number_is_reported_without_quoting_it() -> None:
    bad = id_number(BORN)[:-1] + ("0" if id_number(BORN)[-1] != "0" else "1")
    refused = refusal("certifications", csv("身份证号码,年度,认证方式,认证日期", f"{bad},2026,in_person,2026-03-05"))
    assert [(p.row, p.column) for p in refused.problems] == [(2, "身份证号码")]
    assert bad not in refused.problems[0].problem and bad not in refused.detail


def test_roster_rows_join_leave_or_record_nothing() -> None:
    _, rows = sheets.read_sheet(sheets.KINDS["staff"], csv(
        "社区编码,工作人员编号,姓名,岗位类型,持证社工,入职日期,离职日期,离职原因",
        f"{COMMUNITY},s1,陈静,专职,是,2024-01-02,,",
        f"{COMMUNITY},s2,,full_time,no,2020-01-01,2026-05-31,moved away",
        f"{COMMUNITY},s3,,part_time,否,2021-01-01,,"), "csv")
    assert [type(row.command).__name__ for row in rows] == ["JoinStaff", "RecordStaffLeft", "NoneType"]
    assert rows[0].command.qualified_social_worker is True and rows[0].command.role == "full_time"


def test_xlsx_files_read_like_csv_files() -> None:
    header = ["retiree_id", "previous_amount", "new_amount", "effective_month", "reason"]
    data = tables.write(header, [{"retiree_id": RETIREE, "previous_amount": 3000, "new_amount": "3060.50",
                                  "effective_month": "2026-01", "reason": "年度调整"}], "xlsx")
    _, rows = sheets.read_sheet(sheets.KINDS["adjustments"], data, "xlsx")
    command = rows[0].command
    assert (command.previous_amount, command.new_amount, command.reason) == (
        Decimal("3000"), Decimal("3060.50"), "annual_adjustment")


def test_an_unreadable_file_is_one_clear_error() -> None:
    with pytest.raises(InvalidInputError, match="xlsx workbook"):
        sheets.read_sheet(sheets.KINDS["staff"], b"not a zip", "xlsx")


# ---- exports -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FakeRow:
    key: str
    data: dict[str, Any]


class FakeViews:
    def __init__(self, rows: dict[tuple[str, str], list[FakeRow]]) -> None:
        self._rows = rows

    def rows(self, name: str, kind: str | None = None, prefix: str = "") -> list[FakeRow]:
        return self._rows.get((name, kind or ""), [])


VIEWS = FakeViews({
    ("directory", "retiree"): [
        FakeRow(R1, {"city": "Changsha", "community": COMMUNITY, "stage": "community"}),
        FakeRow(R2, {"city": "Changsha", "community": OTHER, "stage": "community"}),
        FakeRow(R3, {"city": "Zhuzhou", "community": "ZZ-1", "stage": "community"}),
        FakeRow(R4, {"city": "Changsha", "community": COMMUNITY, "stage": "deceased"}),
    ],
    ("workload", "retiree"): [FakeRow(R1, {"certified": ["2025-04-01", "2026-03-05"]})],
    ("pensions", "retiree"): [FakeRow(R1, {"monthly_pension": "3090.00", "pension_status": "active",
                                             "adjustments": [["2026-01", "3090.00", "3000.00"]]})],
    ("training", "community"): [FakeRow("x", {"code": COMMUNITY, "city": "Changsha"})],
    ("funding", "community"): [FakeRow("x", {"code": COMMUNITY, "city": "Changsha"}),
                               FakeRow("y", {"code": "ZZ-1", "city": "Zhuzhou"})],
    ("funding", "funding"): [FakeRow(f"{COMMUNITY}|2026", {"total": "80000.00"}),
                             FakeRow(f"{COMMUNITY}|2025", {"total": "5.00"})],
    ("training", "staff"): [
        FakeRow(f"{COMMUNITY}|s1", {"role": "full_time", "qualified": True, "stints": [["2024-01-02", None]],
                                    "enrolled": {"P1": "2026-01-10", "P2": "2026-02-01"}, "completed": {"P1": "x"}}),
        FakeRow(f"{COMMUNITY}|s2", {"role": "volunteer", "qualified": False, "stints": [["2020-01-01", "2021-01-01"]],
                                    "enrolled": {}, "completed": {}}),
    ],
})


def test_the_certification_list_shows_whether_and_when_each_living_retiree_in_scope_was_certified() -> None:
    rows = sheets.export_rows(sheets.KINDS["certifications"], VIEWS, sheets.Selection(2026, {"city": "Changsha"}))
    assert [(r["retiree_id"], r["certified"], r["certified_on_recorded"]) for r in rows] == [
        (R2, "否", None), (R1, "是", "2026-03-05")]  # by community code: CS-FR-002 before CS-YL-001


def test_a_filter_outside_the_callers_scope_lists_nothing() -> None:
    selection = sheets.Selection(2026, {"community": COMMUNITY}, city="Zhuzhou")
    assert sheets.export_rows(sheets.KINDS["adjustments"], VIEWS, selection) == []


def test_the_adjustment_list_is_prefilled_with_the_current_pension() -> None:
    rows = sheets.export_rows(sheets.KINDS["adjustments"], VIEWS, sheets.Selection(2026, {"community": COMMUNITY}))
    assert rows == [{"retiree_id": R1, "city": "Changsha", "community": COMMUNITY, "pension_status": "active",
                     "adjustments_in_year": 1, "previous_amount": "3090.00", "effective_month": "2026-01",
                     "reason": "annual_adjustment"}]


def test_the_roster_lists_active_staff_and_the_training_list_outstanding_courses() -> None:
    selection = sheets.Selection(2026)
    roster = sheets.export_rows(sheets.KINDS["staff"], VIEWS, selection, "en")
    assert roster == [{"community": COMMUNITY, "staff_id": "s1", "role": "full_time",
                       "qualified_social_worker": "yes", "joined_on": "2024-01-02"}]
    courses = sheets.export_rows(sheets.KINDS["training"], VIEWS, selection)
    assert [(r["staff_id"], r["course"]) for r in courses] == [("s1", "P2")]


def test_the_funding_list_names_each_community_in_scope_with_its_city_as_the_area() -> None:
    rows = sheets.export_rows(sheets.KINDS["funding"], VIEWS, sheets.Selection(2026, {"city": "Changsha"}))
    assert rows == [{"area": "Changsha", "community": COMMUNITY, "city": "Changsha", "year": 2026,
                     "funded_in_year": "80000.00"}]


def test_a_funding_row_with_an_amount_allocates_funding() -> None:
    _, rows = sheets.read_sheet(sheets.KINDS["funding"], csv(
        "拨款地区,社区编码,年度,拨付金额,资金来源,资金用途",
        f"Changsha,{COMMUNITY},2026,\"¥12,000.50\",福利彩票公益金,健康体检",
        f"Changsha,{OTHER},2026,,,"), "csv")
    assert [row.command for row in rows] == [cmd.AllocateFunding(
        area="Changsha", community=COMMUNITY, year=2026, amount=Decimal("12000.50"), source="lottery_welfare_fund",
        purpose="health_checks"), None]


def test_an_export_reads_back_as_rows_with_nothing_to_record() -> None:
    for name in sheets.KINDS:
        for language in sheets.LANGUAGES:
            content, count = sheets.export_sheet(sheets.KINDS[name], VIEWS, sheets.Selection(2026), "xlsx", language)
            if count:
                _, rows = sheets.read_sheet(sheets.KINDS[name], content, "xlsx")
                assert [row.command for row in rows] == [None] * count, (name, language)
            else:
                header, _ = tables.read(content, "xlsx")
                assert sheets.layout(sheets.KINDS[name], header).language == language
