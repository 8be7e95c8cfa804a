"""Every rule of issue 12: agencies' standards and courses; courses, qualifications, facilities and
funding of communities. Given past events, when a command, then new events or the named error."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from ledger.domain.agency import Agency
from ledger.domain.community import Community
from ledger.domain.values import agency_uuid, covers
from ledger.errors import RuleViolationError

TODAY = date(2026, 6, 30)


def stamp() -> dict[str, Any]:
    return {"recorded_by": "tester", "event_id": uuid4()}


def agency(area: str = "Changsha") -> Agency:
    found = Agency.establish(area=area, name=f"{area} SIA", **stamp())
    found.collect_events()
    return found


def adopted(a: Agency, code: str = "S1", indicator: str = "certified_share", threshold: str = "0.9",
            since: date = date(2020, 1, 1)) -> Agency:
    a.adopt_standard(code=code, indicator=indicator, threshold=Decimal(threshold), period="year",
                     effective_from=since, policy_reference="CS-RS-2020-01", **stamp())
    return a


def community(city: str = "Changsha") -> Community:
    found = Community.register(code="CS-YL-001", name="Yuelu", city=city, district="Yuelu", street="S",
                               kind="urban_community", **stamp())
    found.join_staff(staff_id="s1", name="Li Na", role="full_time", qualified_social_worker=False,
                     joined_on=date(2020, 1, 1), today=TODAY, **stamp())
    found.collect_events()
    return found


def rule_of(error: pytest.ExceptionInfo[RuleViolationError]) -> str:
    return error.value.rule


# ---- agency ---------------------------------------------------------------------------------------

def test_an_agency_stream_is_named_by_its_area() -> None:
    assert agency("Hunan").id == agency_uuid("Hunan") != agency_uuid("Changsha")


def test_the_province_covers_every_city_and_a_city_only_itself() -> None:
    assert covers("Hunan", "Zhuzhou") and covers("Changsha", "Changsha") and not covers("Changsha", "Zhuzhou")


def test_a_standard_keeps_every_version_with_its_effective_date() -> None:
    a = adopted(agency())
    a.revise_standard(code="S1", threshold=Decimal("0.95"), effective_from=date(2022, 7, 1), policy_reference="r2",
                      **stamp())
    a.retire_standard(code="S1", effective_from=date(2025, 1, 1), policy_reference="r3", **stamp())
    versions = a.standards["S1"]["versions"]
    assert [(v["version"], v["threshold"], v["retired"]) for v in versions] == [
        (1, Decimal("0.9"), False), (2, Decimal("0.95"), False), (3, Decimal("0.95"), True)]
    assert [type(e).__name__ for e in a.collect_events()] == ["StandardAdopted", "StandardRevised", "StandardRetired"]


def test_a_standard_code_is_adopted_once() -> None:
    with pytest.raises(RuleViolationError) as error:
        adopted(adopted(agency()))
    assert rule_of(error) == "standard_code_unique"


@pytest.mark.parametrize(("indicator", "threshold"), [("certified_share", "1.5"), ("mean_satisfaction", "5.5"),
                                                       ("training_hours_per_full_time_staff", "2001")])
def test_a_threshold_must_make_sense_for_its_indicator(indicator: str, threshold: str) -> None:
    with pytest.raises(RuleViolationError) as error:
        adopted(agency(), indicator=indicator, threshold=threshold)
    assert rule_of(error) == "threshold_plausible"


def test_only_an_adopted_standard_is_revised_or_retired() -> None:
    a = agency()
    with pytest.raises(RuleViolationError) as error:
        a.revise_standard(code="S9", threshold=Decimal("0.5"), effective_from=date(2022, 1, 1), policy_reference="",
                          **stamp())
    assert rule_of(error) == "standard_adopted"
    with pytest.raises(RuleViolationError) as error:
        a.retire_standard(code="S9", effective_from=date(2022, 1, 1), policy_reference="", **stamp())
    assert rule_of(error) == "standard_adopted"


def test_versions_take_effect_in_order() -> None:
    a = adopted(agency())
    with pytest.raises(RuleViolationError) as error:
        a.revise_standard(code="S1", threshold=Decimal("0.8"), effective_from=date(2020, 1, 1), policy_reference="",
                          **stamp())
    assert rule_of(error) == "standard_versions_in_order"


def test_a_retired_standard_is_not_revised_or_retired_again() -> None:
    a = adopted(agency())
    a.retire_standard(code="S1", effective_from=date(2021, 1, 1), policy_reference="", **stamp())
    for change in (lambda: a.retire_standard(code="S1", effective_from=date(2022, 1, 1), policy_reference="",
                                             **stamp()),
                   lambda: a.revise_standard(code="S1", threshold=Decimal("0.5"), effective_from=date(2022, 1, 1),
                                             policy_reference="", **stamp())):
        with pytest.raises(RuleViolationError) as error:
            change()
        assert rule_of(error) == "standard_not_retired"


def test_a_course_code_is_offered_once() -> None:
    a = agency()
    a.offer_course(code="C1", title="Policy", hours=16, topic="policy", **stamp())
    assert a.course("C1") == {"title": "Policy", "hours": 16, "topic": "policy"}
    with pytest.raises(RuleViolationError) as error:
        a.offer_course(code="C1", title="Again", hours=8, topic="policy", **stamp())
    assert rule_of(error) == "course_code_unique"


# ---- community: courses, qualifications, facilities, funding ------------------------------------

def enrol(k: Community, staff_id: str = "s1", offered: bool = True, on: date = date(2021, 3, 1)) -> None:
    k.enrol_in_course(staff_id=staff_id, course="C1", enrolled_on=on, offered=offered, today=TODAY, **stamp())


def test_a_staff_member_enrols_and_completes_a_course() -> None:
    k = community()
    enrol(k)
    k.complete_course(staff_id="s1", course="C1", completed_on=date(2021, 4, 1), today=TODAY, **stamp())
    assert k.staff["s1"]["courses"] == {"C1": "completed"}


def test_a_course_nobody_offers_is_refused() -> None:
    with pytest.raises(RuleViolationError) as error:
        enrol(community(), offered=False)
    assert rule_of(error) == "course_offered"


def test_an_unknown_staff_member_is_refused_by_name() -> None:
    with pytest.raises(RuleViolationError) as error:
        enrol(community(), staff_id="nobody")
    assert rule_of(error) == "staff_known" and "nobody" in error.value.detail


def test_staff_must_be_active_on_the_day() -> None:
    with pytest.raises(RuleViolationError) as error:
        enrol(community(), on=date(2019, 12, 31))
    assert rule_of(error) == "staff_active_in_community"


def test_a_course_is_enrolled_in_once() -> None:
    k = community()
    enrol(k)
    with pytest.raises(RuleViolationError) as error:
        enrol(k)
    assert rule_of(error) == "course_enrolled_once"


def test_only_an_enrolled_course_is_completed_and_only_once() -> None:
    k = community()
    with pytest.raises(RuleViolationError) as error:
        k.complete_course(staff_id="s1", course="C1", completed_on=date(2021, 4, 1), today=TODAY, **stamp())
    assert rule_of(error) == "course_enrolled"
    enrol(k)
    k.complete_course(staff_id="s1", course="C1", completed_on=date(2021, 4, 1), today=TODAY, **stamp())
    with pytest.raises(RuleViolationError) as error:
        k.complete_course(staff_id="s1", course="C1", completed_on=date(2021, 5, 1), today=TODAY, **stamp())
    assert rule_of(error) == "course_enrolled"


def test_dates_in_the_future_are_refused() -> None:
    with pytest.raises(RuleViolationError) as error:
        enrol(community(), on=date(2026, 7, 1))
    assert rule_of(error) == "date_in_future"


def test_qualifications_only_rise() -> None:
    k = community()
    k.obtain_qualification(staff_id="s1", level="social_worker", obtained_on=date(2021, 5, 1), today=TODAY, **stamp())
    for level in ("social_worker", "assistant_social_worker"):
        with pytest.raises(RuleViolationError) as error:
            k.obtain_qualification(staff_id="s1", level=level, obtained_on=date(2022, 5, 1), today=TODAY, **stamp())
        assert rule_of(error) == "qualification_rises"
    k.obtain_qualification(staff_id="s1", level="senior_social_worker", obtained_on=date(2024, 5, 1), today=TODAY,
                           **stamp())
    assert k.staff["s1"]["qualification"] == "senior_social_worker"


def test_a_facility_is_recorded_once_with_a_plausible_area() -> None:
    k = community()
    k.record_facility(facility_id="F1", kind="activity_room", area_m2=120, opened_on=date(2019, 5, 1), today=TODAY,
                      **stamp())
    with pytest.raises(RuleViolationError) as error:
        k.record_facility(facility_id="F1", kind="activity_room", area_m2=120, opened_on=date(2019, 5, 1),
                          today=TODAY, **stamp())
    assert rule_of(error) == "facility_recorded_once"
    with pytest.raises(RuleViolationError) as error:
        k.record_facility(facility_id="F2", kind="elderly_canteen", area_m2=0, opened_on=date(2019, 5, 1),
                          today=TODAY, **stamp())
    assert rule_of(error) == "facility_area_plausible"


@pytest.mark.parametrize(("area", "allowed"), [("Changsha", True), ("Hunan", True), ("Zhuzhou", False)])
def test_funding_comes_from_the_communitys_city_or_the_province(area: str, allowed: bool) -> None:
    k = community()

    def allocate() -> None:
        k.allocate_funding(area=area, year=2024, amount=Decimal("1000.5"), source="city", purpose="staff", **stamp())

    if allowed:
        allocate()
        assert k.funding == {"2024": Decimal("1000.50")}
    else:
        with pytest.raises(RuleViolationError) as error:
            allocate()
        assert rule_of(error) == "funding_within_area"


def test_funding_must_be_positive() -> None:
    with pytest.raises(RuleViolationError) as error:
        community().allocate_funding(area="Changsha", year=2024, amount=Decimal("0"), source="city", purpose="staff",
                                     **stamp())
    assert rule_of(error) == "amount_must_be_positive"
