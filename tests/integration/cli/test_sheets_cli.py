"""``ledger sheets import|export`` on copies of one demo ledger: exports written as files without personal
data, imports whose refused rows or cells are a table of row, column and problem with exit code 1, and bad
input as one line on stderr."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import pytest

from ledger.application import Ledger
from ledger.config import Settings
from ledger.exchange import sheets, tables
from tests.integration.cli.test_cli import ledger_cli

YEAR = "2026"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("sheets") / "home"
    result = ledger_cli(home, "demo", "--retirees", "6", "--seed", "5")
    assert result.exit_code == 0, result.output
    return home


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A demo ledger of its own, for a test that writes (a sealed home cannot be copied elsewhere)."""
    home = tmp_path / "home"
    result = ledger_cli(home, "demo", "--retirees", "6", "--seed", "5")
    assert result.exit_code == 0, result.output
    return home


def head(home: Path) -> int:
    ledger = Ledger(Settings(home=home))
    try:
        return ledger.head()
    finally:
        ledger.close()


def personal_data(home: Path, retirees: list[str]) -> set[str]:
    """The names and ID numbers the retirees were enrolled with."""
    ledger = Ledger(Settings(home=home))
    try:
        enrolled = [ledger.history(UUID(retiree))[0].data for retiree in retirees]
    finally:
        ledger.close()
    return {str(data[field]) for data in enrolled for field in ("name", "id_number")}


def export(home: Path, kind: str, target: Path, *args: str) -> tuple[list[str], list[list[str]]]:
    result = ledger_cli(home, "sheets", "export", kind, "--out", str(target), *args)
    assert result.exit_code == 0, result.output
    header, rows = tables.read(target.read_bytes(), tables.format_of(target.name, None))
    assert f"wrote {len(rows)} row" in result.stdout
    return header, [cells for _, cells in rows]


def column(kind: str, name: str) -> int:
    return [c.name for c in sheets.KINDS[kind].columns].index(name)


def adjustments_filled(home: Path, tmp_path: Path, broken: int | None = None) -> Path:
    """This year's adjustment list (English headers) with a new amount on every row; on row ``broken`` (as in
    the file) a previous amount that differs from the pension."""
    header, rows = export(home, "adjustments", tmp_path / "list.csv", "--year", YEAR, "--lang", "en")
    assert len(rows) >= 3
    for number, cells in enumerate(rows, start=2):
        cells[column("adjustments", "new_amount")] = "4000.00"
        if number == broken:
            cells[column("adjustments", "previous_amount")] = "1.00"
    filled = tmp_path / "filled.xlsx"
    filled.write_bytes(tables.write(header, [dict(zip(header, cells, strict=True)) for cells in rows], "xlsx"))
    return filled


# ---- export ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("suffix", ["csv", "xlsx"])
def test_export_writes_a_file_of_every_kind_without_names_or_id_numbers(demo: Path, tmp_path: Path,
                                                                        suffix: str) -> None:
    _, listed = export(demo, "adjustments", tmp_path / f"adjustments.{suffix}", "--year", YEAR)
    secrets = personal_data(demo, [row[0] for row in listed])
    assert len(secrets) == 2 * len(listed)
    for kind in sheets.KINDS:
        target = tmp_path / f"{kind}.{suffix}"
        header, rows = export(demo, kind, target, "--year", YEAR)
        assert header == [c.zh for c in sheets.KINDS[kind].columns]
        assert not {cell for row in rows for cell in row} & secrets, kind
        if suffix == "csv":
            assert not any(secret in target.read_text("utf-8-sig") for secret in secrets)


