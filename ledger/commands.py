"""Commands: one per event kind, the input language of the application.

The API, ``ledger import``, the demo generator and the tests all build these and hand them
to ``Ledger.handle``. Field names match the event fields of DESIGN.md section 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING
from uuid import UUID

if TYPE_CHECKING:
    from ledger.access import Principal


@dataclass(frozen=True)
class Context:
    """Who is writing, and the caller's concurrency and idempotency wishes.

    ``idempotency_key`` (scoped to the principal) or ``event_id`` make the append idempotent:
    repeating it returns the first result and appends nothing. ``today`` is the date against
    which "not in the future" is judged (the application fills in the real date). ``access`` is
    the authenticated principal whose role and scope every write is checked against; None means
    a trusted caller inside the process (the CLI, the demo generator, an import run by an operator).
    """

    principal: str = "system"
    expected_version: int | None = None
    idempotency_key: str | None = None
    event_id: UUID | None = None
    today: date | None = None
    access: Principal | None = None

    @property
    def recorded_by(self) -> str:
        """The principal recorded on the events: the token's principal when there is one."""
        return self.access.name if self.access is not None else self.principal


@dataclass(frozen=True)
class Appended:
    """The result of a successful command: the stream, its new version, the first event's seq."""

    id: str
    version: int
    seq: int
    replayed: bool = False


# ---- community commands ------------------------------------------------------------------


@dataclass(frozen=True)
class RegisterCommunity:
    code: str
    name: str
    city: str
    district: str
    street: str
    kind: str


@dataclass(frozen=True)
class JoinStaff:
    community: str
    staff_id: str
    name: str
    role: str
    qualified_social_worker: bool
    joined_on: date


@dataclass(frozen=True)
class RecordStaffLeft:
    community: str
    staff_id: str
    left_on: date
    reason: str


@dataclass(frozen=True)
class RecordTraining:
    community: str
    staff_id: str
    course: str
    hours: int
    completed_on: date


# ---- retiree commands --------------------------------------------------------------------


@dataclass(frozen=True)
class Enroll:
    name: str
    id_number: str
    sex: str
    birth_date: date
    danwei_code: str
    danwei_name: str
    retirement_date: date
    monthly_pension: Decimal
    agency: str
    city: str
    district: str


@dataclass(frozen=True)
class TransferToCommunity:
    retiree_id: UUID
    from_danwei: str
    community: str
    effective_date: date
    approved_by: str
    personnel_file: bool = True
    socialized_payment: bool = True
    contact_card: bool = True
    party_relation: bool = False


@dataclass(frozen=True)
class Relocate:
    retiree_id: UUID
    to_community: str
    effective_date: date
    reason: str


@dataclass(frozen=True)
class AdjustPension:
    retiree_id: UUID
    previous_amount: Decimal
    new_amount: Decimal
    effective_month: str
    reason: str
    policy_reference: str = ""


@dataclass(frozen=True)
class CertifyEligibility:
    retiree_id: UUID
    year: int
    method: str
    certified_on: date


@dataclass(frozen=True)
class SuspendPension:
    retiree_id: UUID
    effective_month: str
    reason: str


@dataclass(frozen=True)
class ResumePension:
    retiree_id: UUID
    effective_month: str
    reason: str
    back_pay: Decimal = Decimal("0.00")


@dataclass(frozen=True)
class DeliverService:
    retiree_id: UUID
    service_id: str
    community: str
    service_type: str
    delivered_on: date
    staff_id: str
    duration_minutes: int
    notes: str = ""


@dataclass(frozen=True)
class RateSatisfaction:
    retiree_id: UUID
    score: int
    rated_on: date
    channel: str
    service_id: str | None = None
    comment: str = ""


@dataclass(frozen=True)
class RecordDeath:
    retiree_id: UUID
    date_of_death: date
    reported_by: str


CommunityCommand = RegisterCommunity | JoinStaff | RecordStaffLeft | RecordTraining
RetireeCommand = (
    Enroll
    | TransferToCommunity
    | Relocate
    | AdjustPension
    | CertifyEligibility
    | SuspendPension
    | ResumePension
    | DeliverService
    | RateSatisfaction
    | RecordDeath
)
Command = CommunityCommand | RetireeCommand

EVENT_OF_COMMAND: dict[type, str] = {
    RegisterCommunity: "Registered",
    JoinStaff: "StaffJoined",
    RecordStaffLeft: "StaffLeft",
    RecordTraining: "StaffTrained",
    Enroll: "Enrolled",
    TransferToCommunity: "TransferredToCommunity",
    Relocate: "Relocated",
    AdjustPension: "PensionAdjusted",
    CertifyEligibility: "EligibilityCertified",
    SuspendPension: "PensionSuspended",
    ResumePension: "PensionResumed",
    DeliverService: "ServiceDelivered",
    RateSatisfaction: "SatisfactionRated",
    RecordDeath: "Deceased",
}
COMMAND_OF_EVENT: dict[str, type] = {name: cls for cls, name in EVENT_OF_COMMAND.items()}
