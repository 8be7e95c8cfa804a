"""The field vocabulary of commands: each kind of value and its limits, stated once.

Commands (``ledger.commands``) declare their fields with these types; pydantic validates them
wherever a command comes from (``Ledger.handle`` for every writer, the HTTP request schemas
derived from the commands, ``ledger import``), and OpenAPI shows the same limits. Validation is
strict: integers, booleans and strings must be just that (a JSON number without a fraction, such
as ``2.0``, is an integer, as JSON Schema counts it); dates are ``date`` objects or ``YYYY-MM-DD``
strings; amounts ``Decimal`` or decimal strings / JSON numbers. Digits are ASCII digits only
(full-width ``"\\uff11\\uff12"`` is no number, though Python's ``int`` and ``Decimal`` would read it). Each limit is
stated once and both validates and renders (OpenAPI), so the two cannot drift. Whether a date
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
from pydantic_core import PydanticCustomError

from ledger.domain.values import (
    MONTH_PATTERN,
    AdjustmentReason,
    CertificationMethod,
    CommunityKind,
    CourseTopic,
    FacilityKind,
    FundingPurpose,
    FundingSource,
    Indicator,
    QualificationLevel,
    RatingChannel,
    ServiceType,
    Sex,
    StaffRole,
    StandardPeriod,
    id_birth_date,
    id_check_character,
)

EARLIEST, LATEST = date(1900, 1, 1), date(2100, 12, 31)
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
ID_NUMBER_PATTERN = r"^[0-9]{17}[0-9X]$"
"""An ID number once normalised (``IdNumber``); as sent it may also end in ``x`` and carry blanks around it."""
ID_NUMBER_SENT = r"^[ \t]*[0-9]{17}[0-9Xx][ \t]*$"
_NO_NUL = r"^[^\x00]*$"
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_PENSION = r"^(?:0\.(?:0[1-9]|[1-9][0-9]?)|[1-9][0-9]{0,4}(?:\.[0-9]{1,2})?|100000(?:\.00?)?)$"
_FUNDING = r"^(?:0\.(?:0[1-9]|[1-9][0-9]?)|[1-9][0-9]{0,8}(?:\.[0-9]{1,2})?|1000000000(?:\.00?)?)$"
_THRESHOLD = r"^(?:0\.(?:0[1-9]|[1-9][0-9]?)|[1-9][0-9]{0,3}(?:\.[0-9]{1,2})?|10000(?:\.00?)?)$"
_BACK_PAY = r"^(?:(?:0|[1-9][0-9]{0,5})(?:\.[0-9]{1,2})?|1000000(?:\.00?)?)$"


def _date_from_iso(value: object) -> object:
    """ISO ``YYYY-MM-DD`` strings become dates; anything else is left to strict validation."""
    if isinstance(value, str):
        if not _DATE.fullmatch(value):
            raise ValueError("dates are written YYYY-MM-DD")
        return date.fromisoformat(value)  # ASCII digits in this shape: its errors name a range, never the input
    return value


def _whole_number(value: object) -> object:
    """A float without a fraction (a JSON ``2.0``) is the integer it equals; anything else is left to strict
    validation (booleans and strings stay refused)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _amount(low: str, high: int, pattern: str, description: str) -> tuple[BeforeValidator, WithJsonSchema]:
    """An amount's reading and its OpenAPI schema, from one statement of its limits: JSON numbers of at
    most two decimal places, or strings matching ``pattern`` (ASCII digits, no sign, no exponent, no
    leading zero); the range itself is checked by ``Field`` on the Decimal."""
    written = re.compile(pattern)

    def read(value: object) -> object:
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float):
            return Decimal(str(value))
        if isinstance(value, str):
            if not written.fullmatch(value):
                raise ValueError(f"amounts are written like 2500.00: {description}")
            return Decimal(value)
        return value

    # pydantic would print non-standard "decimal_places" keys that clients ignore; multipleOf says it.
    schema = WithJsonSchema({
        "anyOf": [{"type": "number", low: 0, "maximum": high, "multipleOf": 0.01},
                  {"type": "string", "pattern": pattern}],
        "description": description,
    })
    return BeforeValidator(read), schema


