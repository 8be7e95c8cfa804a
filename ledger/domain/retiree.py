"""The Retiree aggregate: enrollment, the move from danwei to community, pension, services.

Each event is a frozen, versioned storage format; ``apply`` is its fold step and runs both on
command and on replay. Commands check the rules of DESIGN.md section 2 first and raise
``RuleViolationError`` naming the rule; a refused command triggers no event.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger.domain.pension import PensionDecisions
from ledger.domain.values import (
    PensionStatus,
    Stage,
    first_day,
    money,
    not_in_future,
)
from ledger.errors import RuleViolationError


def refuse(rule: str, detail: str) -> RuleViolationError:
    return RuleViolationError(rule, detail)


class Retiree(PensionDecisions, Aggregate):
    """A retired enterprise worker, from enrollment to death."""

    class Event(Aggregate.Event):
        """Every retiree event records who wrote it and carries a unique event id.

        ``PERSONAL`` names the fields that are personal data (``ledger.privacy`` redacts them).
        """

        PERSONAL = frozenset[str]()
        DATE_FIELD = ""  # the field holding the date the fact took effect ('': when it was recorded)
        recorded_by: str
        event_id: UUID

        @property
        def business_date(self) -> date:
            """The date the fact took effect (projections and ``as_of`` use it); a month's first day."""
            value = getattr(self, self.DATE_FIELD) if self.DATE_FIELD else self.timestamp.date()
            return first_day(value) if isinstance(value, str) else value  # type: ignore[no-any-return]

        def mutate(self, aggregate: Any) -> Any:
            """The fold step, which also keeps the latest business date folded so far (private state, in
            snapshots): a snapshot whose latest date is on or before a day answers ``as_of`` that day
            without replaying the events before it. Without one (a snapshot written before this was
            kept), the date is unknown (``date.max``) and no later snapshot of the stream is used."""
            aggregate = super().mutate(aggregate)
            latest = getattr(aggregate, "_latest_business_date", None)
            if latest is None:
                latest = date.min if isinstance(self, Aggregate.Created) else date.max
            aggregate._latest_business_date = max(latest, self.business_date)
            return aggregate

    class Enrolled(Event, Aggregate.Created):
        PERSONAL = frozenset({"name", "id_number", "sex", "birth_date"})
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

        DATE_FIELD = "retirement_date"

        def apply(self, r: Retiree) -> None:
            r.name, r.id_number, r.sex, r.birth_date = self.name, self.id_number, self.sex, self.birth_date
            r.danwei_code, r.danwei_name = self.danwei_code, self.danwei_name
            r.retirement_date, r.monthly_pension = self.retirement_date, self.monthly_pension
            r.agency, r.city, r.district = self.agency, self.city, self.district
            r.stage = Stage.DANWEI.value
            r.community = None
            r.placements = []
            r.pension_status = PensionStatus.ACTIVE.value
            r.certified_years = []
            r.services = {}
            r.overall_rated_on = []
            r.date_of_death = None

    class TransferredToCommunity(Event):
        from_danwei: str
        community: str
        effective_date: date
        personnel_file: bool
        socialized_payment: bool
        contact_card: bool
        party_relation: bool
        approved_by: str

        DATE_FIELD = "effective_date"

        def apply(self, r: Retiree) -> None:
            r.stage = Stage.COMMUNITY.value
            r.community = self.community
            r.placements.append([self.community, self.effective_date])

    class Relocated(Event):
        from_community: str
        to_community: str
        effective_date: date
        reason: str

        DATE_FIELD = "effective_date"

        def apply(self, r: Retiree) -> None:
            r.community = self.to_community
            r.placements.append([self.to_community, self.effective_date])

    class PensionAdjusted(Event):
        previous_amount: Decimal
        new_amount: Decimal
        effective_month: str
        reason: str
        policy_reference: str

        DATE_FIELD = "effective_month"

        def apply(self, r: Retiree) -> None:
            r.monthly_pension = self.new_amount

    class EligibilityCertified(Event):
        year: int
        method: str
        certified_on: date

        DATE_FIELD = "certified_on"

        def apply(self, r: Retiree) -> None:
            r.certified_years.append(self.year)

    class PensionSuspended(Event):
        effective_month: str
        reason: str

        DATE_FIELD = "effective_month"

        def apply(self, r: Retiree) -> None:
            r.pension_status = PensionStatus.SUSPENDED.value

    class PensionResumed(Event):
        effective_month: str
        reason: str
        back_pay: Decimal

        DATE_FIELD = "effective_month"

        def apply(self, r: Retiree) -> None:
            r.pension_status = PensionStatus.ACTIVE.value

    class ServiceDelivered(Event):
        """Version 2 added ``notes``; version-1 records are upcast with empty notes."""

        class_version = 2
        PERSONAL = frozenset({"notes"})

        service_id: str
        community: str
        service_type: str
        delivered_on: date
        staff_id: str
        duration_minutes: int
        notes: str

        DATE_FIELD = "delivered_on"

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["notes"] = ""

        def apply(self, r: Retiree) -> None:
            r.services[self.service_id] = {
                "community": self.community,
                "service_type": self.service_type,
                "delivered_on": self.delivered_on,
                "rated": False,
            }

    class SatisfactionRated(Event):
        PERSONAL = frozenset({"comment"})
        service_id: str | None
        score: int
        comment: str
        rated_on: date
        channel: str

        DATE_FIELD = "rated_on"

        def apply(self, r: Retiree) -> None:
            if self.service_id is None:
                r.overall_rated_on.append(self.rated_on)
            else:  # a new entry, never a change in place (see Retiree.__deepcopy__)
                r.services[self.service_id] = {**r.services[self.service_id], "rated": True}

    class Deceased(Event):
        date_of_death: date
        reported_by: str

        DATE_FIELD = "date_of_death"

        def apply(self, r: Retiree) -> None:
            r.stage = Stage.DECEASED.value
            r.pension_status = PensionStatus.ENDED.value
            r.date_of_death = self.date_of_death

    if TYPE_CHECKING:  # set by the events' apply(); not constructor arguments
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
        stage: str
        community: str | None
        placements: list[list[Any]]
        pension_status: str
        certified_years: list[int]
        services: dict[str, dict[str, Any]]
        overall_rated_on: list[date]
        date_of_death: date | None

    def __deepcopy__(self, memo: dict[int, Any]) -> Retiree:
        """The copy the repository's aggregate cache hands to a command: every list, dict and set one
        level deep, since the events only append to them or replace their items, never change an item
        in place. O(size) in C instead of a generic deep copy of every service entry."""
        clone = object.__new__(type(self))
        clone.__dict__.update({
            name: type(value)(value) if isinstance(value, list | dict | set) else value
            for name, value in self.__dict__.items()
        })
        return clone

    # ---- commands -------------------------------------------------------------------------

    @classmethod
    def enroll(cls, *, retiree_id: UUID, recorded_by: str, event_id: UUID, today: date, **fields: Any) -> Retiree:
        not_in_future(fields["birth_date"], today, "birth date")
        if fields["retirement_date"] <= fields["birth_date"]:
            raise refuse("retirement_after_birth", "retirement date must be after birth date")
        fields["monthly_pension"] = money(fields["monthly_pension"])
        return cls._create(
            cls.Enrolled, id=retiree_id, recorded_by=recorded_by, event_id=event_id, **fields
        )

    def transfer_to_community(self, *, effective_date: date, **fields: Any) -> None:
        self._alive()
        if self.stage != Stage.DANWEI:
            raise refuse("transfer_only_from_danwei", "a transfer is only possible from the danwei stage")
        if effective_date < self.retirement_date:
            raise refuse("transfer_before_retirement", "a transfer cannot take effect before retirement")
        if fields["from_danwei"] != self.danwei_code:
            raise refuse("transfer_from_own_danwei", "from_danwei must be the retiree's danwei")
        self.trigger_event(self.TransferredToCommunity, effective_date=effective_date, **fields)

    def relocate(self, *, to_community: str, effective_date: date, from_community: str | None = None,
                 **fields: Any) -> None:
        self._alive()
        if self.stage != Stage.COMMUNITY or self.community is None:
            raise refuse("relocation_only_while_community_managed", "relocation needs a managing community")
        if from_community is not None and from_community != self.community:
            raise refuse("relocation_from_current_community", "from_community is not the current community")
        if to_community == self.community:
            raise refuse("relocation_to_other_community", "the retiree already lives in that community")
        if effective_date < self.placements[-1][1]:
            raise refuse("relocation_date_order", "relocation cannot precede the current placement")
        self.trigger_event(
            self.Relocated,
            from_community=self.community,
            to_community=to_community,
            effective_date=effective_date,
            **fields,
        )

    def certify_eligibility(self, *, year: int, certified_on: date, today: date, **fields: Any) -> None:
        self._alive()
        not_in_future(certified_on, today, "certification date")
        if year in self.certified_years:
            raise refuse("one_certification_per_year", f"already certified for {year}")
        if certified_on.year != year:
            raise refuse("certification_in_its_year", "certified_on must fall in the certified year")
        if certified_on < self.retirement_date:
            raise refuse("certification_before_retirement", "certification precedes retirement")
        self.trigger_event(self.EligibilityCertified, year=year, certified_on=certified_on, **fields)

    def deliver_service(
        self,
        *,
        service_id: str,
        community: str,
        delivered_on: date,
        staff_active: bool,
        today: date,
        **fields: Any,
    ) -> None:
        """``staff_active`` is the community's answer for the staff member on ``delivered_on``."""
        self._alive()
        not_in_future(delivered_on, today, "service date")
        if self.community_on(delivered_on) != community:
            raise refuse("service_by_managing_community", "the community did not manage the retiree on that date")
        if not staff_active:
            raise refuse("staff_active_in_community", "the staff member was not active in the community on that date")
        if service_id in self.services:
            raise refuse("service_id_unique", "this service id is already recorded")
        self.trigger_event(
            self.ServiceDelivered, service_id=service_id, community=community, delivered_on=delivered_on, **fields
        )

    def rate_satisfaction(
        self, *, service_id: str | None, score: int, rated_on: date, today: date, **fields: Any
    ) -> None:
        self._alive()
        not_in_future(rated_on, today, "rating date")
        if not 1 <= score <= 5:
            raise refuse("score_between_1_and_5", "a score is between 1 and 5")
        if service_id is not None:
            service = self.services.get(service_id)
            if service is None:
                raise refuse("rating_of_delivered_service", "the rating names no service delivered to this retiree")
            if service["rated"]:
                raise refuse("one_rating_per_service", "this service is already rated")
            if rated_on < service["delivered_on"]:
                raise refuse("rating_after_service", "a rating cannot precede its service")
        self.trigger_event(self.SatisfactionRated, service_id=service_id, score=score, rated_on=rated_on, **fields)

    def record_death(self, *, date_of_death: date, today: date, **fields: Any) -> None:
        self._alive()
        not_in_future(date_of_death, today, "date of death")
        if date_of_death < self.birth_date:
            raise refuse("death_after_birth", "date of death precedes birth")
        self.trigger_event(self.Deceased, date_of_death=date_of_death, **fields)

    # ---- queries --------------------------------------------------------------------------

    def community_on(self, day: date) -> str | None:
        """The community that managed the retiree on ``day`` (None while with the danwei)."""
        current = None
        for community, since in self.placements:
            if since <= day:
                current = community
        if self.date_of_death is not None and day > self.date_of_death:
            return None
        return current

    def _alive(self) -> None:
        if self.stage == Stage.DECEASED:
            raise refuse("retiree_deceased", "after death nothing but corrections is accepted")
