"""The Agency aggregate: the social insurance agency of a city (or of the province), its service
standards and its course catalogue.

A standard keeps every version (adopted, revised, retired), each with the day from which it is in
force, so that any period can be judged by the version in force on its last day. Versions take
effect in order: a revision or retirement must be dated after the version it follows.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger.domain.values import INDICATOR_LIMIT, agency_uuid
from ledger.errors import RuleViolationError


class Agency(Aggregate):
    """The agency of an ``area``: a city name, or ``values.PROVINCE`` for the province."""

    class Event(Aggregate.Event):
        PERSONAL = frozenset[str]()  # no personal data (see ledger.privacy)
        recorded_by: str
        event_id: UUID

        @property
        def business_date(self) -> date:
            return self.timestamp.date()

    class AgencyEstablished(Event, Aggregate.Created):
        area: str
        name: str

        def apply(self, a: Agency) -> None:
            a.area, a.name, a.standards, a.courses = self.area, self.name, {}, {}

    class StandardAdopted(Event):
        code: str
        indicator: str
        threshold: Decimal
        period: str
        effective_from: date
        policy_reference: str

        @property
        def business_date(self) -> date:
            return self.effective_from

        def apply(self, a: Agency) -> None:
            a.standards[self.code] = {"indicator": self.indicator, "period": self.period, "versions": [
                {"version": 1, "threshold": self.threshold, "effective_from": self.effective_from,
                 "retired": False, "policy_reference": self.policy_reference}]}

    class StandardRevised(Event):
        code: str
        threshold: Decimal
        effective_from: date
        policy_reference: str

        @property
        def business_date(self) -> date:
            return self.effective_from

        def apply(self, a: Agency) -> None:
            versions = a.standards[self.code]["versions"]
            versions.append({"version": len(versions) + 1, "threshold": self.threshold,
                             "effective_from": self.effective_from, "retired": False,
                             "policy_reference": self.policy_reference})

    class StandardRetired(Event):
        code: str
        effective_from: date
        policy_reference: str

        @property
        def business_date(self) -> date:
            return self.effective_from

        def apply(self, a: Agency) -> None:
            versions = a.standards[self.code]["versions"]
            versions.append({"version": len(versions) + 1, "threshold": versions[-1]["threshold"],
                             "effective_from": self.effective_from, "retired": True,
                             "policy_reference": self.policy_reference})

    class CourseOffered(Event):
        code: str
        title: str
        hours: int
        topic: str

        def apply(self, a: Agency) -> None:
            a.courses[self.code] = {"title": self.title, "hours": self.hours, "topic": self.topic}

    if TYPE_CHECKING:  # set by the events' apply(); not constructor arguments
        area: str
        name: str
        standards: dict[str, dict[str, Any]]
        courses: dict[str, dict[str, Any]]

    @classmethod
    def establish(cls, *, area: str, recorded_by: str, event_id: UUID, **fields: Any) -> Agency:
        return cls._create(cls.AgencyEstablished, id=agency_uuid(area), area=area, recorded_by=recorded_by,
                           event_id=event_id, **fields)

    def adopt_standard(self, *, code: str, indicator: str, threshold: Decimal, **fields: Any) -> None:
        if code in self.standards:
            raise RuleViolationError("standard_code_unique", f"standard {code} was adopted before; revise it")
        _check_threshold(indicator, threshold)
        self.trigger_event(self.StandardAdopted, code=code, indicator=indicator, threshold=threshold, **fields)

    def revise_standard(self, *, code: str, threshold: Decimal, effective_from: date, **fields: Any) -> None:
        standard = self._in_force(code, effective_from)
        _check_threshold(standard["indicator"], threshold)
        self.trigger_event(self.StandardRevised, code=code, threshold=threshold, effective_from=effective_from,
                           **fields)

    def retire_standard(self, *, code: str, effective_from: date, **fields: Any) -> None:
        self._in_force(code, effective_from)
        self.trigger_event(self.StandardRetired, code=code, effective_from=effective_from, **fields)

    def offer_course(self, *, code: str, **fields: Any) -> None:
        if code in self.courses:
            raise RuleViolationError("course_code_unique", f"course {code} is already offered")
        self.trigger_event(self.CourseOffered, code=code, **fields)

    def _in_force(self, code: str, effective_from: date) -> dict[str, Any]:
        standard = self.standards.get(code)
        if standard is None:
            raise RuleViolationError("standard_adopted", f"no standard {code} was adopted here")
        last = standard["versions"][-1]
        if last["retired"]:
            raise RuleViolationError("standard_not_retired", f"standard {code} is retired")
        if effective_from <= last["effective_from"]:
            raise RuleViolationError("standard_versions_in_order",
                                     "a new version must take effect after the version it follows")
        return standard

    def course(self, code: str) -> dict[str, Any] | None:
        return self.courses.get(code)


def _check_threshold(indicator: str, threshold: Decimal) -> None:
    direction, largest = INDICATOR_LIMIT[indicator]
    if not 0 < threshold <= largest:
        raise RuleViolationError("threshold_plausible",
                                 f"a {direction}imum {indicator} threshold lies above 0 and at most {largest}")
