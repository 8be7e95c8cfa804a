"""Commands: the input language of the ledger, each declared once.

A command class states everything about itself in one place: its fields with their limits (the
types of ``ledger.fields``), the event it records, the role that may issue it and the facts that
must lie in that role's scope (``ledger.access.check_write``), and which field names its stream
(``target``: the part of an HTTP path, ``None`` for a command that starts a new stream). The HTTP
request schemas (``api.schemas``), ``ledger import`` and the limits checked by ``Ledger.handle``
are derived from it; personal fields are marked on the event classes (``ledger.privacy``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar, cast, dataclass_transform
from uuid import UUID

from pydantic import ConfigDict, TypeAdapter, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from ledger.domain.values import id_birth_date
from ledger.errors import InvalidInputError
from ledger.fields import (
    BackPay,
    Channel,
    Code,
    Day,
    Flag,
    Funding,
    Hours,
    IdNumber,
    IndicatorOf,
    KindOfCommunity,
    KindOfFacility,
    KindOfService,
    Method,
    Minutes,
    Month,
    Name,
    PastDay,
    Pension,
    PeriodOf,
    PurposeOfFunding,
    Qualification,
    Reason,
    RoleOfStaff,
    Score,
    SexOf,
    SourceOfFunding,
    SquareMetres,
    Stream,
    Text,
    Threshold,
    Topic,
    Year,
)

if TYPE_CHECKING:
    from ledger.access import Principal


@dataclass(frozen=True)
class Context:
    """Who is writing, and the caller's concurrency and idempotency wishes.

    ``idempotency_key`` (scoped to the principal) or ``event_id`` make the append idempotent:
    repeating it returns the first result and appends nothing. ``today`` is the date against
    which "not in the future" is judged (the ledger's clock fills it in). ``access`` is the
    authenticated principal whose role and scope every write is checked against; None means a
    trusted caller inside the process (the CLI, the demo generator, an import run by an operator).
    """

    principal: str = "system"
    expected_version: int | None = None
    idempotency_key: str | None = None
    event_id: UUID | None = None
    today: date | None = None
    access: Principal | None = None
    new_id: UUID | None = None
    """The id of the stream a creating command starts (``Enroll``), chosen by a trusted caller: the demo
    generator derives it from its seed, so the same seed gives the same retiree ids; else a random one."""

    @property
    def recorded_by(self) -> str:
        """The principal recorded on the events: the token's principal when there is one."""
        return self.access.name if self.access is not None else self.principal


@dataclass(frozen=True)
class Ref:
    """In ``Ledger.handle_many``: the stream created by the command at ``index`` of the same call (an
    enrollment's new retiree), as the target of a later command."""

    index: int


@dataclass(frozen=True)
class Appended:
    """The result of a successful command: the stream, its new version, the first event's seq."""

    id: str
    version: int
    seq: int
    replayed: bool = False


@dataclass(frozen=True)
class Spec:
    """What a command declares besides its fields (see the module docstring)."""

    event: str
    role: str
    scope: tuple[str, ...]
    target: str | None


COMMANDS: dict[type, Spec] = {}
"""Every command class and its declaration, in declaration order."""
_STRICT = ConfigDict(use_enum_values=True, extra="forbid")  # each field type is strict itself
C = TypeVar("C", bound=type)


@dataclass_transform(frozen_default=True)
def command(event: str, role: str, scope: tuple[str, ...], target: str | None = None) -> Callable[[C], C]:
    """Declares a command class: a frozen dataclass recording ``event``, issued by ``role``.

    ``scope`` names the facts that must equal the principal's scope value: ``command.X`` is the
    command's own field X, the others are looked up by the handler (``retiree_city``,
    ``retiree_community``, ``community_city``).
    """

    def declare(cls: C) -> C:
        cls.__pydantic_config__ = _STRICT  # type: ignore[attr-defined]
        declared = cast(C, dataclass(frozen=True)(cls))
        COMMANDS[declared] = Spec(event, role, scope, target)
        return declared

    return declare


def spec(kind: type) -> Spec:
    return COMMANDS[kind]


def tag(event: str) -> str:
    """A command's ``type`` in HTTP bodies: its event in snake case (``PensionAdjusted``: ``pension_adjusted``)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", event).lower()


@cache
def _adapter(kind: type) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


def parse(kind: type, values: dict[str, Any]) -> Any:
    """The command ``kind`` from plain values (JSON or Python), validated against its declaration.

    A value outside its limits raises ``InvalidInputError`` naming the field, never the value (it
    may be personal data).
    """
    try:
        return _adapter(kind).validate_python(values)
    except ValidationError as error:
        raise InvalidInputError(describe(error)) from None


def validate(command: Any) -> Any:
    """``command`` checked against its declaration (the same limits whatever door it came in by)."""
    return parse(type(command), {f.name: getattr(command, f.name) for f in fields(command)})


def describe(error: ValidationError) -> str:
    """The first problem of a validation error: the field and what is wrong, without the value."""
    first = error.errors(include_url=False, include_input=False)[0]
    if not first["loc"]:  # a check across fields (a model validator) names its fields itself
        return str(first["msg"])
    where = ".".join(str(part) for part in first["loc"])
    if first["type"] in ("missing", "missing_argument"):
        return f"missing field {where!r}"
    if first["type"] in ("unexpected_keyword_argument", "extra_forbidden"):
        return f"unexpected field {where!r}"
    return f"field {where!r}: {first['msg'].removeprefix('Value error, ')}"


# ---- community commands ------------------------------------------------------------------

@command("Registered", "agency", ("command.city",))
class RegisterCommunity:
    code: Code
    name: Name
    city: Name
    district: Name
    street: Name
    kind: KindOfCommunity


@command("StaffJoined", "community", ("command.community",), target="community")
class JoinStaff:
    community: Code
    staff_id: Code
    name: Name
    role: RoleOfStaff
    qualified_social_worker: Flag
    joined_on: PastDay


@command("StaffLeft", "community", ("command.community",), target="community")
class RecordStaffLeft:
    community: Code
    staff_id: Code
    left_on: PastDay
    reason: Text


@command("StaffTrained", "community", ("command.community",), target="community")
class RecordTraining:
    community: Code
    staff_id: Code
    course: Name
    hours: Hours
    completed_on: PastDay


@command("EnrolledInCourse", "community", ("command.community",), target="community")
class EnrolInCourse:
    """``course``: the code of a course the agency of the community's city, or the province's, offers."""

    community: Code
    staff_id: Code
    course: Code
    enrolled_on: PastDay


@command("CourseCompleted", "community", ("command.community",), target="community")
class CompleteCourse:
    community: Code
    staff_id: Code
    course: Code
    completed_on: PastDay


@command("QualificationObtained", "community", ("command.community",), target="community")
class ObtainQualification:
    community: Code
    staff_id: Code
    level: Qualification
    obtained_on: PastDay


@command("FacilityRecorded", "community", ("command.community",), target="community")
class RecordFacility:
    community: Code
    facility_id: Code
    kind: KindOfFacility
    area_m2: SquareMetres
    opened_on: PastDay


# ---- agency commands (``area``: a city name, or the province) ---------------------------------

@command("AgencyEstablished", "agency", ("command.area",), target="area")
class EstablishAgency:
    area: Name
    name: Name


@command("StandardAdopted", "agency", ("command.area",), target="area")
class AdoptStandard:
    area: Name
    code: Code
    indicator: IndicatorOf
    threshold: Threshold
    period: PeriodOf
    effective_from: Day
    policy_reference: Text = ""


@command("StandardRevised", "agency", ("command.area",), target="area")
class ReviseStandard:
    area: Name
    code: Code
    threshold: Threshold
    effective_from: Day
    policy_reference: Text = ""


@command("StandardRetired", "agency", ("command.area",), target="area")
class RetireStandard:
    area: Name
    code: Code
    effective_from: Day
    policy_reference: Text = ""


@command("CourseOffered", "agency", ("command.area",), target="area")
class OfferCourse:
    area: Name
    code: Code
    title: Name
    hours: Hours
    topic: Topic


@command("FundingAllocated", "agency", ("command.area",), target="area")
class AllocateFunding:
    """Recorded on the community's stream; the community must lie in ``area`` (rule ``funding_within_area``)."""

    area: Name
    community: Code
    year: Year
    amount: Funding
    source: SourceOfFunding
    purpose: PurposeOfFunding


# ---- retiree commands --------------------------------------------------------------------

@command("Enrolled", "agency", ("command.city",))
class Enroll:
    name: Name
    id_number: IdNumber
    sex: SexOf
    birth_date: PastDay
    danwei_code: Code
    danwei_name: Name
    retirement_date: Day
    monthly_pension: Pension
    agency: Code
    city: Name
    district: Name

    @model_validator(mode="after")
    def _born_when_the_id_number_says(self) -> Enroll:
        # Never quotes either value (personal data).
        if id_birth_date(self.id_number) != self.birth_date:
            raise PydanticCustomError(
                "id_number_birth_date_mismatch", "the birth date in id_number (characters 7-14) is not birth_date")
        return self


@command("TransferredToCommunity", "agency", ("retiree_city", "community_city"), target="retiree_id")
class TransferToCommunity:
    retiree_id: Stream
    from_danwei: Code
    community: Code
    effective_date: Day
    approved_by: Name
    personnel_file: Flag = True
    socialized_payment: Flag = True
    contact_card: Flag = True
    party_relation: Flag = False


@command("Relocated", "agency", ("retiree_city", "community_city"), target="retiree_id")
class Relocate:
    """``from_community``, when given, must be the community the retiree lives in now (a precondition,
    so a relocation decided on an old picture is refused): the event records the current one anyway."""

    retiree_id: Stream
    to_community: Code
    effective_date: Day
    reason: Text
    from_community: Code | None = None


@command("PensionAdjusted", "agency", ("retiree_city",), target="retiree_id")
class AdjustPension:
    retiree_id: Stream
    previous_amount: Pension
    new_amount: Pension
    effective_month: Month
    reason: Reason
    policy_reference: Text = ""


@command("EligibilityCertified", "community", ("retiree_community",), target="retiree_id")
class CertifyEligibility:
    retiree_id: Stream
    year: Year
    method: Method
    certified_on: PastDay


@command("PensionSuspended", "agency", ("retiree_city",), target="retiree_id")
class SuspendPension:
    retiree_id: Stream
    effective_month: Month
    reason: Text


@command("PensionResumed", "agency", ("retiree_city",), target="retiree_id")
class ResumePension:
    retiree_id: Stream
    effective_month: Month
    reason: Text
    back_pay: BackPay = Decimal("0.00")


@command("ServiceDelivered", "community", ("command.community", "retiree_community"), target="retiree_id")
class DeliverService:
    retiree_id: Stream
    service_id: Code
    community: Code
    service_type: KindOfService
    delivered_on: PastDay
    staff_id: Code
    duration_minutes: Minutes
    notes: Text = ""


@command("SatisfactionRated", "community", ("retiree_community",), target="retiree_id")
class RateSatisfaction:
    retiree_id: Stream
    score: Score
    rated_on: PastDay
    channel: Channel
    service_id: Code | None = None
    comment: Text = ""


@command("Deceased", "agency", ("retiree_city",), target="retiree_id")
class RecordDeath:
    retiree_id: Stream
    date_of_death: PastDay
    reported_by: Name


CommunityCommand = (
    RegisterCommunity | JoinStaff | RecordStaffLeft | RecordTraining | EnrolInCourse | CompleteCourse
    | ObtainQualification | RecordFacility
)
AgencyCommand = EstablishAgency | AdoptStandard | ReviseStandard | RetireStandard | OfferCourse | AllocateFunding
RetireeCommand = (
    Enroll | TransferToCommunity | Relocate | AdjustPension | CertifyEligibility | SuspendPension | ResumePension
    | DeliverService | RateSatisfaction | RecordDeath
)
Command = CommunityCommand | AgencyCommand | RetireeCommand
EVENT_OF_COMMAND: dict[type, str] = {kind: declared.event for kind, declared in COMMANDS.items()}
COMMAND_OF_EVENT: dict[str, type] = {name: kind for kind, name in EVENT_OF_COMMAND.items()}
