"""Plausibility limits on every command, whatever door it came in by (HTTP, import, demo, tests).

The HTTP schemas state the same limits to clients up front; this check is the one that holds
for every writer, so ``ledger import`` refuses exactly what the API refuses. A value outside
its limits raises ``InvalidInputError`` naming the field, never repeating the value (it may be
personal data).
"""

from __future__ import annotations

import dataclasses
import re
from datetime import date
from decimal import Decimal
from enum import StrEnum

from ledger import commands as c
from ledger.domain import values as v
from ledger.errors import InvalidInputError

EARLIEST, LATEST = date(1900, 1, 1), date(2100, 12, 31)
SHORT, LONG = 64, 2000
CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
ID_NUMBER = re.compile(r"^\d{17}[\dX]$")
LONG_TEXT = frozenset({"notes", "comment", "reason", "policy_reference", "course", "danwei_name", "street"})
CODES = frozenset({"code", "community", "to_community", "from_danwei", "danwei_code", "agency", "staff_id",
                   "service_id"})
AMOUNTS = {"monthly_pension": Decimal(100_000), "previous_amount": Decimal(100_000),
           "new_amount": Decimal(100_000), "back_pay": Decimal(1_000_000)}
INTEGERS = {"duration_minutes": (1, 1440), "hours": (1, 2000), "year": (1900, 2100), "score": (1, 5)}
ENUMS: dict[tuple[type, str], type[StrEnum]] = {
    (c.RegisterCommunity, "kind"): v.CommunityKind,
    (c.JoinStaff, "role"): v.StaffRole,
    (c.Enroll, "sex"): v.Sex,
    (c.AdjustPension, "reason"): v.AdjustmentReason,
    (c.CertifyEligibility, "method"): v.CertificationMethod,
    (c.DeliverService, "service_type"): v.ServiceType,
    (c.RateSatisfaction, "channel"): v.RatingChannel,
}


def check_command(command: object) -> None:
    """Raises ``InvalidInputError`` for the first field of ``command`` outside its limits."""
    for item in dataclasses.fields(command):  # type: ignore[arg-type]
        name, value = item.name, getattr(command, item.name)
        enum = ENUMS.get((type(command), name))
        if enum is not None:
            if value not in {member.value for member in enum}:
                raise InvalidInputError(f"{name} must be one of {', '.join(m.value for m in enum)}")
        elif isinstance(value, str):
            _check_text(name, value)
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int) and name in INTEGERS:
            low, high = INTEGERS[name]
            if not low <= value <= high:
                raise InvalidInputError(f"{name} must be between {low} and {high}")
        elif isinstance(value, Decimal) and name in AMOUNTS:
            if not value.is_finite() or value.as_tuple().exponent < -2 or not 0 <= value <= AMOUNTS[name]:  # type: ignore[operator]
                raise InvalidInputError(f"{name} must be a CNY amount between 0 and {AMOUNTS[name]} (2 places)")
        elif isinstance(value, date) and not EARLIEST <= value <= LATEST:
            raise InvalidInputError(f"{name} must be between {EARLIEST} and {LATEST}")


def _check_text(name: str, value: str) -> None:
    if name == "id_number":
        if not ID_NUMBER.match(value.strip().upper()):
            raise InvalidInputError("id_number must be 17 digits and a check digit (0-9 or X)")
    elif name in CODES:
        if len(value) > SHORT or not CODE.match(value):
            raise InvalidInputError(f"{name} must be a code of letters, digits, '_', '.' or '-' (at most {SHORT})")
    elif len(value) > (LONG if name in LONG_TEXT else SHORT) or "\x00" in value:
        raise InvalidInputError(f"{name} is too long or holds a NUL character")
