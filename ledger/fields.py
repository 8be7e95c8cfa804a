"""The field vocabulary of commands: each kind of value and its limits, stated once.

Commands (``ledger.commands``) declare their fields with these types; pydantic validates them
wherever a command comes from (``Ledger.handle`` for every writer, the HTTP request schemas
derived from the commands, ``ledger import``), and OpenAPI shows the same limits. Validation is
strict: integers, booleans and strings must be just that; dates are ``date`` objects or
``YYYY-MM-DD`` strings; amounts ``Decimal`` or decimal strings / JSON numbers. Whether a date
may lie in the future is a domain rule judged against the ledger's clock, not a limit here.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, TypeAlias
from uuid import UUID

from pydantic import AfterValidator, BeforeValidator, Field, Strict, StringConstraints, WithJsonSchema

from ledger.domain.values import (
    MONTH_PATTERN,
    AdjustmentReason,
    CertificationMethod,
    CommunityKind,
    RatingChannel,
    ServiceType,
    Sex,
    StaffRole,
)

EARLIEST, LATEST = date(1900, 1, 1), date(2100, 12, 31)
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
ID_NUMBER_PATTERN = r"^[0-9]{17}[0-9X]$"
_NO_NUL = r"^[^\x00]*$"
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DECIMAL = re.compile(r"-?\d{1,12}(\.\d{1,12})?")


def _date_from_iso(value: object) -> object:
    """ISO ``YYYY-MM-DD`` strings become dates; anything else is left to strict validation."""
    if isinstance(value, str):
        if not _DATE.fullmatch(value):
            raise ValueError("dates are written YYYY-MM-DD")
        return date.fromisoformat(value)
    return value


def _decimal_from_json(value: object) -> object:
    """JSON numbers and plain decimal strings become Decimals (exactly as written)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return Decimal(str(value))
    if isinstance(value, str):
        if not _DECIMAL.fullmatch(value):
            raise ValueError("amounts are decimal numbers such as 2500.00")
        return Decimal(value)
    return value


def _amount_schema(low: str, high: int, pattern: str, description: str) -> WithJsonSchema:
    # What OpenAPI shows (pydantic would print non-standard "decimal_places" keys that clients ignore).
    return WithJsonSchema({
        "anyOf": [{"type": "number", low: 0, "maximum": high}, {"type": "string", "pattern": pattern}],
        "description": description,
    })


_DATE_SCHEMA = {"type": "string", "format": "date", "pattern": r"^(19\d\d|20\d\d|2100)-(0[1-9]|1[0-2])-\d\d$"}

Day = Annotated[
    date, BeforeValidator(_date_from_iso), Strict(), Field(ge=EARLIEST, le=LATEST),
    WithJsonSchema({**_DATE_SCHEMA, "description": "YYYY-MM-DD, 1900-01-01 to 2100-12-31"}),
]
PastDay = Annotated[
    date, BeforeValidator(_date_from_iso), Strict(), Field(ge=EARLIEST, le=LATEST),
    WithJsonSchema({**_DATE_SCHEMA, "description": "YYYY-MM-DD, from 1900-01-01, not after the ledger's today"}),
]
"""A date of something that has happened: the domain refuses one after the ledger's today (``date_in_future``)."""
Pension = Annotated[
    Decimal, BeforeValidator(_decimal_from_json), Strict(),
    Field(gt=0, le=100000, allow_inf_nan=False, decimal_places=2),
    _amount_schema("exclusiveMinimum", 100000,
                   r"^(?:0\.(?:0[1-9]|[1-9]\d?)|[1-9]\d{0,4}(?:\.\d{1,2})?|100000(?:\.00?)?)$",
                   "CNY, 0 < amount <= 100000, at most 2 decimal places"),
]
BackPay = Annotated[
    Decimal, BeforeValidator(_decimal_from_json), Strict(),
    Field(ge=0, le=1000000, allow_inf_nan=False, decimal_places=2),
    _amount_schema("minimum", 1000000, r"^(?:\d{1,6}(?:\.\d{1,2})?|1000000(?:\.00?)?)$",
                   "CNY, 0 <= amount <= 1000000, at most 2 decimal places"),
]
Month = Annotated[str, StringConstraints(strict=True, pattern=MONTH_PATTERN.pattern)]
Year = Annotated[int, Field(strict=True, ge=1900, le=2100)]
Minutes = Annotated[int, Field(strict=True, ge=1, le=1440)]
Hours = Annotated[int, Field(strict=True, ge=1, le=2000)]
Score = Annotated[int, Field(strict=True, ge=1, le=5)]
Name = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=64, pattern=_NO_NUL)]
Text = Annotated[str, StringConstraints(strict=True, max_length=2000, pattern=_NO_NUL)]
Code = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=64, pattern=CODE_PATTERN)]
IdNumber = Annotated[
    str, BeforeValidator(lambda value: value.strip().upper() if isinstance(value, str) else value),
    StringConstraints(strict=True, pattern=ID_NUMBER_PATTERN),
]
"""18 characters, 17 digits and a check character; surrounding blanks and a lower-case ``x`` are normalised."""
Flag = Annotated[bool, Strict()]
Stream = Annotated[UUID, Strict()]



def one_of(kind: type[StrEnum]) -> Any:
    """A string that must be one of the values of ``kind`` (kept a plain ``str``; OpenAPI lists them)."""
    allowed = [member.value for member in kind]

    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return value

    return Annotated[str, Strict(), AfterValidator(check), WithJsonSchema({"type": "string", "enum": allowed})]


if TYPE_CHECKING:
    KindOfCommunity: TypeAlias = str
    RoleOfStaff: TypeAlias = str
    SexOf: TypeAlias = str
    Reason: TypeAlias = str
    Method: TypeAlias = str
    KindOfService: TypeAlias = str
    Channel: TypeAlias = str
else:
    KindOfCommunity = one_of(CommunityKind)
    RoleOfStaff = one_of(StaffRole)
    SexOf = one_of(Sex)
    Reason = one_of(AdjustmentReason)
    Method = one_of(CertificationMethod)
    KindOfService = one_of(ServiceType)
    Channel = one_of(RatingChannel)
