"""The demo generator: deterministic per seed, plausible Hunan data, every rule checked by the ledger."""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from devtools.demo import END, DemoSummary, generate
from ledger.application import Ledger
from ledger.commands import EVENT_OF_COMMAND
from ledger.config import Settings
from ledger.exchange.ndjson import export_ndjson

RETIREES = 80
CHECK_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
DATE_FIELDS = ("joined_on", "left_on", "completed_on", "effective_date", "certified_on", "delivered_on", "rated_on",
               "date_of_death")


def _demo(home: Path, retirees: int, seed: int) -> tuple[DemoSummary, list[dict[str, Any]]]:
    ledger = Ledger(Settings(home=home))
    try:
        summary = generate(ledger, retirees=retirees, seed=seed)
        out = io.BytesIO()
        export_ndjson(ledger, out)
    finally:
        ledger.close()
    return summary, [orjson.loads(line) for line in out.getvalue().splitlines()]


def _comparable(lines: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The lines without timestamps, retiree streams renamed by order of first appearance."""
    names: dict[str, int] = {}
    return [
        (names.setdefault(line["stream"], len(names)) if line["aggregate"] == "retiree" else line["stream"],
         line["seq"], line["version"], line["type"], line["event_id"], line["recorded_by"], line["data"])
        for line in lines
    ]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DemoSummary, list[dict[str, Any]]]]:
    yield _demo(tmp_path_factory.mktemp("demo") / "home", retirees=RETIREES, seed=7)


def test_the_same_seed_gives_the_same_events_business_data_and_retiree_ids(tmp_path: Path) -> None:
    first_summary, first = _demo(tmp_path / "one", retirees=20, seed=11)
    second_summary, second = _demo(tmp_path / "two", retirees=20, seed=11)
    _, other = _demo(tmp_path / "three", retirees=20, seed=12)

    assert first_summary == second_summary
    assert _comparable(first) == _comparable(second)
    retirees = [line["stream"] for line in first if line["aggregate"] == "retiree"]
    assert retirees and retirees == [line["stream"] for line in second if line["aggregate"] == "retiree"]
    assert set(retirees).isdisjoint(line["stream"] for line in other if line["aggregate"] == "retiree")


def test_another_seed_gives_other_data(tmp_path: Path) -> None:
    _, first = _demo(tmp_path / "one", retirees=10, seed=1)
    _, second = _demo(tmp_path / "two", retirees=10, seed=2)

    assert [line["data"] for line in first] != [line["data"] for line in second]


def test_rerunning_a_seed_on_the_same_ledger_appends_nothing(ledger: Ledger) -> None:
    first = generate(ledger, retirees=5, seed=3)
    head = ledger.head()

    again = generate(ledger, retirees=5, seed=3)

    assert ledger.head() == head
    assert again.replayed == again.events == first.events


def test_every_event_type_appears(demo: tuple[DemoSummary, list[dict[str, Any]]]) -> None:
    summary, lines = demo
    counted = Counter(line["type"] for line in lines)

    assert set(counted) == set(EVENT_OF_COMMAND.values())
    assert counted == summary.by_type
    assert summary.events == len(lines)


def test_communities_are_in_changsha_zhuzhou_and_changde_about_one_per_40_retirees(
    demo: tuple[DemoSummary, list[dict[str, Any]]],
) -> None:
    _, lines = demo
    registered = [line["data"] for line in lines if line["type"] == "Registered"]
    districts = {"Changsha": {"Yuelu", "Furong", "Tianxin", "Kaifu", "Yuhua"},
                 "Zhuzhou": {"Hetang", "Lusong", "Shifeng", "Tianyuan"}, "Changde": {"Wuling", "Dingcheng"}}

    assert len(registered) == 3  # max(3, RETIREES / 40)
    assert {c["city"] for c in registered} == set(districts)
    for community in registered:
        assert community["district"] in districts[community["city"]]
        assert re.fullmatch(r"(CS|ZZ|CD)-[A-Z]{2}-\d{3}", community["code"])


def test_retirees_are_plausible(demo: tuple[DemoSummary, list[dict[str, Any]]]) -> None:
    _, lines = demo
    enrolled = [line["data"] for line in lines if line["type"] == "Enrolled"]

    assert len(enrolled) == RETIREES
    assert len({r["id_number"] for r in enrolled}) == RETIREES
    for r in enrolled:
        born, retired = date.fromisoformat(r["birth_date"]), date.fromisoformat(r["retirement_date"])
        assert 1935 <= born.year <= 1965
        age = retired.year - born.year - (retired.month <= born.month)
        assert age in ((60,) if r["sex"] == "male" else (50, 55))
        assert Decimal("500") <= Decimal(r["monthly_pension"]) <= Decimal("6500")
        number = r["id_number"]
        assert re.fullmatch(r"430[127]\d{13}[\dX]", number)
        assert number[6:14] == born.strftime("%Y%m%d")
        assert int(number[16]) % 2 == (1 if r["sex"] == "male" else 0)
        total = sum(int(d) * w for d, w in zip(number[:17], CHECK_WEIGHTS, strict=True))
        assert number[17] == "10X98765432"[total % 11]
    assert 0.4 < sum(r["sex"] == "female" for r in enrolled) / RETIREES < 0.65


def test_pensions_end_between_1800_and_6500_after_yearly_raises(
    demo: tuple[DemoSummary, list[dict[str, Any]]],
) -> None:
    _, lines = demo
    current = {line["stream"]: Decimal(line["data"]["monthly_pension"]) for line in lines if line["type"] == "Enrolled"}
    for line in lines:
        if line["type"] == "PensionAdjusted":
            current[line["stream"]] = Decimal(line["data"]["new_amount"])

    assert all(Decimal("1800") <= amount <= Decimal("6500") for amount in current.values())
    assert Decimal("2200") < sorted(current.values())[len(current) // 2] < Decimal("4500")  # the median


def test_pensions_rise_by_three_to_six_percent_each_january(demo: tuple[DemoSummary, list[dict[str, Any]]]) -> None:
    _, lines = demo
    adjustments = [line["data"] for line in lines if line["type"] == "PensionAdjusted"]

    assert len(adjustments) > RETIREES * 5
    for a in adjustments:
        ratio = Decimal(a["new_amount"]) / Decimal(a["previous_amount"])
        assert Decimal("1.0299") < ratio < Decimal("1.0601")
        assert a["effective_month"].endswith("-01") and a["reason"] == "annual_adjustment"


def test_services_and_ratings_are_plausible(demo: tuple[DemoSummary, list[dict[str, Any]]]) -> None:
    _, lines = demo
    services = [line["data"] for line in lines if line["type"] == "ServiceDelivered"]
    ratings = [line["data"] for line in lines if line["type"] == "SatisfactionRated"]
    scores = Counter(r["score"] for r in ratings)

    assert {s["service_type"] for s in services} >= {"home_visit", "health_check", "cultural_activity",
                                                    "policy_consultation", "certification_assistance"}
    assert all(15 <= s["duration_minutes"] <= 180 for s in services)
    assert 0.2 < len([r for r in ratings if r["service_id"]]) / len(services) < 0.45
    assert any(r["service_id"] is None for r in ratings)  # overall ratings
    assert (scores[4] + scores[5]) / len(ratings) > 0.6 and scores[1] + scores[2] > 0


def test_every_business_date_lies_between_2008_and_the_end_date(
    demo: tuple[DemoSummary, list[dict[str, Any]]],
) -> None:
    _, lines = demo
    days = [date.fromisoformat(line["data"][f]) for line in lines for f in DATE_FIELDS if f in line["data"]]

    assert len(days) > 1000
    assert min(days) >= date(2008, 1, 1) and max(days) <= END


def test_staff_turn_over_and_deaths_occur(demo: tuple[DemoSummary, list[dict[str, Any]]]) -> None:
    summary, lines = demo
    joined = [line["data"] for line in lines if line["type"] == "StaffJoined"]

    assert summary.staff_members == len(joined)
    assert sum(line["type"] == "StaffLeft" for line in lines) > len(joined) / 2
    assert any(s["qualified_social_worker"] for s in joined)
    assert {s["role"] for s in joined} == {"full_time", "part_time", "volunteer"} or len(joined) < 10
    assert 0 < summary.deaths < RETIREES


def test_progress_reports_commands_up_to_the_total(ledger: Ledger) -> None:
    calls: list[tuple[int, int]] = []

    summary = generate(ledger, retirees=4, seed=5, progress=lambda done, total: calls.append((done, total)))

    assert calls[-1] == (summary.events, summary.events)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
