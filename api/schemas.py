"""Request models of the HTTP API (pydantic v2), separate from events; responses are in ``api.responses``.

Request bodies are strict: unknown fields are refused (``extra="forbid"``); integers, booleans
and strings must be JSON integers, booleans and strings; dates are ``YYYY-MM-DD`` strings between
1900-01-01 and 2100-12-31; months are ``YYYY-MM``; amounts are JSON numbers or decimal strings
(``"2500.00"``) with at most 2 places, finite, and in range (pensions 0 < x <= 100000, back pay
0 <= x <= 1000000); names are 1-64 characters, free text at most 2000, codes (community, staff,
service, danwei, agency) 1-64 characters of ``A-Z a-z 0-9 _ . -``; ID numbers are 18 characters
(17 digits and a digit or ``X``); dates of things that have happened (birth, staff joining, leaving
and training, certification, service, rating, death) must not be after today. Event bodies are a
tagged union on ``type``; each carries its event's fields and an optional ``expected_version``
(optimistic concurrency).
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal, cast

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, WithJsonSchema

from ledger import commands as cmd
from ledger.domain.values import (
    AdjustmentReason,
    CertificationMethod,
    CommunityKind,
    RatingChannel,
    ServiceType,
    Sex,
    StaffRole,
)

MIN_DATE = date(1900, 1, 1)
MAX_DATE = date(2100, 12, 31)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DECIMAL = re.compile(r"-?\d{1,12}(\.\d{1,12})?")
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"


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


def _not_in_future(value: date) -> date:
    """Judged against the server's date when the request is validated (the ledger's clock is the same)."""
    if value > date.today():
        raise ValueError("this date must not be in the future")
    return value


# What OpenAPI shows (pydantic would print non-standard "ge"/"le"/"decimal_places" keys that clients
# and schemathesis ignore); the validators above remain the authority.
_DATE_SCHEMA = {"type": "string", "format": "date", "pattern": r"^(19\d\d|20\d\d|2100)-(0[1-9]|1[0-2])-\d\d$"}


def _amount_schema(low: str, high: int, pattern: str, description: str) -> WithJsonSchema:
    return WithJsonSchema({
        "anyOf": [{"type": "number", low: 0, "maximum": high}, {"type": "string", "pattern": pattern}],
        "description": description,
    })


IsoDate = Annotated[
    date,
    BeforeValidator(_date_from_iso),
    Field(ge=MIN_DATE, le=MAX_DATE),
    WithJsonSchema({**_DATE_SCHEMA, "description": "YYYY-MM-DD, 1900-01-01 to 2100-12-31"}),
]
PastDate = Annotated[
    date,
    BeforeValidator(_date_from_iso),
    Field(ge=MIN_DATE, le=MAX_DATE),
    AfterValidator(_not_in_future),
    WithJsonSchema({**_DATE_SCHEMA, "description": "YYYY-MM-DD, from 1900-01-01, not after today (server date)"}),
]
Pension = Annotated[
    Decimal,
    BeforeValidator(_decimal_from_json),
    Field(gt=0, le=100000, allow_inf_nan=False, decimal_places=2),
    _amount_schema(
        "exclusiveMinimum", 100000, r"^(?:0\.(?:0[1-9]|[1-9]\d?)|[1-9]\d{0,4}(?:\.\d{1,2})?|100000(?:\.00?)?)$",
        "CNY, 0 < amount <= 100000, at most 2 decimal places",
    ),
]
BackPay = Annotated[
    Decimal,
    BeforeValidator(_decimal_from_json),
    Field(ge=0, le=1000000, allow_inf_nan=False, decimal_places=2),
    _amount_schema(
        "minimum", 1000000, r"^(?:\d{1,6}(?:\.\d{1,2})?|1000000(?:\.00?)?)$",
        "CNY, 0 <= amount <= 1000000, at most 2 decimal places",
    ),
]
Month = Annotated[str, StringConstraints(pattern=r"^(19\d\d|20\d\d|2100)-(0[1-9]|1[0-2])$")]
Year = Annotated[int, Field(ge=1900, le=2100)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Text = Annotated[str, StringConstraints(max_length=2000)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=CODE_PATTERN)]
IdNumber = Annotated[str, StringConstraints(pattern=r"^[0-9]{17}[0-9X]$")]
ExpectedVersion = Annotated[int | None, Field(ge=0, le=10**9)]


# Enum fields take their string values (strict mode alone would want enum members).
KindOfCommunity = Annotated[CommunityKind, Field(strict=False)]
Role = Annotated[StaffRole, Field(strict=False)]
SexOf = Annotated[Sex, Field(strict=False)]
Reason = Annotated[AdjustmentReason, Field(strict=False)]
Method = Annotated[CertificationMethod, Field(strict=False)]
KindOfService = Annotated[ServiceType, Field(strict=False)]
Channel = Annotated[RatingChannel, Field(strict=False)]


class Body(BaseModel):
    """Base of every request body: strict, closed, enum values stored as plain strings."""

    model_config = ConfigDict(extra="forbid", strict=True, use_enum_values=True)

    command: ClassVar[type[Any]]
    expected_version: ExpectedVersion = None

    def to_command(self, **target: Any) -> cmd.Command:
        """The ledger command for this body; ``target`` names the stream (from the URL path)."""
        fields = self.model_dump(exclude={"type", "expected_version"})
        return cast(cmd.Command, self.command(**fields, **target))


# ---- communities ---------------------------------------------------------------------------


class RegisterCommunityIn(Body):
    command = cmd.RegisterCommunity
    code: Code
    name: Name
    city: Name
    district: Name
    street: Name
    kind: KindOfCommunity


class StaffJoinedIn(Body):
    command = cmd.JoinStaff
    type: Literal["staff_joined"]
    staff_id: Code
    name: Name
    role: Role
    qualified_social_worker: bool
    joined_on: PastDate


class StaffLeftIn(Body):
    command = cmd.RecordStaffLeft
    type: Literal["staff_left"]
    staff_id: Code
    left_on: PastDate
    reason: Text


class StaffTrainedIn(Body):
    command = cmd.RecordTraining
    type: Literal["staff_trained"]
    staff_id: Code
    course: Name
    hours: Annotated[int, Field(ge=1, le=2000)]
    completed_on: PastDate


CommunityEventIn = Annotated[StaffJoinedIn | StaffLeftIn | StaffTrainedIn, Field(discriminator="type")]


# ---- retirees ------------------------------------------------------------------------------


class EnrollIn(Body):
    command = cmd.Enroll
    name: Name
    id_number: IdNumber
    sex: SexOf
    birth_date: PastDate
    danwei_code: Code
    danwei_name: Name
    retirement_date: IsoDate
    monthly_pension: Pension
    agency: Code
    city: Name
    district: Name


class TransferredIn(Body):
    command = cmd.TransferToCommunity
    type: Literal["transferred_to_community"]
    from_danwei: Code
    community: Code
    effective_date: IsoDate
    approved_by: Name
    personnel_file: bool = True
    socialized_payment: bool = True
    contact_card: bool = True
    party_relation: bool = False


class RelocatedIn(Body):
    command = cmd.Relocate
    type: Literal["relocated"]
    to_community: Code
    effective_date: IsoDate
    reason: Text


class PensionAdjustedIn(Body):
    command = cmd.AdjustPension
    type: Literal["pension_adjusted"]
    previous_amount: Pension
    new_amount: Pension
    effective_month: Month
    reason: Reason
    policy_reference: Text = ""


class EligibilityCertifiedIn(Body):
    command = cmd.CertifyEligibility
    type: Literal["eligibility_certified"]
    year: Year
    method: Method
    certified_on: PastDate


class PensionSuspendedIn(Body):
    command = cmd.SuspendPension
    type: Literal["pension_suspended"]
    effective_month: Month
    reason: Text


class PensionResumedIn(Body):
    command = cmd.ResumePension
    type: Literal["pension_resumed"]
    effective_month: Month
    reason: Text
    back_pay: BackPay = Decimal("0.00")


class ServiceDeliveredIn(Body):
    command = cmd.DeliverService
    type: Literal["service_delivered"]
    service_id: Code
    community: Code
    service_type: KindOfService
    delivered_on: PastDate
    staff_id: Code
    duration_minutes: Annotated[int, Field(ge=1, le=1440)]
    notes: Text = ""


class SatisfactionRatedIn(Body):
    command = cmd.RateSatisfaction
    type: Literal["satisfaction_rated"]
    score: Annotated[int, Field(ge=1, le=5)]
    rated_on: PastDate
    channel: Channel
    service_id: Code | None = None
    comment: Text = ""


class DeceasedIn(Body):
    command = cmd.RecordDeath
    type: Literal["deceased"]
    date_of_death: PastDate
    reported_by: Name


RetireeEventIn = Annotated[
    TransferredIn
    | RelocatedIn
    | PensionAdjustedIn
    | EligibilityCertifiedIn
    | PensionSuspendedIn
    | PensionResumedIn
    | ServiceDeliveredIn
    | SatisfactionRatedIn
    | DeceasedIn,
    Field(discriminator="type"),
]
