"""Every domain rule: given past events, when a command, then new events or the named error."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from ledger.domain.community import Community
from ledger.domain.retiree import Retiree
from ledger.errors import RuleViolationError
from tests.people import id_number

TODAY = date(2026, 6, 30)
STAMP = {"recorded_by": "tester"}


def stamp() -> dict[str, Any]:
    return {**STAMP, "event_id": uuid4()}


def replay(events: Sequence[Any]) -> Any:
    aggregate = None
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


def enrolled(**overrides: Any) -> list[Any]:
    fields: dict[str, Any] = dict(
        name="Wang Fang", id_number=id_number(date(1955, 5, 5)), sex="female", birth_date=date(1955, 5, 5),
        danwei_code="D-TEX-01", danwei_name="Changsha Textile Mill", retirement_date=date(2005, 6, 1),
        monthly_pension=Decimal("2100"), agency="CS-SIA", city="Changsha", district="Yuelu",
    )
    fields.update(overrides)
    retiree = Retiree.enroll(retiree_id=uuid4(), today=TODAY, **fields, **stamp())
    return list(retiree.collect_events())


def history(*steps: Callable[[Retiree], None], **enroll: Any) -> list[Any]:
    """Builds a past by running commands; the test then replays it as given events."""
    events = enrolled(**enroll)
    retiree = replay(events)
    for step in steps:
        step(retiree)
        events.extend(retiree.collect_events())
    return events


def transfer(community: str = "CS-YL-001", on: date = date(2006, 1, 1)) -> Callable[[Retiree], None]:
    return lambda r: r.transfer_to_community(
        from_danwei="D-TEX-01", community=community, effective_date=on, approved_by="agency-1",
        personnel_file=True, socialized_payment=True, contact_card=True, party_relation=False, **stamp(),
    )


def service(service_id: str = "sv-1", on: date = date(2020, 3, 2), community: str = "CS-YL-001",
            staff_active: bool = True) -> Callable[[Retiree], None]:
    return lambda r: r.deliver_service(
        service_id=service_id, community=community, delivered_on=on, staff_active=staff_active, today=TODAY,
        service_type="home_visit", staff_id="s-1", duration_minutes=45, notes="", **stamp(),
    )


def rating(service_id: str | None = "sv-1", on: date = date(2020, 3, 3), score: int = 4) -> Callable[[Retiree], None]:
    return lambda r: r.rate_satisfaction(
        service_id=service_id, score=score, rated_on=on, today=TODAY, comment="", channel="phone", **stamp()
    )


def adjust(previous: str = "2100", new: str = "2200", month: str = "2021-01",
           reason: str = "annual_adjustment") -> Callable[[Retiree], None]:
    return lambda r: r.adjust_pension(
        previous_amount=Decimal(previous), new_amount=Decimal(new), effective_month=month, reason=reason,
        policy_reference="HRSS-2021-1", **stamp(),
    )


def certify(year: int = 2021, on: date = date(2021, 4, 1)) -> Callable[[Retiree], None]:
    return lambda r: r.certify_eligibility(year=year, certified_on=on, today=TODAY, method="in_person", **stamp())


def suspend(month: str = "2021-05") -> Callable[[Retiree], None]:
    return lambda r: r.suspend_pension(effective_month=month, reason="certification missed", **stamp())


def resume(month: str = "2021-08", back_pay: str = "6300") -> Callable[[Retiree], None]:
    return lambda r: r.resume_pension(effective_month=month, reason="certified", back_pay=Decimal(back_pay), **stamp())


def relocate(to: str = "CS-FR-002", on: date = date(2015, 1, 1)) -> Callable[[Retiree], None]:
    return lambda r: r.relocate(to_community=to, effective_date=on, reason="moved in with children", **stamp())


def death(on: date = date(2022, 2, 1)) -> Callable[[Retiree], None]:
    return lambda r: r.record_death(date_of_death=on, today=TODAY, reported_by="family", **stamp())


def then_events(given: list[Any], when: Callable[[Retiree], None]) -> list[str]:
    retiree = replay(given)
    when(retiree)
    return [type(e).__name__ for e in retiree.collect_events()]


def then_rule(given: list[Any], when: Callable[[Retiree], None]) -> str:
    retiree = replay(given)
    version = retiree.version
    with pytest.raises(RuleViolationError) as caught:
        when(retiree)
    assert retiree.collect_events() == [] and retiree.version == version
    return caught.value.rule


# ---- transfer and relocation ----------------------------------------------------------------


def test_transfer_from_danwei_stage_is_recorded() -> None:
    assert then_events(history(), transfer()) == ["TransferredToCommunity"]


def test_second_transfer_is_refused_because_transfer_only_from_danwei() -> None:
    assert then_rule(history(transfer()), transfer("CS-FR-002")) == "transfer_only_from_danwei"


def test_transfer_before_retirement_is_refused() -> None:
    assert then_rule(history(), transfer(on=date(2004, 1, 1))) == "transfer_before_retirement"


def test_relocation_while_community_managed_is_recorded() -> None:
    assert then_events(history(transfer()), relocate()) == ["Relocated"]


def test_relocation_from_danwei_stage_is_refused() -> None:
    assert then_rule(history(), relocate()) == "relocation_only_while_community_managed"


def test_relocation_into_the_same_community_is_refused() -> None:
    assert then_rule(history(transfer()), relocate(to="CS-YL-001")) == "relocation_to_other_community"


# ---- pension -------------------------------------------------------------------------------


def test_adjustment_with_matching_previous_amount_is_recorded() -> None:
    given = history(transfer())
    assert then_events(given, adjust()) == ["PensionAdjusted"]
    retiree = replay(given)
    adjust()(retiree)
    assert retiree.monthly_pension == Decimal("2200.00")


def test_adjustment_with_wrong_previous_amount_is_refused() -> None:
    assert then_rule(history(), adjust(previous="2000")) == "previous_amount_must_match"


@pytest.mark.parametrize("amount", ["0", "-5", "NaN"])
def test_adjustment_to_non_positive_amount_is_refused(amount: str) -> None:
    assert then_rule(history(), adjust(new=amount)) == "amount_must_be_positive"


def test_enrollment_with_non_positive_pension_is_refused() -> None:
    with pytest.raises(RuleViolationError) as caught:
        enrolled(monthly_pension=Decimal("0"))
    assert caught.value.rule == "amount_must_be_positive"


def test_adjustment_effective_before_retirement_is_refused() -> None:
    assert then_rule(history(), adjust(month="2005-05")) == "effective_month_before_retirement"


def test_suspended_pension_cannot_be_adjusted_until_resumed() -> None:
    assert then_rule(history(suspend()), adjust()) == "pension_suspended"
    assert then_events(history(suspend(), resume()), adjust()) == ["PensionAdjusted"]


def test_suspending_twice_is_refused() -> None:
    assert then_rule(history(suspend()), suspend("2021-06")) == "pension_not_active"


def test_resuming_an_active_pension_is_refused() -> None:
    assert then_rule(history(), resume()) == "pension_not_suspended"


def test_negative_back_pay_is_refused() -> None:
    assert then_rule(history(suspend()), resume(back_pay="-1")) == "back_pay_not_negative"


# ---- certification ---------------------------------------------------------------------------


def test_one_certification_per_year() -> None:
    given = history(certify())
    assert then_rule(given, certify(on=date(2021, 9, 1))) == "one_certification_per_year"
    assert then_events(given, certify(2022, date(2022, 3, 1))) == ["EligibilityCertified"]


def test_certification_in_the_future_is_refused() -> None:
    assert then_rule(history(), certify(2026, date(2026, 7, 1))) == "date_in_future"


# ---- services and ratings ------------------------------------------------------------------


def test_service_by_managing_community_and_active_staff_is_recorded() -> None:
    assert then_events(history(transfer()), service()) == ["ServiceDelivered"]


def test_service_by_another_community_is_refused() -> None:
    assert then_rule(history(transfer()), service(community="ZZ-HT-001")) == "service_by_managing_community"


def test_service_before_transfer_is_refused() -> None:
    assert then_rule(history(transfer(on=date(2010, 1, 1))), service(on=date(2009, 1, 1))) == (
        "service_by_managing_community"
    )


def test_service_by_former_community_after_relocation_is_refused() -> None:
    given = history(transfer(), relocate(on=date(2015, 1, 1)))
    assert then_rule(given, service(on=date(2016, 1, 1))) == "service_by_managing_community"
    assert then_events(given, service(on=date(2014, 12, 1))) == ["ServiceDelivered"]


def test_service_by_inactive_staff_is_refused() -> None:
    assert then_rule(history(transfer()), service(staff_active=False)) == "staff_active_in_community"


def test_service_in_the_future_is_refused() -> None:
    assert then_rule(history(transfer()), service(on=date(2026, 7, 1))) == "date_in_future"


def test_service_id_is_unique_per_retiree() -> None:
    assert then_rule(history(transfer(), service()), service()) == "service_id_unique"


def test_rating_of_a_delivered_service_is_recorded_once() -> None:
    given = history(transfer(), service())
    assert then_events(given, rating()) == ["SatisfactionRated"]
    assert then_rule(history(transfer(), service(), rating()), rating()) == "one_rating_per_service"


def test_rating_of_an_unknown_service_is_refused() -> None:
    assert then_rule(history(transfer()), rating("sv-404")) == "rating_of_delivered_service"


def test_rating_before_its_service_is_refused() -> None:
    assert then_rule(history(transfer(), service()), rating(on=date(2020, 3, 1))) == "rating_after_service"


@pytest.mark.parametrize("score", [0, 6])
def test_rating_score_outside_1_to_5_is_refused(score: int) -> None:
    assert then_rule(history(transfer(), service()), rating(score=score)) == "score_between_1_and_5"


def test_overall_rating_without_service_is_recorded() -> None:
    assert then_events(history(transfer()), rating(None)) == ["SatisfactionRated"]


# ---- death ---------------------------------------------------------------------------------


def test_after_death_only_corrections_are_accepted() -> None:
    given = history(transfer(), death())
    for when in (service(on=date(2022, 3, 1)), certify(2022, date(2022, 3, 1)), relocate(), suspend("2022-03"),
                 adjust(new="2300", month="2022-01"), death()):
        assert then_rule(given, when) == "retiree_deceased"
    assert then_events(given, adjust(new="2150", month="2022-01", reason="correction")) == ["PensionAdjusted"]
    assert then_rule(given, adjust(new="2150", month="2022-03", reason="correction")) == "retiree_deceased"


def test_death_ends_the_pension() -> None:
    retiree = replay(history(transfer(), death()))
    assert (retiree.stage, retiree.pension_status, retiree.community_on(date(2022, 3, 1))) == (
        "deceased", "ended", None,
    )


# ---- community -------------------------------------------------------------------------------


def community_history(*steps: Callable[[Community], None]) -> Community:
    community = Community.register(code="CS-YL-001", name="Yuelu Street Community", city="Changsha",
                                   district="Yuelu", street="Yinpenling", kind="urban_community", **stamp())
    for step in steps:
        step(community)
    events = list(community.collect_events())
    return replay(events)  # type: ignore[no-any-return]


def joins(staff: str = "s-1", on: date = date(2015, 1, 1)) -> Callable[[Community], None]:
    return lambda c: c.join_staff(staff_id=staff, joined_on=on, today=TODAY, name="Zhou Min", role="full_time",
                                  qualified_social_worker=True, **stamp())


def leaves(staff: str = "s-1", on: date = date(2018, 6, 30)) -> Callable[[Community], None]:
    return lambda c: c.record_staff_left(staff_id=staff, left_on=on, today=TODAY, reason="better pay", **stamp())


def trained(staff: str = "s-1", on: date = date(2016, 1, 1), hours: int = 16) -> Callable[[Community], None]:
    return lambda c: c.record_training(staff_id=staff, course="Social work basics", hours=hours, completed_on=on,
                                       today=TODAY, **stamp())


def community_rule(community: Community, when: Callable[[Community], None]) -> str:
    with pytest.raises(RuleViolationError) as caught:
        when(community)
    assert community.collect_events() == []
    return caught.value.rule


def test_staff_active_on_a_date_follows_their_stints() -> None:
    community = community_history(joins(), leaves(), joins(on=date(2020, 1, 1)))
    assert [community.staff_active_on("s-1", d) for d in (date(2014, 12, 31), date(2016, 1, 1), date(2018, 6, 30),
                                                            date(2019, 1, 1), date(2021, 1, 1))] == [
        False, True, True, False, True,
    ]


def test_staff_cannot_join_twice_while_active() -> None:
    assert community_rule(community_history(joins()), joins(on=date(2016, 1, 1))) == "staff_already_active"


def test_staff_rejoining_must_start_after_leaving() -> None:
    assert community_rule(community_history(joins(), leaves()), joins(on=date(2018, 6, 1))) == (
        "staff_rejoin_after_leaving"
    )


def test_only_active_staff_can_leave() -> None:
    assert community_rule(community_history(), leaves()) == "staff_active_in_community"
    assert community_rule(community_history(joins(), leaves()), leaves(on=date(2019, 1, 1))) == (
        "staff_active_in_community"
    )


def test_leaving_before_joining_is_refused() -> None:
    assert community_rule(community_history(joins()), leaves(on=date(2014, 1, 1))) == "staff_left_after_joining"


def test_training_only_for_active_staff_and_plausible_hours() -> None:
    assert community_rule(community_history(), trained()) == "staff_active_in_community"
    assert community_rule(community_history(joins()), trained(hours=0)) == "training_hours_plausible"
    community = community_history(joins(), trained())
    assert community.staff["s-1"]["training_hours"] == 16


def test_staff_joining_in_the_future_is_refused() -> None:
    assert community_rule(community_history(), joins(on=date(2027, 1, 1))) == "date_in_future"


LATER = date(2026, 7, 1)  # the day after the ledger's today in these tests


def test_every_date_of_something_that_happened_is_judged_by_the_ledgers_today() -> None:
    """One clock: the domain refuses each such date after ``today`` (the schemas no longer judge it)."""
    with pytest.raises(RuleViolationError) as caught:
        enrolled(birth_date=LATER, retirement_date=date(2090, 1, 1))
    assert caught.value.rule == "date_in_future"
    served = history(transfer(), service())
    assert then_rule(served, rating(on=LATER)) == "date_in_future"
    assert then_rule(history(), death(on=LATER)) == "date_in_future"
    assert community_rule(community_history(joins()), leaves(on=LATER)) == "date_in_future"
    assert community_rule(community_history(joins()), trained(on=LATER)) == "date_in_future"
    assert then_events(served, rating(on=TODAY)) == ["SatisfactionRated"]
