"""Value vocabularies and small pure helpers shared by the aggregates."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from enum import StrEnum
from uuid import UUID, uuid5

from ledger.errors import RuleViolationError

NAMESPACE = UUID("6f1c2a7e-9b1d-4c55-8d0e-2a4f3b9c7d10")
CENTS = Decimal("0.01")
MONTH_PATTERN = re.compile(r"^(19\d\d|20\d\d|2100)-(0[1-9]|1[0-2])$")
"""The one month pattern (YYYY-MM, 1900-01 to 2100-12): commands' limits and the domain's rule use it."""


class Sex(StrEnum):
    FEMALE = "female"
    MALE = "male"


class Stage(StrEnum):
    DANWEI = "danwei"
    COMMUNITY = "community"
    DECEASED = "deceased"


class PensionStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    ENDED = "ended"


class AdjustmentReason(StrEnum):
    ANNUAL_ADJUSTMENT = "annual_adjustment"
    CORRECTION = "correction"
    RECALCULATION = "recalculation"
    SUPPLEMENT = "supplement"


class CertificationMethod(StrEnum):
    IN_PERSON = "in_person"
    HOME_VISIT = "home_visit"
    FACE_RECOGNITION = "face_recognition"
    DATA_MATCHING = "data_matching"


class ServiceType(StrEnum):
    HOME_VISIT = "home_visit"
    HEALTH_CHECK = "health_check"
    CULTURAL_ACTIVITY = "cultural_activity"
    POLICY_CONSULTATION = "policy_consultation"
    CERTIFICATION_ASSISTANCE = "certification_assistance"
    HARDSHIP_RELIEF = "hardship_relief"
    EMERGENCY_ASSISTANCE = "emergency_assistance"
    OTHER = "other"


class RatingChannel(StrEnum):
    IN_PERSON = "in_person"
    PHONE = "phone"
    APP = "app"
    SURVEY = "survey"


class CommunityKind(StrEnum):
    URBAN_COMMUNITY = "urban_community"
    RURAL_TOWN = "rural_town"


class StaffRole(StrEnum):
    FULL_TIME = "full_time"
    PART_TIME = "part_time"
    VOLUNTEER = "volunteer"


def community_uuid(code: str) -> UUID:
    """The stream id of the community with this code (codes are the public ids)."""
    return uuid5(NAMESPACE, f"community:{code}")


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def first_day(month: str) -> date:
    return date(int(month[:4]), int(month[5:7]), 1)


def money(amount: Decimal) -> Decimal:
    """CNY with two places; refuses zero, negative and non-finite amounts."""
    if not amount.is_finite() or amount <= 0:
        raise RuleViolationError("amount_must_be_positive", "amounts must be positive")
    return amount.quantize(CENTS)


def check_month(month: str) -> str:
    if not MONTH_PATTERN.match(month):
        raise RuleViolationError("month_format", f"month must be YYYY-MM, got {month!r}")
    return month


def not_in_future(day: date, today: date, what: str) -> None:
    if day > today:
        raise RuleViolationError("date_in_future", f"{what} {day.isoformat()} is in the future")
