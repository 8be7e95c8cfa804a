"""The request schemas: strict, closed, bounded (validated as FastAPI does: JSON decoded, then python mode)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from pydantic import TypeAdapter, ValidationError

from api.schemas import (
    AgencyEventIn,
    CanonicalUuid,
    CommunityEventIn,
    EnrollIn,
    PensionAdjustedIn,
    RegisterCommunityIn,
    RetireeEventIn,
    ServiceDeliveredIn,
)
from ledger import commands as cmd

RETIREE_EVENT: TypeAdapter[Any] = TypeAdapter(RetireeEventIn)
COMMUNITY_EVENT: TypeAdapter[Any] = TypeAdapter(CommunityEventIn)


def enroll_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Wang Fang",
        "id_number": "430102195203041234",
        "sex": "female",
        "birth_date": "1952-03-04",
        "danwei_code": "HN-TEX-01",
        "danwei_name": "Hunan Textile Mill No. 1",
        "retirement_date": "2002-03-04",
        "monthly_pension": "2500.00",
        "agency": "CS-SIA",
        "city": "Changsha",
        "district": "Yuelu",
    }
    body.update(changes)
    return body


def service_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "service_delivered",
        "service_id": "svc-1",
        "community": "CS-YL-001",
        "service_type": "home_visit",
        "delivered_on": "2024-03-10",
        "staff_id": "s1",
        "duration_minutes": 60,
    }
    body.update(changes)
    return body


def from_json(text: str) -> Any:
    return json.loads(text)  # like Starlette's request.json(): NaN and Infinity decode to floats


def error_types(error: ValidationError) -> set[str]:
    return {str(e["type"]) for e in error.errors()}


def test_enroll_body_becomes_the_enroll_command_with_exact_decimal_and_dates() -> None:
    command = EnrollIn.model_validate(enroll_body()).to_command()
    assert isinstance(command, cmd.Enroll)
    assert command.monthly_pension == Decimal("2500.00")
    assert command.birth_date == date(1952, 3, 4)
    assert command.sex == "female" and type(command.sex) is str


def test_amounts_may_be_json_numbers_and_keep_their_written_value() -> None:
    body = from_json('{"type": "pension_adjusted", "previous_amount": 2500, "new_amount": 2612.5,'
                     ' "effective_month": "2024-01", "reason": "annual_adjustment"}')
    parsed = RETIREE_EVENT.validate_python(body)
    assert isinstance(parsed, PensionAdjustedIn)
    assert parsed.new_amount == Decimal("2612.5")


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_pensions_are_refused(amount: str) -> None:
    text = json.dumps(enroll_body(monthly_pension=0)).replace('"monthly_pension": 0', f'"monthly_pension": {amount}')
    body = from_json(text)
    assert body["monthly_pension"] != body["monthly_pension"] or abs(body["monthly_pension"]) == float("inf")
    with pytest.raises(ValidationError):
        EnrollIn.model_validate(body)


@pytest.mark.parametrize(
    "amount", ["NaN", "-5", "0", "0.00", "100000.01", "1e3", "2500.001", "", " 25", True, [1], -1, 0, 1e9,
               "\uff12\uff15\uff10\uff10", "2500.000", "02500", "+2500", 2500.001]
)
def test_pensions_outside_0_to_100000_with_2_places_are_refused(amount: object) -> None:
    with pytest.raises(ValidationError):
        EnrollIn.model_validate(enroll_body(monthly_pension=amount))


def test_the_highest_plausible_pension_is_accepted() -> None:
    assert EnrollIn.model_validate(enroll_body(monthly_pension="100000")).monthly_pension == Decimal("100000")


@pytest.mark.parametrize(
    "value", ["1899-12-31", "2101-01-01", "2024-02-30", "2024-2-3", "20240203", "2024-02-03T00:00:00", 20240203, None]
)
def test_dates_are_iso_strings_between_1900_and_2100(value: object) -> None:
    with pytest.raises(ValidationError):
        EnrollIn.model_validate(enroll_body(birth_date=value))


def test_date_bounds_are_inclusive() -> None:
    assert EnrollIn.model_validate(enroll_body(birth_date="1900-01-01")).birth_date == date(1900, 1, 1)
    transfer = {"type": "transferred_to_community", "from_danwei": "D1", "community": "C1",
                "effective_date": "2100-12-31", "approved_by": "x"}
    assert RETIREE_EVENT.validate_python(transfer).effective_date == date(2100, 12, 31)


TOMORROW = (date.today() + timedelta(days=1)).isoformat()
TODAY = date.today().isoformat()
HAPPENED = [
    (RETIREE_EVENT, {"type": "service_delivered", "service_id": "s", "community": "C1", "service_type": "home_visit",
                     "staff_id": "s1", "duration_minutes": 5}, "delivered_on"),
    (RETIREE_EVENT, {"type": "satisfaction_rated", "score": 3, "channel": "phone"}, "rated_on"),
    (RETIREE_EVENT, {"type": "eligibility_certified", "year": 2024, "method": "in_person"}, "certified_on"),
    (RETIREE_EVENT, {"type": "deceased", "reported_by": "x"}, "date_of_death"),
    (COMMUNITY_EVENT, {"type": "staff_joined", "staff_id": "s", "name": "n", "role": "volunteer",
                       "qualified_social_worker": False}, "joined_on"),
    (COMMUNITY_EVENT, {"type": "staff_left", "staff_id": "s", "reason": "r"}, "left_on"),
    (COMMUNITY_EVENT, {"type": "staff_trained", "staff_id": "s", "course": "c", "hours": 2}, "completed_on"),
]


@pytest.mark.parametrize(("adapter", "body", "field"), HAPPENED, ids=[field for _, _, field in HAPPENED])
def test_dates_of_things_that_happened_are_left_to_the_ledgers_clock(
    adapter: TypeAdapter[Any], body: dict[str, Any], field: str
) -> None:
    """One clock: the schema parses the date; whether it lies in the future is judged by the ledger
    (``date_in_future``, see tests/unit/ledger/domain/test_rules.py and the HTTP flow)."""
    assert getattr(adapter.validate_python({**body, field: TODAY}), field) == date.fromisoformat(TODAY)
    assert getattr(adapter.validate_python({**body, field: TOMORROW}), field) == date.fromisoformat(TOMORROW)
    schema = adapter.json_schema()
    assert "not after the ledger's today" in str(schema)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "x" * 65),
        ("name", ""),
        ("id_number", "43010219520304123"),
        ("id_number", "43010219520304123Y"),
        ("sex", "unknown"),
        ("danwei_code", "has space"),
        ("city", 42),
    ],
)
def test_enroll_fields_are_bounded_and_typed(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        EnrollIn.model_validate(enroll_body(**{field: value}))


def test_a_name_of_64_characters_is_accepted() -> None:
    assert len(EnrollIn.model_validate(enroll_body(name="名" * 64)).name) == 64


def test_extra_fields_are_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        EnrollIn.model_validate(enroll_body(nickname="Fang"))
    assert error_types(caught.value) == {"extra_forbidden"}


def test_an_unknown_event_type_is_refused_by_the_discriminator() -> None:
    with pytest.raises(ValidationError) as caught:
        RETIREE_EVENT.validate_python(service_body(type="teleported"))
    assert error_types(caught.value) == {"union_tag_invalid"}


def test_a_community_event_type_is_not_a_retiree_event() -> None:
    with pytest.raises(ValidationError):
        RETIREE_EVENT.validate_python({"type": "staff_left", "staff_id": "s1", "left_on": "2020-01-01", "reason": "x"})


@pytest.mark.parametrize("minutes", [0, 1441, -5, "60", "\uff16\uff10", 60.5, 1441.0, True])
def test_durations_are_integers_from_1_to_1440_minutes(minutes: object) -> None:
    with pytest.raises(ValidationError):
        RETIREE_EVENT.validate_python(service_body(duration_minutes=minutes))


def test_a_json_number_without_a_fraction_is_an_integer_as_in_json_schema() -> None:
    text = json.dumps(service_body(duration_minutes=60.0, expected_version=2.0))
    parsed = RETIREE_EVENT.validate_python(from_json(text))
    assert isinstance(parsed, ServiceDeliveredIn)
    assert (parsed.duration_minutes, parsed.expected_version) == (60, 2)
    assert type(parsed.duration_minutes) is int and type(parsed.expected_version) is int


@pytest.mark.parametrize("minutes", [1, 1440])
def test_duration_bounds_are_accepted(minutes: int) -> None:
    parsed = RETIREE_EVENT.validate_python(service_body(duration_minutes=minutes))
    assert isinstance(parsed, ServiceDeliveredIn) and parsed.duration_minutes == minutes


@pytest.mark.parametrize("score", [0, 6, "5", 4.5])
def test_scores_are_integers_from_1_to_5(score: object) -> None:
    body = {"type": "satisfaction_rated", "score": score, "rated_on": "2024-03-11", "channel": "phone"}
    with pytest.raises(ValidationError):
        RETIREE_EVENT.validate_python(body)


def test_free_text_is_limited_to_2000_characters() -> None:
    assert RETIREE_EVENT.validate_python(service_body(notes="n" * 2000)).notes == "n" * 2000
    with pytest.raises(ValidationError):
        RETIREE_EVENT.validate_python(service_body(notes="n" * 2001))


@pytest.mark.parametrize("month", ["2024-13", "2024-1", "1899-12", "24-01", "2024-01-01"])
def test_months_are_yyyy_mm(month: str) -> None:
    body = {"type": "pension_suspended", "effective_month": month, "reason": "certification missed"}
    with pytest.raises(ValidationError):
        RETIREE_EVENT.validate_python(body)


def test_booleans_are_json_booleans() -> None:
    body = {"type": "staff_joined", "staff_id": "s1", "name": "Li", "role": "full_time",
            "qualified_social_worker": "yes", "joined_on": "2015-01-01"}
    with pytest.raises(ValidationError):
        COMMUNITY_EVENT.validate_python(body)


def test_back_pay_may_be_zero_but_not_negative() -> None:
    body = {"type": "pension_resumed", "effective_month": "2024-05", "reason": "certified"}
    assert RETIREE_EVENT.validate_python({**body, "back_pay": 0}).back_pay == Decimal("0")
    with pytest.raises(ValidationError):
        RETIREE_EVENT.validate_python({**body, "back_pay": "-1.00"})


def test_expected_version_is_optional_and_not_part_of_the_command() -> None:
    retiree_id = uuid4()
    parsed = RETIREE_EVENT.validate_python(service_body(expected_version=3))
    assert parsed.expected_version == 3
    command = parsed.to_command(retiree_id=retiree_id)
    assert command == cmd.DeliverService(
        retiree_id=retiree_id, service_id="svc-1", community="CS-YL-001", service_type="home_visit",
        delivered_on=date(2024, 3, 10), staff_id="s1", duration_minutes=60, notes="",
    )
    with pytest.raises(ValidationError):
        RETIREE_EVENT.validate_python(service_body(expected_version=-1))


def test_community_registration_maps_to_its_command() -> None:
    body = {"code": "CS-YL-001", "name": "Yuelu Street Community", "city": "Changsha", "district": "Yuelu",
            "street": "Lushan Rd", "kind": "urban_community"}
    command = RegisterCommunityIn.model_validate(body).to_command()
    assert command == cmd.RegisterCommunity(**body)


def test_every_event_body_maps_to_a_command_kind() -> None:
    kinds = {model.command for model in (*RETIREE_EVENT_MODELS, *COMMUNITY_EVENT_MODELS, *AGENCY_EVENT_MODELS)}
    assert kinds == set(cmd.EVENT_OF_COMMAND) - {cmd.Enroll, cmd.RegisterCommunity}


def _union_members(adapter: TypeAdapter[Any]) -> list[Any]:
    schema = adapter.json_schema()
    return list(schema["discriminator"]["mapping"])


RETIREE_EVENT_MODELS = list(RetireeEventIn.__origin__.__args__)  # type: ignore[attr-defined]
COMMUNITY_EVENT_MODELS = list(CommunityEventIn.__origin__.__args__)  # type: ignore[attr-defined]
AGENCY_EVENT_MODELS = list(AgencyEventIn.__origin__.__args__)  # type: ignore[attr-defined]


def test_the_event_types_are_the_documented_ones() -> None:
    assert set(_union_members(RETIREE_EVENT)) == {
        "transferred_to_community", "relocated", "pension_adjusted", "eligibility_certified", "pension_suspended",
        "pension_resumed", "service_delivered", "satisfaction_rated", "deceased",
    }
    assert set(_union_members(COMMUNITY_EVENT)) == {
        "staff_joined", "staff_left", "staff_trained", "enrolled_in_course", "course_completed",
        "qualification_obtained", "facility_recorded",
    }
    assert set(_union_members(TypeAdapter(AgencyEventIn))) == {
        "agency_established", "standard_adopted", "standard_revised", "standard_retired", "course_offered",
        "funding_allocated",
    }


@pytest.mark.parametrize("amount", ["-0", "-0.00", "0.001", "\uff10", "1000000.01", "00"])
def test_back_pay_is_written_as_its_schema_says(amount: str) -> None:
    body = {"type": "pension_resumed", "effective_month": "2024-05", "reason": "certified", "back_pay": amount}
    with pytest.raises(ValidationError):
        RETIREE_EVENT.validate_python(body)


def test_amounts_state_their_places_in_the_schema() -> None:
    pension = EnrollIn.model_json_schema()["properties"]["monthly_pension"]["anyOf"]
    assert pension[0] == {"type": "number", "exclusiveMinimum": 0, "maximum": 100000, "multipleOf": 0.01}
    assert "[0-9]" in pension[1]["pattern"] and "\\d" not in pension[1]["pattern"]


UUID_ADAPTER: TypeAdapter[Any] = TypeAdapter(CanonicalUuid)
CANONICAL = "6f1c2a7e-9b1d-4c55-8d0e-2a4f3b9c7d10"


@pytest.mark.parametrize("written", [
    CANONICAL.upper(), "{" + CANONICAL + "}", CANONICAL.replace("-", ""), "urn:uuid:" + CANONICAL, " " + CANONICAL,
    CANONICAL + "\n", CANONICAL.replace("6", "\uff16"),
])
def test_path_ids_are_uuids_in_canonical_form_only(written: str) -> None:
    assert UUID(written.strip().removeprefix("urn:uuid:").strip("{}").replace("\uff16", "6")) == UUID(CANONICAL)
    with pytest.raises(ValidationError) as refused:
        UUID_ADAPTER.validate_python(written)
    assert written not in str(refused.value.errors(include_input=False))


def test_a_canonical_uuid_is_accepted_and_its_schema_says_so() -> None:
    assert UUID_ADAPTER.validate_python(CANONICAL) == UUID(CANONICAL)
    assert UUID_ADAPTER.json_schema()["pattern"] == "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