_DATE_SCHEMA = {"type": "string", "format": "date",
                "pattern": r"^(19[0-9][0-9]|20[0-9][0-9]|2100)-(0[1-9]|1[0-2])-[0-9][0-9]$"}

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
    Decimal, *_amount("exclusiveMinimum", 100000, _PENSION, "CNY, 0 < amount <= 100000, at most 2 decimal places"),
    Strict(), Field(gt=0, le=100000, allow_inf_nan=False, decimal_places=2),
]
BackPay = Annotated[
    Decimal, *_amount("minimum", 1000000, _BACK_PAY, "CNY, 0 <= amount <= 1000000, at most 2 decimal places"),
    Strict(), Field(ge=0, le=1000000, allow_inf_nan=False, decimal_places=2),
]
Funding = Annotated[
    Decimal, *_amount("exclusiveMinimum", 1000000000, _FUNDING,
                      "CNY, 0 < amount <= 1000000000, at most 2 decimal places"),
    Strict(), Field(gt=0, le=1000000000, allow_inf_nan=False, decimal_places=2),
]
Threshold = Annotated[
    Decimal, *_amount("exclusiveMinimum", 10000, _THRESHOLD, "0 < threshold <= 10000, at most 2 decimal places "
                      "(shares are fractions: 0.9 is 90%)"),
    Strict(), Field(gt=0, le=10000, allow_inf_nan=False, decimal_places=2),
]
"""A standard's threshold; how large it may be depends on the indicator (a domain rule, ``threshold_plausible``)."""
Month = Annotated[str, StringConstraints(strict=True, pattern=MONTH_PATTERN.pattern)]
Whole = BeforeValidator(_whole_number)
"""Put last in an integer field's ``Annotated`` (it then runs first): ``2.0`` counts as 2, as in JSON Schema."""
Year = Annotated[int, Field(strict=True, ge=1900, le=2100), Whole]
Minutes = Annotated[int, Field(strict=True, ge=1, le=1440), Whole]
Hours = Annotated[int, Field(strict=True, ge=1, le=2000), Whole]
Score = Annotated[int, Field(strict=True, ge=1, le=5), Whole]
SquareMetres = Annotated[int, Field(strict=True, ge=1, le=100000), Whole]
Name = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=64, pattern=_NO_NUL)]
Text = Annotated[str, StringConstraints(strict=True, max_length=2000, pattern=_NO_NUL)]
Code = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=64, pattern=CODE_PATTERN)]


def _normalised_id_number(value: object) -> object:
    return value.strip(" \t").upper() if isinstance(value, str) else value


def _checked_id_number(value: str) -> str:
    """The GB 11643-1999 checks a pattern cannot state. The errors never quote the number (personal data)."""
    if id_check_character(value[:17]) != value[17]:
        raise PydanticCustomError(
            "id_number_check", "the 18th character is not the check character (ISO 7064 MOD 11-2) of the first 17")
    if id_birth_date(value) is None:
        raise PydanticCustomError("id_number_birth_date", "characters 7-14 are not a birth date (YYYYMMDD)")
    return value


IdNumber = Annotated[
    str, BeforeValidator(_normalised_id_number), StringConstraints(strict=True, pattern=ID_NUMBER_PATTERN),
    AfterValidator(_checked_id_number),
    WithJsonSchema({"type": "string", "pattern": ID_NUMBER_SENT, "description": (
        "GB 11643-1999 resident ID number: 17 digits and a check character (a digit or X, ISO 7064 MOD 11-2); "
        "characters 7-14 are the birth date (YYYYMMDD) and must equal birth_date. Blanks (space, tab) around "
        "it and a lower-case x are normalised.")}),
]
"""18 characters, 17 digits and a check character that must be right, with a real birth date in characters
7-14 (a command that also names ``birth_date`` checks they are equal); surrounding blanks (space, tab) and a
lower-case ``x`` are normalised."""
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
    IndicatorOf: TypeAlias = str
    PeriodOf: TypeAlias = str
    Topic: TypeAlias = str
    Qualification: TypeAlias = str
    KindOfFacility: TypeAlias = str
    SourceOfFunding: TypeAlias = str
    PurposeOfFunding: TypeAlias = str
else:
    KindOfCommunity = one_of(CommunityKind)
    RoleOfStaff = one_of(StaffRole)
    SexOf = one_of(Sex)
    Reason = one_of(AdjustmentReason)
    Method = one_of(CertificationMethod)
    KindOfService = one_of(ServiceType)
    Channel = one_of(RatingChannel)
    IndicatorOf = one_of(Indicator)
    PeriodOf = one_of(StandardPeriod)
    Topic = one_of(CourseTopic)
    Qualification = one_of(QualificationLevel)
    KindOfFacility = one_of(FacilityKind)
    SourceOfFunding = one_of(FundingSource)
    PurposeOfFunding = one_of(FundingPurpose)
