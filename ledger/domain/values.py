"""Value vocabularies and small pure helpers shared by the aggregates."""

from __future__ import annotations

import functools
import re
from datetime import date
from decimal import Decimal
from enum import StrEnum
from uuid import UUID, uuid5

from ledger.errors import RuleViolationError

NAMESPACE = UUID("6f1c2a7e-9b1d-4c55-8d0e-2a4f3b9c7d10")
CENTS = Decimal("0.01")
MONTH_PATTERN = re.compile(r"^(19[0-9][0-9]|20[0-9][0-9]|2100)-(0[1-9]|1[0-2])$")
"""The one month pattern (YYYY-MM, 1900-01 to 2100-12, ASCII digits only): commands' limits and the
domain's rule use it (with ``fullmatch``: ``$`` alone would let a trailing newline through)."""
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARACTERS = "10X98765432"
"""GB 11643-1999: the 18th character of a resident ID number is ``ID_CHECK_CHARACTERS[sum % 11]``,
the sum of the first 17 digits times ``ID_WEIGHTS`` (ISO 7064 MOD 11-2)."""


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


class Indicator(StrEnum):
    """What a service standard measures, per community and period (see ``INDICATOR_LIMIT``)."""

    RETIREES_PER_FULL_TIME_STAFF = "retirees_per_full_time_staff"
    CERTIFIED_SHARE = "certified_share"
    AGED_80_VISITED_SHARE = "aged_80_visited_share"
    NEW_TRANSFERS_VISITED_30_DAYS_SHARE = "new_transfers_visited_30_days_share"
    CONTACT_CARD_SHARE = "contact_card_share"
    TRAINING_HOURS_PER_FULL_TIME_STAFF = "training_hours_per_full_time_staff"
    QUALIFIED_SOCIAL_WORKER_SHARE = "qualified_social_worker_share"
    MEAN_SATISFACTION = "mean_satisfaction"


INDICATOR_LIMIT: dict[str, tuple[str, Decimal]] = {
    Indicator.RETIREES_PER_FULL_TIME_STAFF: ("max", Decimal(10000)),
    Indicator.CERTIFIED_SHARE: ("min", Decimal(1)),
    Indicator.AGED_80_VISITED_SHARE: ("min", Decimal(1)),
    Indicator.NEW_TRANSFERS_VISITED_30_DAYS_SHARE: ("min", Decimal(1)),
    Indicator.CONTACT_CARD_SHARE: ("min", Decimal(1)),
    Indicator.TRAINING_HOURS_PER_FULL_TIME_STAFF: ("min", Decimal(2000)),
    Indicator.QUALIFIED_SOCIAL_WORKER_SHARE: ("min", Decimal(1)),
    Indicator.MEAN_SATISFACTION: ("min", Decimal(5)),
}
"""Per indicator: whether the threshold is a maximum or a minimum, and the largest threshold that makes sense."""


class StandardPeriod(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class CourseTopic(StrEnum):
    POLICY = "policy"
    SOCIAL_WORK_METHODS = "social_work_methods"
    ELDERLY_CARE = "elderly_care"
    INFORMATION_SYSTEM = "information_system"


class QualificationLevel(StrEnum):
    """National social-work qualifications, lowest first (the order is the rank)."""

    ASSISTANT_SOCIAL_WORKER = "assistant_social_worker"
    SOCIAL_WORKER = "social_worker"
    SENIOR_SOCIAL_WORKER = "senior_social_worker"


class FacilityKind(StrEnum):
    SERVICE_STATION = "service_station"
    ACTIVITY_ROOM = "activity_room"
    ELDERLY_CANTEEN = "elderly_canteen"


class FundingSource(StrEnum):
    CITY = "city"
    DISTRICT = "district"
    PROVINCE = "province"
    LOTTERY_WELFARE_FUND = "lottery_welfare_fund"
    OTHER = "other"


class FundingPurpose(StrEnum):
    STAFF = "staff"
    PREMISES = "premises"
    ACTIVITIES = "activities"
    HEALTH_CHECKS = "health_checks"
    OTHER = "other"


PROVINCE = "Hunan"
"""The area of the provincial agency: its standards and courses apply to every city."""


@functools.lru_cache(maxsize=4096)  # a uuid5 per command otherwise
def agency_uuid(area: str) -> UUID:
    """The stream id of the agency of an area (a city name, or ``PROVINCE``)."""
    return uuid5(NAMESPACE, f"agency:{area}")


def covers(area: str, city: str) -> bool:
    """Whether the agency of ``area`` acts for ``city`` (its own city; the province for all)."""
    return area in (city, PROVINCE)


@functools.lru_cache(maxsize=4096)  # a uuid5 per command otherwise
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


def id_check_character(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character of 17 ASCII digits (GB 11643-1999)."""
    total = sum(int(digit) * weight for digit, weight in zip(first17, ID_WEIGHTS, strict=True))
    return ID_CHECK_CHARACTERS[total % 11]


def id_birth_date(id_number: str) -> date | None:
    """The birth date written in characters 7-14 (``YYYYMMDD``) of an 18-character ID number, or
    None when they are not ASCII digits naming a calendar date."""
    written = id_number[6:14]
    if len(written) != 8 or not (written.isascii() and written.isdigit()):
        return None
    try:
        return date(int(written[:4]), int(written[4:6]), int(written[6:]))
    except ValueError:
        return None


def check_month(month: str) -> str:
    if not MONTH_PATTERN.fullmatch(month):
        raise RuleViolationError("month_format", f"month must be YYYY-MM, got {month!r}")
    return month


def not_in_future(day: date, today: date, what: str) -> None:
    if day > today:
        raise RuleViolationError("date_in_future", f"{what} {day.isoformat()} is in the future")