def test_export_names_its_file_after_the_kind_and_filters(demo: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = ledger_cli(demo, "sheets", "export", "certifications", "--year", YEAR, "--city", "Changsha",
                        "--format", "csv", "--lang", "en")
    assert result.exit_code == 0, result.output
    header, rows = tables.read((tmp_path / f"certifications-{YEAR}-Changsha.csv").read_bytes(), "csv")
    assert header[0] == "retiree_id" and rows
    assert {cells[column("certifications", "city")] for _, cells in rows} == {"Changsha"}


# ---- import ------------------------------------------------------------------------------------------------------

def test_an_import_with_a_bad_row_prints_a_table_of_row_column_and_problem_and_exits_1(
    home: Path, tmp_path: Path
) -> None:
    filled = adjustments_filled(home, tmp_path, broken=3)
    before = head(home)
    report = tmp_path / "problems.csv"
    result = ledger_cli(home, "sheets", "import", "adjustments", str(filled), "--report", str(report))
    assert result.exit_code == 1, result.output
    assert "1 row refused" in result.stdout
    table = [line for line in result.stdout.splitlines() if "│" in line or "┃" in line]
    assert [cell.strip() for cell in table[0].strip("┃").split("┃")] == ["row", "column", "problem"]
    assert [cell.strip() for cell in table[1].strip("│").split("│")][:2] == ["3", "previous_amount"]
    assert "previous_amount_must_match" in result.stdout
    rows = len(export(home, "adjustments", tmp_path / "again.csv", "--year", YEAR)[1])
    assert f"{rows} rows: {rows - 1} appended" in result.stdout
    assert head(home) == before + rows - 1
    header, problems = tables.read(report.read_bytes(), "csv")
    assert header[:3] == ["row", "column", "problem"] and [cells[:2] for _, cells in problems] == [
        ["3", "previous_amount"]]
    assert "Traceback" not in result.output


def test_an_import_of_good_rows_exits_0_and_again_with_its_key_appends_nothing(home: Path, tmp_path: Path) -> None:
    filled = adjustments_filled(home, tmp_path)
    first = ledger_cli(home, "sheets", "import", "adjustments", str(filled), "--idempotency-key", "annual-2026")
    after = head(home)
    again = ledger_cli(home, "sheets", "import", "adjustments", str(filled), "--idempotency-key", "annual-2026")
    assert (first.exit_code, again.exit_code) == (0, 0), first.output + again.output
    assert "0 already present" in first.stdout and "0 appended" in again.stdout and "row refused" not in again.stdout
    assert head(home) == after


def test_a_file_with_malformed_cells_in_chinese_is_a_table_and_saves_nothing(demo: Path, tmp_path: Path) -> None:
    before = head(demo)
    bad = tmp_path / "认证.csv"
    bad.write_bytes("退休人员编号,年度,认证方式,认证日期\r\nnot-an-id,2026,现场认证,2026-03-05\r\n"
                    "00000000-0000-4000-8000-000000000001,2026,by_magic,2026-02-30\r\n".encode())
    result = ledger_cli(demo, "sheets", "import", "certifications", str(bad))
    assert result.exit_code == 1
    assert "refused, nothing saved (3 problems)" in result.stdout
    rows = [[cell.strip() for cell in line.strip("│").split("│")][:2] for line in result.stdout.splitlines()
            if line.startswith("│") and line.split("│")[1].strip()]
    assert rows == [["2", "退休人员编号"], ["3", "认证方式"], ["3", "认证日期"]]
    assert head(demo) == before and "Traceback" not in result.output


@pytest.mark.parametrize(("name", "content", "message"), [
    ("list.txt", b"retiree_id\r\n", "error: a spreadsheet must be a .csv (UTF-8) or .xlsx file"),
    ("list.xlsx", b"not a workbook", "error: the file is not a readable .xlsx workbook"),
    ("list.csv", "身份证号码,年度\r\n".encode("gbk"),
     "error: a CSV file must be UTF-8 encoded (save it as 'CSV UTF-8')"),
    ("list.csv", b"", "error: the file is empty: no header row"),
])
def test_bad_input_is_one_line_on_stderr_and_exit_1(demo: Path, tmp_path: Path, name: str, content: bytes,
                                                     message: str) -> None:
    before = head(demo)
    given = tmp_path / name
    given.write_bytes(content)
    result = ledger_cli(demo, "sheets", "import", "certifications", str(given))
    assert result.exit_code == 1
    assert result.stderr.strip() == message and result.stdout == ""
    assert head(demo) == before


def test_an_export_that_cannot_be_written_is_one_line_on_stderr(demo: Path, tmp_path: Path) -> None:
    result = ledger_cli(demo, "sheets", "export", "staff", "--out", str(tmp_path / "missing" / "staff.xlsx"))
    assert result.exit_code == 1
    assert result.stderr.strip().startswith("error: cannot write ") and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


@pytest.mark.parametrize("args", [["export", "staff", "--format", "ods"], ["export", "staff", "--lang", "fr"],
                                  ["export", "salaries"], ["import", "staff", "/no/such/file.csv"]])
def test_usage_errors_exit_2(demo: Path, args: list[str]) -> None:
    result = ledger_cli(demo, "sheets", *args)
    assert result.exit_code == 2 and "Traceback" not in result.output
