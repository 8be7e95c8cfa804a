"""NDJSON export and import: round trip, idempotency, strict line checks, stop at the first bad line."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
import pytest

from devtools.demo import generate
from ledger import commands as c
from ledger.application import Ledger
from ledger.config import Settings
from ledger.domain.values import community_uuid
from ledger.errors import NotFoundError
from ledger.exchange.ndjson import ImportLineError, export_ndjson, import_ndjson, write_id_map

TODAY = date(2026, 6, 30)
ID_NUMBER = "430104195003071239"  # born 1950-03-07, valid check digit


def _ledger(home: Path) -> Ledger:
    return Ledger(Settings(home=home), clock=lambda: TODAY)


def _export(ledger: Ledger, retiree_id: UUID | None = None) -> list[bytes]:
    out = io.BytesIO()
    export_ndjson(ledger, out, retiree_id=retiree_id)
    return out.getvalue().splitlines(keepends=True)


def _histories(ledger: Ledger) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """Every stream's (type, data) list, keyed by the stream's first event id (stable across ledgers)."""
    streams: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    keys: dict[str, str] = {}
    for record in ledger.iter_log():
        entry = ledger.entry(record)
        if entry.type == "Claimed":
            continue
        key = keys.setdefault(entry.stream, entry.event_id or "")
        streams.setdefault(key, []).append((entry.type, entry.data))
    return streams


@pytest.fixture
def source(tmp_path: Path) -> Iterator[Ledger]:
    """A small hand-made ledger: one community, one staff member, one retiree with a few events."""
    ledger = _ledger(tmp_path / "source")
    ledger.handle(c.RegisterCommunity("CS-YL-001", "望月湖社区", "Changsha", "Yuelu", "望月湖街道", "urban_community"))
    ledger.handle(c.RegisterCommunity("CS-YL-002", "桃花岭社区", "Changsha", "Yuelu", "桃花岭街道", "urban_community"))
    ledger.handle(c.JoinStaff("CS-YL-001", "s1", "李婷", "full_time", True, date(2010, 1, 1)))
    retiree = UUID(ledger.handle(c.Enroll("王建国", ID_NUMBER, "male", date(1950, 3, 7), "CS-JC01", "长沙机床厂",
                                          date(2010, 4, 1), Decimal("2500"), "CS-SIA", "Changsha", "Yuelu")).id)
    ledger.handle(c.TransferToCommunity(retiree, "CS-JC01", "CS-YL-001", date(2011, 1, 1), "officer"))
    ledger.handle(c.DeliverService(retiree, "sv1", "CS-YL-001", "home_visit", date(2012, 5, 1), "s1", 45))
    ledger.handle(c.RateSatisfaction(retiree, 5, date(2012, 5, 2), "phone", "sv1"))
    ledger.handle(c.AdjustPension(retiree, Decimal("2500"), Decimal("2600"), "2013-01", "annual_adjustment"))
    ledger.handle(c.Relocate(retiree, "CS-YL-002", date(2014, 3, 1), "moved in with children"))
    ledger.handle(c.CertifyEligibility(retiree, 2014, "in_person", date(2014, 6, 1)))
    yield ledger
    ledger.close()


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Ledger]:
    ledger = _ledger(tmp_path / "target")
    yield ledger
    ledger.close()


def test_export_writes_business_events_only_with_community_codes(source: Ledger) -> None:
    lines = [orjson.loads(line) for line in _export(source)]

    assert len(lines) == 10 and source.head() == 11  # the identity claim is not exported
    assert [line["seq"] for line in lines] == sorted(line["seq"] for line in lines)
    assert {line["aggregate"] for line in lines} == {"retiree", "community"}
    assert all(line["data"]["code"] in ("CS-YL-001", "CS-YL-002") for line in lines if line["aggregate"] == "community")
    enrolled = next(line for line in lines if line["type"] == "Enrolled")
    assert set(enrolled) == {"seq", "stream", "aggregate", "version", "type", "event_id", "recorded_by", "timestamp",
                             "data"}
    assert enrolled["data"]["monthly_pension"] == "2500.00" and enrolled["data"]["birth_date"] == "1950-03-07"


def test_export_of_one_retiree_holds_only_its_stream(source: Ledger) -> None:
    retiree = source.find_retiree(ID_NUMBER)
    assert retiree is not None

    lines = [orjson.loads(line) for line in _export(source, retiree)]

    assert [line["version"] for line in lines] == list(range(1, 8))
    assert {line["stream"] for line in lines} == {str(retiree)}
    with pytest.raises(NotFoundError):
        _export(source, community_uuid("CS-YL-001"))


def test_export_then_import_into_a_fresh_ledger_reproduces_every_history(source: Ledger, target: Ledger) -> None:
    report = import_ndjson(target, _export(source))

    assert (report.lines, report.appended, report.replayed) == (10, 10, 0)
    assert (report.communities, report.retirees) == (2, 1)
    assert _histories(target) == _histories(source)
    moved = target.find_retiree(ID_NUMBER)
    assert moved is not None and target.retiree(moved).community == "CS-YL-002"


def test_a_demo_ledger_survives_the_round_trip(tmp_path: Path, target: Ledger) -> None:
    demo = _ledger(tmp_path / "demo")
    generate(demo, retirees=12, seed=9)

    import_ndjson(target, _export(demo))

    assert _histories(target) == _histories(demo)
    assert target.head() == demo.head()
    demo.close()


def test_importing_the_same_file_twice_appends_nothing_the_second_time(source: Ledger, target: Ledger) -> None:
    lines = _export(source)
    import_ndjson(target, lines)
    head = target.head()

    again = import_ndjson(target, lines)

    assert target.head() == head
    assert (again.appended, again.replayed) == (0, 10)


def test_importing_into_the_source_ledger_itself_appends_nothing(source: Ledger) -> None:
    head = source.head()

    report = import_ndjson(source, _export(source))

    assert report.replayed == 10 and source.head() == head


def _with_line(lines: list[bytes], index: int, change: Any) -> list[bytes]:
    """``lines`` with line ``index`` replaced: by bytes as given, or by a function of its JSON object."""
    changed = list(lines)
    changed[index] = change if isinstance(change, bytes) else orjson.dumps(change(orjson.loads(lines[index]))) + b"\n"
    return changed


def _set(path: str, value: Any) -> Any:
    def change(line: dict[str, Any]) -> dict[str, Any]:
        *parents, leaf = path.split(".")
        node = line
        for key in parents:
            node = node[key]
        if value is KeyError:
            del node[leaf]
        else:
            node[leaf] = value
        return line

    return change


BAD_LINES = [
    (b"{not json\n", "invalid JSON"),
    (b"[1, 2]\n", "a line must be a JSON object"),
    (_set("type", "Teleported"), "unknown event type 'Teleported'"),
    (_set("colour", "red"), "unexpected key 'colour'"),
    (_set("data.certified_on", KeyError), "missing field 'certified_on'"),
    (_set("data.mood", "happy"), "unexpected field 'mood'"),
    (_set("data.retiree_id", "6f1c2a7e-9b1d-4c55-8d0e-2a4f3b9c7d10"), "unexpected field 'retiree_id'"),
    (_set("data.certified_on", 20140601), "field 'certified_on': Input should be a valid date"),
    (_set("data.certified_on", "2014-02-30"), "field 'certified_on': day is out of range for month"),
    (_set("data.year", "2014"), "field 'year': Input should be a valid integer"),
    (_set("data.year", True), "field 'year': Input should be a valid integer"),
    (_set("data.method", "telepathy"), "field 'method': must be one of"),
    (_set("data.year", 3000), "field 'year': Input should be less than or equal to 2100"),
    (_set("data.method", "in_person" * 10), "field 'method': must be one of"),
    (_set("data.year", 2013), "certification_in_its_year"),
    (_set("stream", "not-a-uuid"), "stream must be a UUID"),
    (_set("stream", "6f1c2a7e-9b1d-4c55-8d0e-2a4f3b9c7d10"), "not found"),
    (_set("event_id", 17), "event_id must be a UUID"),
    (_set("aggregate", "community"), "aggregate must be 'retiree'"),
]


@pytest.mark.parametrize(("change", "reason"), BAD_LINES)
def test_a_bad_line_stops_the_import_names_its_line_and_saves_nothing_of_it(
    source: Ledger, target: Ledger, change: Any, reason: str
) -> None:
    lines = _export(source)
    last = len(lines) - 1  # the certification, the file's last line
    assert orjson.loads(lines[last])["type"] == "EligibilityCertified"

    with pytest.raises(ImportLineError) as raised:
        import_ndjson(target, _with_line(lines, last, change))

    assert raised.value.line_no == last + 1
    assert reason in raised.value.reason
    assert raised.value.detail.startswith(f"line {last + 1}: ")
    assert target.head() == source.head() - 1  # every line before it (and the identity claim), not the bad one


def test_lines_after_a_bad_line_are_not_imported(source: Ledger, target: Ledger) -> None:
    lines = _export(source)

    with pytest.raises(ImportLineError) as raised:
        import_ndjson(target, _with_line(lines, 3, b"oops\n"))

    assert raised.value.line_no == 4
    assert target.head() == 3


def test_a_broken_rule_is_reported_with_its_rule_and_without_personal_data(source: Ledger, target: Ledger) -> None:
    lines = _export(source)
    import_ndjson(target, lines)
    duplicate = _with_line(lines, 3, _set("event_id", "00000000-0000-4000-8000-000000000001"))[3]
    head = target.head()

    with pytest.raises(ImportLineError) as raised:
        import_ndjson(target, [duplicate])

    assert raised.value.reason.startswith("one_enrollment_per_id_number")
    assert ID_NUMBER not in raised.value.detail and "王建国" not in raised.value.detail
    assert target.head() == head


def test_an_ill_typed_personal_field_is_reported_without_its_value(source: Ledger, target: Ledger) -> None:
    lines = _export(source)

    with pytest.raises(ImportLineError) as raised:
        import_ndjson(target, _with_line(lines, 3, _set("data.id_number", 430104195003071234)))

    assert raised.value.reason == "field 'id_number': Input should be a valid string"
    assert "430104" not in raised.value.detail


@pytest.mark.parametrize(
    ("value", "reason"),
    [("CS-YL-009", "relocation_from_current_community"), (KeyError, "missing field 'from_community'"),
     (7, "field 'from_community': expected a string")],
)
def test_a_relocation_must_name_the_community_the_retiree_leaves(
    source: Ledger, target: Ledger, value: Any, reason: str
) -> None:
    lines = _export(source)
    index = next(i for i, line in enumerate(lines) if orjson.loads(line)["type"] == "Relocated")

    with pytest.raises(ImportLineError) as raised:
        import_ndjson(target, _with_line(lines, index, _set("data.from_community", value)))

    assert raised.value.reason.startswith(reason)
    assert target.head() == index + 1  # the lines before it and the identity claim


def test_blank_lines_are_skipped_and_progress_counts_lines(source: Ledger, target: Ledger) -> None:
    lines = _export(source)
    calls: list[tuple[int, int]] = []

    report = import_ndjson(target, [b"\n", *lines, b"  \n"], progress=lambda done, total: calls.append((done, total)))

    assert report.lines == 10
    assert calls[0] == (0, 12) and calls[-1] == (12, 12)


def test_the_id_map_names_each_retiree_of_the_file_with_its_new_id_also_before_a_bad_line(
    source: Ledger, target: Ledger, tmp_path: Path
) -> None:
    lines = _export(source)
    old = source.find_retiree(ID_NUMBER)
    ids: dict[str, UUID] = {}

    with pytest.raises(ImportLineError):
        import_ndjson(target, _with_line(lines, len(lines) - 1, b"oops\n"), id_map=ids)
    new = target.find_retiree(ID_NUMBER)
    written = write_id_map(tmp_path / "ids.csv", ids)

    assert new is not None and new != old
    assert ids == {str(old): new} and written == 1
    assert (tmp_path / "ids.csv").read_text() == f"old_id,new_id\n{old},{new}\n"
    assert oct((tmp_path / "ids.csv").stat().st_mode & 0o777) == "0o600"
