"""Every door refuses the same implausible input: the declared limits hold inside ``Ledger.handle``."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from uuid import uuid4

import pytest

from ledger import commands as c
from ledger.errors import InvalidInputError

ENROLL = c.Enroll(name="Chen Jie", id_number="43070219560304123X", sex="male", birth_date=date(1956, 3, 4),
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
