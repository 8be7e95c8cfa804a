"""NDJSON export and import of the issue-12 events: agency lines carry their area, funding is a community
line, and a re-import gives the same facts; an agency line on the wrong stream stops the import."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from ledger import commands as c
from ledger.application import Ledger
from ledger.config import Settings
from ledger.domain.values import agency_uuid
from ledger.exchange.ndjson import ImportLineError, export_ndjson, import_ndjson

TODAY = date(2026, 6, 30)
CS = "CS-YL-001"


def _ledger(home: Path) -> Ledger:
    return Ledger(Settings(home=home), clock=lambda: TODAY)


def _export(ledger: Ledger) -> list[bytes]:
    out = io.BytesIO()
    export_ndjson(ledger, out)
    return out.getvalue().splitlines(keepends=True)


def _filled(ledger: Ledger) -> None:
    ledger.handle(c.RegisterCommunity(CS, "望月湖社区", "Changsha", "Yuelu", "望月湖街道", "urban_community"))
    ledger.handle(c.JoinStaff(CS, "s1", "李婷", "full_time", False, date(2020, 1, 1)))
    ledger.handle(c.EstablishAgency("Hunan", "湖南省社会保险服务局"))
    ledger.handle(c.AdoptStandard("Hunan", "S1", "certified_share", Decimal("0.95"), "year", date(2020, 1, 1), "r1"))
    ledger.handle(c.ReviseStandard("Hunan", "S1", Decimal("0.97"), date(2022, 7, 1), "r2"))
    ledger.handle(c.RetireStandard("Hunan", "S1", date(2025, 1, 1), "r3"))
    ledger.handle(c.OfferCourse("Hunan", "C1", "政策", 16, "policy"))
    ledger.handle(c.EnrolInCourse(CS, "s1", "C1", date(2021, 3, 1)))
    ledger.handle(c.CompleteCourse(CS, "s1", "C1", date(2021, 4, 1)))
    ledger.handle(c.ObtainQualification(CS, "s1", "social_worker", date(2021, 5, 1)))
    ledger.handle(c.RecordFacility(CS, "F1", "elderly_canteen", 150, date(2019, 5, 1)))
    ledger.handle(c.AllocateFunding("Hunan", CS, 2021, Decimal("50000"), "province", "premises"))


def test_the_new_events_survive_a_round_trip(tmp_path: Path) -> None:
    source, target = _ledger(tmp_path / "a"), _ledger(tmp_path / "b")
    try:
        _filled(source)
        lines = _export(source)
        report = import_ndjson(target, lines)
        again = _export(target)
    finally:
        source.close()
        target.close()

    parsed = [orjson.loads(line) for line in lines]
    assert report.appended == len(lines) == 12
    assert {line["type"]: line["aggregate"] for line in parsed}["FundingAllocated"] == "community"
    assert all(line["data"]["area"] == "Hunan" for line in parsed if line["aggregate"] == "agency")
    assert [(line["type"], line["data"]) for line in parsed] == [
        (line["type"], line["data"]) for line in map(orjson.loads, again)]


def test_an_agency_line_on_another_areas_stream_stops_the_import(tmp_path: Path) -> None:
    source, target = _ledger(tmp_path / "a"), _ledger(tmp_path / "b")
    try:
        _filled(source)
        lines = _export(source)
        agency = next(i for i, line in enumerate(lines) if b'"AgencyEstablished"' in line)
        bad = orjson.loads(lines[agency])
        bad["stream"] = str(agency_uuid("Changsha"))
        with pytest.raises(ImportLineError) as error:
            import_ndjson(target, [*lines[:agency], orjson.dumps(bad) + b"\n", *lines[agency + 1:]])
    finally:
        source.close()
        target.close()
    assert error.value.line_no == agency + 1 and "area" in error.value.reason
