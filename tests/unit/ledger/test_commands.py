"""Every door refuses the same implausible input: the declared limits hold inside ``Ledger.handle``."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from uuid import uuid4

import pytest

from ledger import commands as c
from ledger.errors import InvalidInputError
from tests.people import id_number

BORN = date(1956, 3, 4)
ENROLL = c.Enroll(name="Chen Jie", id_number=id_number(BORN, 121, "430702"), sex="male", birth_date=BORN,
                  danwei_code="D-RAIL-02", danwei_name="Changde Railway Depot", retirement_date=date(2016, 3, 4),
                  monthly_pension=Decimal("4200.00"), agency="CD-SIA", city="Changde", district="Wuling")
SERVICE = c.DeliverService(retiree_id=uuid4(), service_id="sv-1", community="CD-WL-001", service_type="home_visit",
                           delivered_on=date(2024, 5, 6), staff_id="s-1", duration_minutes=45)


def test_plausible_commands_pass() -> None:
    c.validate(ENROLL)
    c.validate(SERVICE)


@pytest.mark.parametrize(("command", "field"), [
    (replace(ENROLL, monthly_pension=Decimal("1000000")), "monthly_pension"),
    (replace(ENROLL, monthly_pension=Decimal("12.345")), "monthly_pension"),
    (replace(ENROLL, monthly_pension=Decimal("Infinity")), "monthly_pension"),
    (replace(ENROLL, name="x" * 65), "name"),
    (replace(ENROLL, id_number="4307021956030412"), "id_number"),
    (replace(ENROLL, sex="other"), "sex"),
    (replace(ENROLL, birth_date=date(1850, 1, 1)), "birth_date"),
    (replace(ENROLL, danwei_code="D RAIL; DROP"), "danwei_code"),
    (replace(SERVICE, duration_minutes=0), "duration_minutes"),
    (replace(SERVICE, duration_minutes=10_000), "duration_minutes"),
    (replace(SERVICE, service_type="massage"), "service_type"),
    (replace(SERVICE, notes="n" * 2001), "notes"),
    (c.AdjustPension(retiree_id=uuid4(), previous_amount=Decimal("1"), new_amount=Decimal("2"),
                     effective_month="2024-01", reason="bonus"), "reason"),
])
def test_implausible_values_are_refused_naming_the_field_not_the_value(command: object, field: str) -> None:
    with pytest.raises(InvalidInputError) as refused:
        c.validate(command)
    assert refused.value.detail.startswith(f"field {field!r}")
    assert "Chen Jie" not in refused.value.detail and "4307021956030412" not in refused.value.detail


def test_the_example_number_ends_in_x_and_passes() -> None:
    assert ENROLL.id_number == "43070219560304121X"
    assert c.validate(replace(ENROLL, id_number=" 43070219560304121x\t")).id_number == "43070219560304121X"


@pytest.mark.parametrize(("number", "born", "said"), [
    (id_number(BORN, 121, "430702")[:17] + "3", BORN, "field 'id_number': the 18th character is not the check"),
    ("43070219560230121" + "0", BORN, "field 'id_number'"),  # 30 February: not a date whatever the check
    (id_number(date(1956, 3, 5), 121, "430702"), BORN, "the birth date in id_number (characters 7-14) is not"),
    (id_number(BORN, 121, "430702"), date(1965, 3, 4), "the birth date in id_number (characters 7-14) is not"),
])
def test_an_id_number_must_check_and_carry_the_birth_date_and_is_never_echoed(
    number: str, born: date, said: str
) -> None:
    with pytest.raises(InvalidInputError) as refused:
        c.validate(replace(ENROLL, id_number=number, birth_date=born))
    assert refused.value.detail.startswith(said)
    assert number not in refused.value.detail and number[6:14] not in refused.value.detail
    assert born.isoformat() not in refused.value.detail


@pytest.mark.parametrize(("field", "value"), [
    ("monthly_pension", "\uff12\uff15\uff10\uff10.00"),  # full-width 2500.00
    ("monthly_pension", "2\u0665\u0660\u0660"),  # Arabic-Indic digits
    ("monthly_pension", "2500.000"),
    ("monthly_pension", "02500"),
    ("birth_date", "\uff11\uff19\uff15\uff16-03-04"),
])
def test_numbers_and_dates_are_ascii_digits_only(field: str, value: str) -> None:
    values = {f: getattr(ENROLL, f) for f in ("name", "id_number", "sex", "birth_date", "danwei_code", "danwei_name",
                                             "retirement_date", "monthly_pension", "agency", "city", "district")}
    with pytest.raises(InvalidInputError) as refused:
        c.parse(c.Enroll, {**values, field: value})
    assert refused.value.detail.startswith(f"field {field!r}") and value not in refused.value.detail


def test_a_month_in_full_width_digits_is_refused() -> None:
    with pytest.raises(InvalidInputError):
        c.validate(c.SuspendPension(retiree_id=uuid4(), effective_month="\uff12\uff10\uff12\uff14-01", reason="x"))
