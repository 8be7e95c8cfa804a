"""The Community aggregate: the executor of services and its staff.

Staff records keep every stint (joined, left) so that "active on a date" can be answered for
any past date, as the service rule needs.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger.domain.values import QualificationLevel, community_uuid, covers, money, not_in_future
from ledger.errors import RuleViolationError


class Community(Aggregate):
    """A residents' community (urban) or town (rural) that manages retirees."""

    class Event(Aggregate.Event):
        PERSONAL = frozenset[str]()  # the fields that are personal data (see ledger.privacy)
        recorded_by: str
        event_id: UUID

        @property
        def business_date(self) -> date:
            return self.timestamp.date()

    class Registered(Event, Aggregate.Created):
        code: str
        name: str
        city: str
        district: str
        street: str
        kind: str

        def apply(self, c: Community) -> None:
            c.code, c.name, c.city, c.district, c.street, c.kind = (
                self.code, self.name, self.city, self.district, self.street, self.kind,
            )
            c.staff = {}

    class StaffJoined(Event):
        PERSONAL = frozenset({"name"})
        staff_id: str
        name: str
        role: str
        qualified_social_worker: bool
        joined_on: date

        @property
        def business_date(self) -> date:
            return self.joined_on

        def apply(self, c: Community) -> None:
            member = c.staff.setdefault(self.staff_id, {"stints": [], "training_hours": 0})
            member.update(name=self.name, role=self.role, qualified=self.qualified_social_worker)
            member["stints"].append([self.joined_on, None])

    class StaffLeft(Event):
        staff_id: str
        left_on: date
        reason: str

        @property
        def business_date(self) -> date:
            return self.left_on

        def apply(self, c: Community) -> None:
            c.staff[self.staff_id]["stints"][-1][1] = self.left_on

    class StaffTrained(Event):
        staff_id: str
        course: str
        hours: int
        completed_on: date

        @property
        def business_date(self) -> date:
            return self.completed_on

        def apply(self, c: Community) -> None:
            c.staff[self.staff_id]["training_hours"] += self.hours

    class EnrolledInCourse(Event):
        staff_id: str
        course: str
        enrolled_on: date

        @property
        def business_date(self) -> date:
            return self.enrolled_on

        def apply(self, c: Community) -> None:
            c.staff[self.staff_id].setdefault("courses", {})[self.course] = "enrolled"

    class CourseCompleted(Event):
        staff_id: str
        course: str
        completed_on: date

        @property
        def business_date(self) -> date:
            return self.completed_on

        def apply(self, c: Community) -> None:
            c.staff[self.staff_id].setdefault("courses", {})[self.course] = "completed"

    class QualificationObtained(Event):
        staff_id: str
        level: str
        obtained_on: date

        @property
        def business_date(self) -> date:
            return self.obtained_on

        def apply(self, c: Community) -> None:
            c.staff[self.staff_id]["qualification"] = self.level

    class FacilityRecorded(Event):
        facility_id: str
        kind: str
        area_m2: int
        opened_on: date

        @property
        def business_date(self) -> date:
            return self.opened_on

        def apply(self, c: Community) -> None:
            facilities = vars(c).setdefault("facilities", {})
            facilities[self.facility_id] = {"kind": self.kind, "area_m2": self.area_m2, "opened_on": self.opened_on}

    class FundingAllocated(Event):
        """Recorded by the agency of ``area`` (the community's city or the province) on the community."""

        area: str
        year: int
        amount: Decimal
        source: str
        purpose: str

        @property
        def business_date(self) -> date:
            return date(self.year, 1, 1)

        def apply(self, c: Community) -> None:
            funding = vars(c).setdefault("funding", {})
            funding[str(self.year)] = funding.get(str(self.year), Decimal(0)) + self.amount

    if TYPE_CHECKING:  # set by the events' apply(); not constructor arguments
        code: str
        name: str
        city: str
        district: str
        street: str
        kind: str
        staff: dict[str, dict[str, Any]]

    @classmethod
    def register(cls, *, code: str, recorded_by: str, event_id: UUID, **fields: Any) -> Community:
        return cls._create(
            cls.Registered, id=community_uuid(code), code=code, recorded_by=recorded_by, event_id=event_id, **fields
        )

    def join_staff(self, *, staff_id: str, joined_on: date, today: date, **fields: Any) -> None:
        not_in_future(joined_on, today, "joining date")
        member = self.staff.get(staff_id)
        if member is not None:
            last_left = member["stints"][-1][1]
            if last_left is None:
                raise RuleViolationError("staff_already_active", "the staff member is already active here")
            if joined_on <= last_left:
                raise RuleViolationError("staff_rejoin_after_leaving", "a new stint must start after the last ended")
        self.trigger_event(self.StaffJoined, staff_id=staff_id, joined_on=joined_on, **fields)

    def record_staff_left(self, *, staff_id: str, left_on: date, today: date, **fields: Any) -> None:
        not_in_future(left_on, today, "leaving date")
        member = self.staff.get(staff_id)
        if member is None or member["stints"][-1][1] is not None:
            raise RuleViolationError("staff_active_in_community", "the staff member is not active here")
        if left_on < member["stints"][-1][0]:
            raise RuleViolationError("staff_left_after_joining", "leaving date precedes joining date")
        self.trigger_event(self.StaffLeft, staff_id=staff_id, left_on=left_on, **fields)

    def record_training(self, *, staff_id: str, hours: int, completed_on: date, today: date, **fields: Any) -> None:
        not_in_future(completed_on, today, "training date")
        if not self.staff_active_on(staff_id, completed_on):
            raise RuleViolationError("staff_active_in_community", "training is recorded for active staff only")
        if not 0 < hours <= 2000:
            raise RuleViolationError("training_hours_plausible", "training hours must be between 1 and 2000")
        self.trigger_event(self.StaffTrained, staff_id=staff_id, hours=hours, completed_on=completed_on, **fields)

    def enrol_in_course(self, *, staff_id: str, course: str, enrolled_on: date, offered: bool, today: date,
                        **fields: Any) -> None:
        """``offered``: whether the agency of the community's city or the province offers ``course``."""
        not_in_future(enrolled_on, today, "enrolment date")
        self._active(staff_id, enrolled_on)
        if not offered:
            raise RuleViolationError("course_offered", f"course {course} is not offered to this community")
        if course in self.staff[staff_id].get("courses", {}):
            raise RuleViolationError("course_enrolled_once", f"the staff member is already enrolled in {course}")
        self.trigger_event(self.EnrolledInCourse, staff_id=staff_id, course=course, enrolled_on=enrolled_on, **fields)

    def complete_course(self, *, staff_id: str, course: str, completed_on: date, today: date, **fields: Any) -> None:
        not_in_future(completed_on, today, "completion date")
        self._active(staff_id, completed_on)
        state = self.staff[staff_id].get("courses", {}).get(course)
        if state != "enrolled":
            raise RuleViolationError("course_enrolled", f"the staff member is not enrolled in {course}"
                                     if state is None else f"the staff member completed {course} before")
        self.trigger_event(self.CourseCompleted, staff_id=staff_id, course=course, completed_on=completed_on,
                           **fields)

    def obtain_qualification(self, *, staff_id: str, level: str, obtained_on: date, today: date,
                             **fields: Any) -> None:
        not_in_future(obtained_on, today, "qualification date")
        self._active(staff_id, obtained_on)
        ranks = list(QualificationLevel)
        held = self.staff[staff_id].get("qualification")
        if held is not None and ranks.index(QualificationLevel(level)) <= ranks.index(QualificationLevel(held)):
            raise RuleViolationError("qualification_rises", f"the staff member already holds {held}")
        self.trigger_event(self.QualificationObtained, staff_id=staff_id, level=level, obtained_on=obtained_on,
                           **fields)

    def record_facility(self, *, facility_id: str, area_m2: int, opened_on: date, today: date,
                        **fields: Any) -> None:
        not_in_future(opened_on, today, "opening date")
        if facility_id in vars(self).get("facilities", {}):
            raise RuleViolationError("facility_recorded_once", f"facility {facility_id} is recorded already")
        if not 0 < area_m2 <= 100000:
            raise RuleViolationError("facility_area_plausible", "a facility's area lies between 1 and 100000 m2")
        self.trigger_event(self.FacilityRecorded, facility_id=facility_id, area_m2=area_m2, opened_on=opened_on,
                           **fields)

    def allocate_funding(self, *, area: str, amount: Decimal, **fields: Any) -> None:
        if not covers(area, self.city):
            raise RuleViolationError("funding_within_area", f"the agency of {area} does not fund {self.city}")
        self.trigger_event(self.FundingAllocated, area=area, amount=money(amount), **fields)

    def _active(self, staff_id: str, day: date) -> None:
        if staff_id not in self.staff:
            raise RuleViolationError("staff_known", f"no staff member {staff_id} ever joined this community")
        if not self.staff_active_on(staff_id, day):
            raise RuleViolationError("staff_active_in_community", f"{staff_id} was not active here on {day}")

    def staff_active_on(self, staff_id: str, day: date) -> bool:
        """True when ``day`` falls in a stint: joined_on <= day <= left_on (the leaving day counts)."""
        member = self.staff.get(staff_id)
        if member is None:
            return False
        return any(joined <= day and (left is None or day <= left) for joined, left in member["stints"])
