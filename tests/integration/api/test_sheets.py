"""``/v1/sheets/{kind}`` over HTTP with tokens: each kind exported, filled in and imported again (CSV and XLSX,
Chinese and English headers); bad rows refused by row and column while the good ones are saved; a malformed
file refused whole; the error sheet as a download; role and scope checked per row; idempotent resends; and
exports without names or ID numbers."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from ledger.config import Settings
from ledger.exchange import sheets, tables
from ledger.tokens import TokenStore
from tests.people import id_number

LOCAL = "http://127.0.0.1"
PROBLEMS = "https://social-care-ledger.example/problems/"
CITY = "Changsha"
HOME = "CS-YL-001"
OTHER = "CS-FR-002"
BORN = "1950-05-06"
YEAR = "2026"
NAMES = ("Zhang Wei", "Wang Fang", "Li Na", "Chen Jing")


@dataclass
class World:
    """A Changsha agency with a course, two communities (staff s1 and s2 at HOME, s3 at OTHER), two retirees
    managed by HOME and one by OTHER, and a client with a token per role."""

    client: TestClient
    tokens: dict[str, dict[str, str]]
    home: list[str]
    other: str
    id_numbers: list[str]

    def post(self, who: str, path: str, body: Any) -> dict[str, Any]:
        response = self.client.post(path, json=body, headers=self.tokens[who])
        assert response.status_code == 201, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def head(self) -> int:
        value: int = self.client.get("/health").json()["head"]
        return value

    def export(self, kind: str, who: str, fmt: tables.Format = "csv", lang: str = "zh",
               **params: str) -> tuple[list[str], list[list[str]]]:
        response = self.client.get(f"/v1/sheets/{kind}", params={"format": fmt, "lang": lang, **params},
                                   headers=self.tokens[who])
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith(tables.MEDIA_TYPES[fmt].split(";")[0])
        header, rows = tables.read(response.content, fmt)
        assert response.headers["Sheet-Rows"] == str(len(rows))
        return header, [cells for _, cells in rows]

    def send(self, kind: str, who: str, content: bytes, fmt: tables.Format = "csv", *, key: str | None = None,
             report: str | None = None) -> Any:
        headers = {**self.tokens[who], "Content-Type": tables.MEDIA_TYPES[fmt]}
        if key is not None:
            headers["Idempotency-Key"] = key
        return self.client.post(f"/v1/sheets/{kind}", content=content, headers=headers,
                                params={"report": report} if report else None)


def community(code: str) -> dict[str, str]:
    return {"code": code, "name": f"Community {code}", "city": CITY, "district": "Yuelu", "street": "Lushan Rd",
            "kind": "urban_community"}


def retiree(sequence: int) -> dict[str, str]:
    return {"name": NAMES[sequence % len(NAMES)], "id_number": id_number(BORN, sequence),
            "sex": "male" if sequence % 2 else "female", "birth_date": BORN, "danwei_code": "HN-RAIL-02",
            "danwei_name": "Changsha Railway Works", "retirement_date": "2010-05-06", "monthly_pension": "3000.00",
            "agency": "CS-SIA", "city": CITY, "district": "Yuelu"}


def staff(staff_id: str, name: str) -> dict[str, Any]:
    return {"type": "staff_joined", "staff_id": staff_id, "name": name, "role": "full_time",
            "qualified_social_worker": True, "joined_on": "2015-01-01"}


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    store = TokenStore.of(settings)
    tokens = {who: {"Authorization": f"Bearer {store.create(role, scope)[0]}"} for who, role, scope in (
        ("agency", "agency", f"city:{CITY}"), ("zhuzhou", "agency", "city:Zhuzhou"),
        ("home", "community", f"community:{HOME}"), ("other", "community", f"community:{OTHER}"),
        ("auditor", "auditor", "all"), ("viewer", "viewer", "all"))}
    with TestClient(create_app(settings), base_url=LOCAL) as client:
        world = World(client, tokens, [], "", [])
        world.post("agency", "/v1/agencies/Changsha/events", {"type": "agency_established", "name": "Changsha SIA"})
        world.post("agency", "/v1/agencies/Changsha/events", {"type": "course_offered", "code": "C1",
                                                              "title": "Case work", "hours": 16,
                                                              "topic": "social_work_methods"})
        for code in (HOME, OTHER):
            world.post("agency", "/v1/communities", community(code))
        world.post("home", f"/v1/communities/{HOME}/events", staff("s1", "Li Na"))
        world.post("home", f"/v1/communities/{HOME}/events", staff("s2", "Chen Jing"))
        world.post("other", f"/v1/communities/{OTHER}/events", staff("s3", "Wang Fang"))
        world.post("home", f"/v1/communities/{HOME}/events", {"type": "enrolled_in_course", "staff_id": "s1",
                                                              "course": "C1", "enrolled_on": "2026-01-10"})
        for sequence, code in ((1, HOME), (2, HOME), (3, OTHER)):
            found = world.post("agency", "/v1/retirees", retiree(sequence))["id"]
            world.post("agency", f"/v1/retirees/{found}/events", {
                "type": "transferred_to_community", "from_danwei": "HN-RAIL-02", "community": code,
                "effective_date": "2011-01-01", "approved_by": "agency officer"})
            world.id_numbers.append(id_number(BORN, sequence))
            if code == HOME:
                world.home.append(found)
            else:
                world.other = found
        yield world


def sheet(header: list[str], rows: list[list[str]], fmt: tables.Format = "csv") -> bytes:
    return tables.write(header, [dict(zip(header, cells, strict=True)) for cells in rows], fmt)


def fill(kind: str, header: list[str], row: list[str], **values: str) -> list[str]:
    """``row`` with the cells of the columns named (English names, whatever the headers' language) set."""
    names = [column.name for column in sheets.KINDS[kind].columns]
    assert len(names) == len(header)
    return [values.get(name, cell) for name, cell in zip(names, row, strict=True)]


def position(kind: str, name: str) -> int:
    return [column.name for column in sheets.KINDS[kind].columns].index(name)


def blank(kind: str, **values: str) -> list[str]:
    return [values.get(column.name, "") for column in sheets.KINDS[kind].columns]


def answered(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# ---- round trips: export, fill in, import ---------------------------------------------------------------------

ROUND_TRIPS = [(fmt, lang) for fmt in tables.FORMATS for lang in sheets.LANGUAGES]


@pytest.mark.parametrize(("fmt", "lang"), ROUND_TRIPS)
def test_a_certification_list_is_exported_filled_in_and_imported(world: World, fmt: tables.Format, lang: str) -> None:
    header, rows = world.export("certifications", "home", fmt, lang, year=YEAR)
    assert sorted(row[0] for row in rows) == sorted(world.home)  # the community's own retirees only
    filled = [fill("certifications", header, row, method="上门认证" if lang == "zh" else "home_visit",
                   certified_on="2026-03-05") for row in rows]
    body = answered(world.send("certifications", "home", sheet(header, filled, fmt), fmt))
    assert (body["rows"], body["appended"], body["failed"]) == (2, 2, 0)
    assert {r["id"] for r in body["results"]} == set(world.home) and {r["status"] for r in body["results"]} == {201}
    _, again = world.export("certifications", "home", fmt, lang, year=YEAR)
    assert {row[position("certifications", "certified_on_recorded")] for row in again} == {"2026-03-05"}


@pytest.mark.parametrize(("fmt", "lang"), ROUND_TRIPS)
def test_an_adjustment_list_is_exported_filled_in_and_imported(world: World, fmt: tables.Format, lang: str) -> None:
    header, rows = world.export("adjustments", "agency", fmt, lang, year=YEAR)
    assert len(rows) == 3  # the agency's city
    filled = [fill("adjustments", header, row, new_amount="3090.00") for row in rows]
    body = answered(world.send("adjustments", "agency", sheet(header, filled, fmt), fmt))
    assert (body["appended"], body["failed"]) == (3, 0)
    for found in [*world.home, world.other]:
        pension = world.client.get(f"/v1/retirees/{found}", headers=world.tokens["agency"]).json()
        assert pension["monthly_pension"] == "3090.00"
    _, again = world.export("adjustments", "agency", fmt, lang, year=YEAR)
    previous, counted = position("adjustments", "previous_amount"), position("adjustments", "adjustments_in_year")
    assert {(row[previous], row[counted]) for row in again} == {("3090.00", "1")}


@pytest.mark.parametrize(("fmt", "lang"), ROUND_TRIPS)
def test_a_service_record_sheet_is_filled_in_from_its_headers_and_imported(
    world: World, fmt: tables.Format, lang: str
) -> None:
    header, rows = world.export("services", "home", fmt, lang)
    assert rows == []
    filled = [blank("services", retiree_id=world.home[0], service_id=f"sv-{fmt}-{lang}", community=HOME,
                    service_type="上门探访" if lang == "zh" else "home_visit", delivered_on="2026-03-01",
                    staff_id="s1", duration_minutes="45", notes="brought medicine"),
              blank("services", id_number=world.id_numbers[1], service_id=f"sv2-{fmt}-{lang}", community=HOME,
                    service_type="health_check", delivered_on="2026年3月2日", staff_id="s2", duration_minutes="30")]
    body = answered(world.send("services", "home", sheet(header, filled, fmt), fmt))
    assert (body["appended"], body["failed"]) == (2, 0)
    assert [r["id"] for r in body["results"]] == world.home[:2]
    history = world.client.get(f"/v1/retirees/{world.home[1]}/history", headers=world.tokens["home"]).json()
    assert history[-1]["type"] == "ServiceDelivered" and history[-1]["data"]["duration_minutes"] == 30


@pytest.mark.parametrize(("fmt", "lang"), ROUND_TRIPS)
def test_a_staff_roster_is_exported_changed_and_imported(world: World, fmt: tables.Format, lang: str) -> None:
    header, rows = world.export("staff", "home", fmt, lang)
    assert [row[1] for row in rows] == ["s1", "s2"]
    changed = [rows[0], fill("staff", header, rows[1], left_on="2026-06-30", reason="moved away"),
               blank("staff", community=HOME, staff_id="s4", name="Zhao Lei", role="兼职" if lang == "zh" else
                     "part_time", qualified_social_worker="否" if lang == "zh" else "no", joined_on="2026-07-01")]
    body = answered(world.send("staff", "home", sheet(header, changed, fmt), fmt))
    assert [r["outcome"] for r in body["results"]] == ["skipped", "appended", "appended"]
    _, again = world.export("staff", "home", fmt, lang)
    assert [(row[1], row[3]) for row in again] == [("s1", "full_time"), ("s4", "part_time")]


@pytest.mark.parametrize(("fmt", "lang"), ROUND_TRIPS)
def test_a_training_list_is_exported_filled_in_and_imported(world: World, fmt: tables.Format, lang: str) -> None:
    header, rows = world.export("training", "home", fmt, lang)
    assert [(row[1], row[2]) for row in rows] == [("s1", "C1")]
    body = answered(world.send("training", "home", sheet(header, [fill("training", header, rows[0],
                                                                     completed_on="2026-03-20")], fmt), fmt))
    assert (body["appended"], body["failed"]) == (1, 0)
    assert world.export("training", "home", fmt, lang)[1] == []  # nothing left outstanding


@pytest.mark.parametrize(("fmt", "lang"), ROUND_TRIPS)
def test_a_funding_list_is_exported_filled_in_and_imported(world: World, fmt: tables.Format, lang: str) -> None:
    header, rows = world.export("funding", "agency", fmt, lang, year=YEAR)
    area, code = position("funding", "area"), position("funding", "community")
    funded = position("funding", "funded_in_year")
    assert [(row[area], row[code], row[funded]) for row in rows] == [(CITY, OTHER, "0"), (CITY, HOME, "0")]
    filled = [fill("funding", header, rows[0], amount="12,000.00", source="市级财政" if lang == "zh" else "city",
                   purpose="staff"), rows[1]]
    body = answered(world.send("funding", "agency", sheet(header, filled, fmt), fmt))
    assert [(r["outcome"], r["id"]) for r in body["results"]] == [("appended", OTHER), ("skipped", None)]
    _, again = world.export("funding", "agency", fmt, lang, year=YEAR)
    assert [(row[code], row[funded]) for row in again] == [(OTHER, "12000.00"), (HOME, "0")]


def test_funding_rows_outside_the_agencys_area_or_for_unknown_communities_are_refused(world: World) -> None:
    before = world.head()
    header = ["拨款地区", "社区编码", "年度", "拨付金额", "资金来源", "资金用途"]
    body = answered(world.send("funding", "agency", sheet(header, [
        [CITY, HOME, "2026", "5000", "福利彩票公益金", "活动经费"],
        ["Zhuzhou", HOME, "2026", "5000", "city", "staff"],
        [CITY, "CS-XX-999", "2026", "5000", "city", "staff"]])))
    assert [(r["row"], r["status"], r["column"]) for r in body["results"]] == [
        (2, 201, None), (3, 403, "拨款地区"), (4, 422, "社区编码")]
    assert body["results"][2]["type"] == PROBLEMS + "rule/community_registered"
    community = answered(world.send("funding", "home", sheet(header, [[CITY, HOME, "2026", "5000", "city", "staff"]])))
    assert community["results"][0]["status"] == 403
    assert world.head() == before + 1


# ---- bad rows, bad files ---------------------------------------------------------------------------------------

ADJUSTMENTS_ZH = ["退休人员编号", "身份证号码", "调整前月养老金", "调整后月养老金", "生效月份", "调整原因"]


def test_a_file_with_bad_rows_in_chinese_saves_the_good_rows_and_names_each_bad_one(world: World) -> None:
    before = world.head()
    content = sheet(ADJUSTMENTS_ZH, [
        [world.home[0], "", "3000.00", "3090.00", "2026年1月", "年度调整"],
        [world.home[1], "", "2800.00", "3090.00", "2026-01", "年度调整"],  # the previous amount is 3000.00
        ["", id_number(BORN, 77), "3000.00", "3090.00", "2026-01", ""],  # nobody has this ID number
        ["", world.id_numbers[2], "3000.00", "3090.00", "2026-01", ""],
    ])
    body = answered(world.send("adjustments", "agency", content))
    assert (body["rows"], body["appended"], body["failed"]) == (4, 2, 2)
    refused = [(r["row"], r["status"], r["column"]) for r in body["results"] if r["outcome"] == "refused"]
    assert refused == [(3, 422, "调整前月养老金"), (4, 404, "身份证号码")]
    assert body["results"][1]["type"] == PROBLEMS + "rule/previous_amount_must_match"
    assert id_number(BORN, 77) not in str(body)
    assert world.head() == before + 2
    pensions = [world.client.get(f"/v1/retirees/{r}", headers=world.tokens["agency"]).json()["monthly_pension"]
                for r in (*world.home, world.other)]
    assert pensions == ["3090.00", "3000.00", "3090.00"]


def test_a_file_with_malformed_cells_is_refused_whole_by_row_and_column(world: World) -> None:
    before = world.head()
    content = sheet(ADJUSTMENTS_ZH, [
        [world.home[0], "", "3000.00", "3090.00", "2026-01", "年度调整"],
        [world.home[1], "", "3000.00", "三千", "2026-13", "年度调整"],
        ["not-an-id", "", "3000.00", "3090.00", "2026-01", "涨工资"],
    ])
    response = world.send("adjustments", "agency", content)
    assert (response.status_code, response.headers["content-type"]) == (422, "application/problem+json")
    body = response.json()
    assert body["type"] == PROBLEMS + "invalid-input" and "nothing saved" in body["detail"]
    assert {(e["row"], e["column"]) for e in body["errors"]} == {
        (3, "调整后月养老金"), (3, "生效月份"), (4, "退休人员编号"), (4, "调整原因")}
    assert body["count"] == 4 and "not-an-id" not in response.text
    assert world.head() == before


def corrupt_xlsx() -> bytes:
    """A workbook whose sheet is not XML (the zip is sound)."""
    sound = zipfile.ZipFile(io.BytesIO(tables.write(["retiree_id"], [], "xlsx")))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as broken:
        for name in sound.namelist():
            broken.writestr(name, b"<junk" if name.endswith("sheet1.xml") else sound.read(name))
    return out.getvalue()


@pytest.mark.parametrize(("content", "media", "status", "detail"), [
    (b"", "text/csv", 422, "send the file"),
    (b"retiree_id,year\r\n", "application/json", 415, "text/csv"),
    (b"not a workbook", tables.MEDIA_TYPES["xlsx"], 422, "xlsx workbook"),
    (corrupt_xlsx(), tables.MEDIA_TYPES["xlsx"], 422, "xlsx workbook"),
    (b"retiree_id,year\r\n" + b"x" * 200_000 + b",2026\r\n", "text/csv", 422, "128 KiB"),
    ("身份证号码,年度\r\n".encode("gbk"), "text/csv", 422, "UTF-8"),
    (b"retiree_id,year,certified_on\r\n", "text/csv", 422, "no data rows"),
])
def test_an_unreadable_body_is_one_problem_and_saves_nothing(
    world: World, content: bytes, media: str, status: int, detail: str
) -> None:
    before = world.head()
    response = world.client.post("/v1/sheets/certifications", content=content,
                                 headers={**world.tokens["home"], "Content-Type": media})
    assert (response.status_code, response.headers["content-type"]) == (status, "application/problem+json")
    assert detail in response.json()["detail"]
    assert world.head() == before


def test_a_file_larger_than_a_json_body_may_be_is_read(world: World) -> None:
    rows = [[world.home[0], "2026", "", ""]] * 3000  # nothing to record: a list not filled in yet
    content = sheet(CERTIFICATIONS_ZH, rows)
    assert len(content) > 64 * 1024
    body = answered(world.send("certifications", "home", content))
    assert (body["rows"], body["skipped"]) == (3000, 3000)


def test_an_unknown_kind_is_a_problem(world: World) -> None:
    response = world.client.get("/v1/sheets/salaries", headers=world.tokens["agency"])
    assert (response.status_code, response.headers["content-type"]) == (422, "application/problem+json")


# ---- the error sheet ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", tables.FORMATS)
def test_the_error_sheet_lists_the_refused_rows_with_their_cells_and_masks_id_numbers(
    world: World, fmt: tables.Format
) -> None:
    content = sheet(ADJUSTMENTS_ZH, [
        [world.home[0], "", "3000.00", "3090.00", "2026-01", ""],
        ["", world.id_numbers[1], "2000.00", "3090.00", "2026-01", ""],
    ])
    response = world.send("adjustments", "agency", content, report=fmt)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(tables.MEDIA_TYPES[fmt].split(";")[0])
    assert "attachment" in response.headers["content-disposition"]
    assert (response.headers["Sheet-Outcome"], response.headers["Sheet-Saved"], response.headers["Sheet-Failed"]) \
        == ("decided", "1", "1")
    header, rows = tables.read(response.content, fmt)
    assert header == ["行号", "列", "问题", *ADJUSTMENTS_ZH]
    assert [cells[:2] for _, cells in rows] == [["3", "调整前月养老金"]]
    assert "previous_amount_must_match" in rows[0][1][2]
    assert rows[0][1][3:6] == ["", "***", "2000.00"]
    assert world.id_numbers[1].encode() not in response.content


def test_an_error_sheet_holds_even_cells_with_control_characters(world: World) -> None:
    content = "退休人员编号,年度,认证方式,认证日期\r\nbad\x0eid,2026,现场认证,2026-03-05\r\n".encode()
    response = world.send("certifications", "home", content, report="xlsx")
    assert (response.status_code, response.headers["Sheet-Outcome"]) == (200, "refused")
    _, rows = tables.read(response.content, "xlsx")
    assert rows[0][1][:2] == ["2", "退休人员编号"] and rows[0][1][3] == "bad\ufffdid"


def test_the_error_sheet_of_a_refused_file_is_asked_for_by_accept(world: World) -> None:
    before = world.head()
    content = sheet(["retiree_id", "year", "method", "certified_on"], [[world.home[0], "2026", "by_magic", "2026-3-5"],
                                                                       [world.home[1], "2026", "home_visit", "x"]])
    response = world.client.post("/v1/sheets/certifications", content=content, headers={
        **world.tokens["home"], "Content-Type": "text/csv", "Accept": "text/csv"})
    assert response.status_code == 200 and response.headers["Sheet-Outcome"] == "refused"
    header, rows = tables.read(response.content, "csv")
    assert header[:3] == ["row", "column", "problem"]  # the file's headers were English
    assert [cells[:2] for _, cells in rows] == [["2", "method"], ["3", "certified_on"]]
    assert world.head() == before


# ---- access ----------------------------------------------------------------------------------------------------

CERTIFICATIONS_ZH = ["退休人员编号", "年度", "认证方式", "认证日期"]


def test_a_community_cannot_import_rows_for_another_communitys_retirees_or_staff(world: World) -> None:
    before = world.head()
    certified = answered(world.send("certifications", "home", sheet(CERTIFICATIONS_ZH, [
        [world.home[0], "2026", "现场认证", "2026-04-01"], [world.other, "2026", "现场认证", "2026-04-01"]])))
    assert [(r["outcome"], r["status"], r["column"]) for r in certified["results"]] == [
        ("appended", 201, None), ("refused", 403, "退休人员编号")]
    roster = answered(world.send("staff", "home", sheet(["社区编码", "工作人员编号", "离职日期", "离职原因"], [
        [OTHER, "s3", "2026-05-01", "poached"]])))
    assert (roster["results"][0]["status"], roster["results"][0]["column"]) == (403, "社区编码")
    assert world.head() == before + 1


def test_a_community_finds_no_retiree_of_another_community_by_id_number(world: World) -> None:
    body = answered(world.send("certifications", "home", sheet(["身份证号码", *CERTIFICATIONS_ZH[1:]], [
        [world.id_numbers[0], "2026", "现场认证", "2026-04-01"],
        [world.id_numbers[2], "2026", "现场认证", "2026-04-01"]])))
    assert [(r["status"], r["column"]) for r in body["results"]] == [(201, None), (404, "身份证号码")]


def test_an_agency_may_not_certify_nor_adjust_outside_its_city(world: World) -> None:
    adjust = sheet(ADJUSTMENTS_ZH, [[world.home[0], "", "3000.00", "3090.00", "2026-01", ""]])
    assert answered(world.send("adjustments", "zhuzhou", adjust))["results"][0]["status"] in (403, 404)
    certify = sheet(CERTIFICATIONS_ZH, [[world.home[0], "2026", "现场认证", "2026-04-01"]])
    assert answered(world.send("certifications", "agency", certify))["results"][0]["status"] == 403


@pytest.mark.parametrize("who", ["auditor", "viewer"])
def test_auditors_and_viewers_may_export_but_not_import(world: World, who: str) -> None:
    before = world.head()
    header, rows = world.export("adjustments", who)
    assert len(rows) == 3
    response = world.send("adjustments", who, sheet(header, [fill("adjustments", header, rows[0], new_amount="1.00")]))
    assert (response.status_code, response.headers["content-type"]) == (403, "application/problem+json")
    assert world.head() == before


def test_a_request_without_a_token_is_refused(world: World) -> None:
    assert world.client.get("/v1/sheets/staff").status_code == 401
    assert world.client.post("/v1/sheets/staff", content=b"a", headers={"Content-Type": "text/csv"}).status_code == 401


# ---- idempotency -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", tables.FORMATS)
def test_the_same_file_sent_twice_with_its_idempotency_key_appends_nothing_the_second_time(
    world: World, fmt: tables.Format
) -> None:
    content = sheet(CERTIFICATIONS_ZH, [[found, "2026", "人脸识别", "2026-02-02"] for found in world.home], fmt)
    first = answered(world.send("certifications", "home", content, fmt, key="cert-2026"))
    head = world.head()
    again = answered(world.send("certifications", "home", content, fmt, key="cert-2026"))
    assert world.head() == head
    assert (first["appended"], again["appended"], again["replayed"]) == (2, 0, 2)
    assert [(r["id"], r["seq"]) for r in again["results"]] == [(r["id"], r["seq"]) for r in first["results"]]
    without = answered(world.send("certifications", "home", content, fmt))
    assert {r["type"] for r in without["results"]} == {PROBLEMS + "rule/one_certification_per_year"}
    assert world.head() == head


# ---- no personal data in exports -----------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", tables.FORMATS)
@pytest.mark.parametrize("who", ["agency", "home", "auditor"])
def test_exports_hold_no_names_or_id_numbers(world: World, fmt: tables.Format, who: str) -> None:
    for kind in sheets.KINDS:
        for lang in sheets.LANGUAGES:
            _, rows = world.export(kind, who, fmt, lang)
            cells = {cell for row in rows for cell in row}
            assert not cells & {*NAMES, *world.id_numbers, BORN}, (kind, lang)
            personal = [i for i, column in enumerate(sheets.KINDS[kind].columns) if column.personal]
            assert all(row[i] == "" for row in rows for i in personal)
