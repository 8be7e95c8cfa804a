"""One small handler per command: load what it needs, check access, let the aggregate decide.

``HANDLERS`` is the one registry ``Ledger.handle`` dispatches through. A handler gets a
:class:`Unit` (the loads and checks of one attempt) and the validated command, and returns the
aggregates holding the new events plus the public id of the stream written. Saving, retries after
a lost race and idempotency are ``Ledger.handle``'s; the rules are the aggregates'.

In a batch (``Ledger.handle_many``) the unit also holds the batch's ``overlay``: the aggregates earlier
commands of the batch decided on but the log does not hold yet. Loads see them first (a copy, so a
command that fails leaves nothing behind), so each command is decided on the state its predecessors left.

With ``cached`` (a command's first attempt, on a log that checks ``unchanged``), loads take the
aggregates this process last saved or loaded (``ledger.decisions``) without reading the log, and the
streams only read are noted in ``reads`` with their versions; the save refuses the decision if any of
them moved meanwhile, and the command is decided again on fresh loads.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import date
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate

from ledger import commands as c
from ledger.access import check_write
from ledger.domain.agency import Agency
from ledger.domain.community import Community
from ledger.domain.identity import IdentityClaim
from ledger.domain.retiree import Retiree
from ledger.domain.values import PROVINCE, agency_uuid, community_uuid
from ledger.errors import NotFoundError, RuleViolationError, VersionConflictError

if TYPE_CHECKING:
    from ledger.application import Ledger

A = TypeVar("A", bound=Aggregate)


@dataclass(frozen=True)
class Decision:
    """The aggregates with pending events (saved together, atomically) and the stream's public id."""

    aggregates: list[Aggregate]
    public_id: str


@dataclass(frozen=True)
class Unit:
    """What one attempt at one command may do: load streams, check access, stamp events."""

    ledger: Ledger
    context: c.Context
    event_id: UUID
    today: date
    overlay: dict[UUID, Aggregate] = field(default_factory=dict)
    cached: bool = False
    reads: dict[UUID, int] = field(default_factory=dict)
    """The streams this attempt read without writing them, at the version read (checked by the save)."""

    @property
    def stamp(self) -> dict[str, Any]:
        return {"recorded_by": self.context.recorded_by, "event_id": self.event_id}

    def allow(self, command: object, **facts: str | None) -> None:
        """AccessDeniedError unless the caller may issue ``command`` given ``facts`` (trusted callers may)."""
        if self.context.access is not None:
            check_write(self.context.access, command, **facts)

    def new_stream(self) -> None:
        if self.context.expected_version not in (None, 0):
            raise VersionConflictError("a new stream starts at version 0")

    def retiree(self, retiree_id: UUID) -> Retiree:
        retiree = self._decided(retiree_id, Retiree) or self._kept(retiree_id, Retiree)
        retiree = copy.deepcopy(retiree) if retiree is not None else self.ledger.retiree(retiree_id)
        self._expect(retiree)
        return retiree

    def community(self, code: str) -> Community:
        community = self._decided(community_uuid(code), Community) or self._kept(community_uuid(code), Community)
        community = copy.deepcopy(community) if community is not None else self.ledger.community(code)
        self._expect(community)
        return community

    def agency(self, area: str) -> Agency:
        agency = self._decided(agency_uuid(area), Agency) or self._kept(agency_uuid(area), Agency)
        agency = copy.deepcopy(agency) if agency is not None else self.ledger.agency(area)
        self._expect(agency)
        return agency

    def course_offered(self, city: str, course: str) -> bool:
        """Whether the agency of ``city`` or the province's offers ``course`` (an unknown agency offers none)."""
        for area in (city, PROVINCE):
            try:
                agency = self._decided(agency_uuid(area), Agency) or self.ledger.agency(area, read_only=True)
            except NotFoundError:
                continue
            if agency.course(course) is not None:
                return True
        return False

    def _read_community(self, code: str) -> Community:
        """The community as it stands, not to be changed (NotFoundError if it is not registered). When
        ``cached``, the one this process holds (loaded once if it holds none), noted in ``reads``."""
        stream = community_uuid(code)
        decided = self._decided(stream, Community)
        if decided is not None:
            return decided
        if not self.cached:
            return self.ledger.community(code, read_only=True)
        community = self._kept(stream, Community)
        if community is None:
            try:
                community = self.ledger.community(code)  # a copy of its own: kept as it is
            except NotFoundError:
                self.reads[stream] = 0  # "not registered" holds only while the stream stays empty
                raise
            self.ledger.decisions.keep([community])
        self.reads[stream] = community.version
        return community

    def city_of(self, code: str) -> str:
        """The city of a community a retiree moves to (RuleViolationError if it is not registered)."""
        try:
            return self._read_community(code).city
        except NotFoundError:
            raise RuleViolationError("community_registered", f"community {code} is not registered") from None

    def staff_active(self, code: str, staff_id: str, day: date) -> bool:
        try:
            return self._read_community(code).staff_active_on(staff_id, day)
        except NotFoundError:
            return False

    def stream_exists(self, aggregate_id: UUID) -> bool:
        return aggregate_id in self.overlay or self.ledger.stream_exists(aggregate_id)

    def _decided(self, aggregate_id: UUID, kind: type[A]) -> A | None:
        aggregate = self.overlay.get(aggregate_id)
        if aggregate is not None and not isinstance(aggregate, kind):
            raise NotFoundError(f"no {kind.__name__.lower()} with this id")
        return aggregate

    def _kept(self, aggregate_id: UUID, kind: type[A]) -> A | None:
        """The aggregate this process last saved or loaded, when ``cached`` (not to be changed), or None."""
        if not self.cached:
            return None
        kept = self.ledger.decisions.get(aggregate_id)
        return kept if isinstance(kept, kind) else None

    def _expect(self, aggregate: Aggregate) -> None:
        wanted = self.context.expected_version
        if wanted is not None and aggregate.version != wanted:
            raise VersionConflictError(f"expected version {wanted}, the stream is at version {aggregate.version}")


Handler = Callable[[Unit, Any], Decision]
HANDLERS: dict[type, Handler] = {}
H = TypeVar("H", bound=Handler)


def handles(kind: type) -> Callable[[H], H]:
    def register(handler: H) -> H:
        HANDLERS[kind] = handler
        return handler

    return register


def values(command: object, *leave_out: str) -> dict[str, Any]:
    """The command's fields as keyword arguments for the aggregate, without ``leave_out``."""
    return {f.name: getattr(command, f.name) for f in fields(command) if f.name not in leave_out}  # type: ignore[arg-type]


# ---- communities -------------------------------------------------------------------------

@handles(c.RegisterCommunity)
def register_community(u: Unit, command: c.RegisterCommunity) -> Decision:
    u.allow(command)
    u.new_stream()
    return Decision([Community.register(**values(command), **u.stamp)], command.code)


def _on_community(u: Unit, command: Any, decide: Callable[[Community], None]) -> Decision:
    """Checks access on the command's own community, loads it, lets it decide."""
    u.allow(command)
    community = u.community(command.community)
    decide(community)
    return Decision([community], command.community)


@handles(c.JoinStaff)
def join_staff(u: Unit, command: c.JoinStaff) -> Decision:
    return _on_community(u, command, lambda k: k.join_staff(**values(command, "community"), today=u.today,
                                                            **u.stamp))


@handles(c.RecordStaffLeft)
def record_staff_left(u: Unit, command: c.RecordStaffLeft) -> Decision:
    return _on_community(u, command, lambda k: k.record_staff_left(**values(command, "community"), today=u.today,
                                                                   **u.stamp))


@handles(c.RecordTraining)
def record_training(u: Unit, command: c.RecordTraining) -> Decision:
    return _on_community(u, command, lambda k: k.record_training(**values(command, "community"), today=u.today,
                                                                 **u.stamp))


@handles(c.EnrolInCourse)
def enrol_in_course(u: Unit, command: c.EnrolInCourse) -> Decision:
    def decide(k: Community) -> None:
        k.enrol_in_course(**values(command, "community"), offered=u.course_offered(k.city, command.course),
                          today=u.today, **u.stamp)
    return _on_community(u, command, decide)


@handles(c.CompleteCourse)
def complete_course(u: Unit, command: c.CompleteCourse) -> Decision:
    return _on_community(u, command, lambda k: k.complete_course(**values(command, "community"), today=u.today,
                                                                 **u.stamp))


@handles(c.ObtainQualification)
def obtain_qualification(u: Unit, command: c.ObtainQualification) -> Decision:
    return _on_community(u, command, lambda k: k.obtain_qualification(**values(command, "community"),
                                                                      today=u.today, **u.stamp))


@handles(c.RecordFacility)
def record_facility(u: Unit, command: c.RecordFacility) -> Decision:
    return _on_community(u, command, lambda k: k.record_facility(**values(command, "community"), today=u.today,
                                                                 **u.stamp))


# ---- agencies ----------------------------------------------------------------------------

@handles(c.EstablishAgency)
def establish_agency(u: Unit, command: c.EstablishAgency) -> Decision:
    u.allow(command)
    u.new_stream()
    return Decision([Agency.establish(**values(command), **u.stamp)], command.area)


def _on_agency(u: Unit, command: Any, decide: Callable[[Agency], None]) -> Decision:
    """Checks access on the command's own area, loads its agency, lets it decide."""
    u.allow(command)
    agency = u.agency(command.area)
    decide(agency)
    return Decision([agency], command.area)


@handles(c.AdoptStandard)
def adopt_standard(u: Unit, command: c.AdoptStandard) -> Decision:
    return _on_agency(u, command, lambda a: a.adopt_standard(**values(command, "area"), **u.stamp))


@handles(c.ReviseStandard)
def revise_standard(u: Unit, command: c.ReviseStandard) -> Decision:
    return _on_agency(u, command, lambda a: a.revise_standard(**values(command, "area"), **u.stamp))


@handles(c.RetireStandard)
def retire_standard(u: Unit, command: c.RetireStandard) -> Decision:
    return _on_agency(u, command, lambda a: a.retire_standard(**values(command, "area"), **u.stamp))


@handles(c.OfferCourse)
def offer_course(u: Unit, command: c.OfferCourse) -> Decision:
    return _on_agency(u, command, lambda a: a.offer_course(**values(command, "area"), **u.stamp))


@handles(c.AllocateFunding)
def allocate_funding(u: Unit, command: c.AllocateFunding) -> Decision:
    """Written on the community's stream (which must exist: 404), by the agency of its city or the province."""
    u.allow(command)
    try:
        community = u.community(command.community)
    except NotFoundError:
        raise RuleViolationError("community_registered", f"community {command.community} is not registered") from None
    community.allocate_funding(**values(command, "community"), **u.stamp)
    return Decision([community], command.community)


# ---- retirees ----------------------------------------------------------------------------

@handles(c.Enroll)
def enroll(u: Unit, command: c.Enroll) -> Decision:
    """Saves the retiree with the identity claim of the ID number: one enrollment per person."""
    u.allow(command)
    u.new_stream()
    claim_id = u.ledger.claim_id(command.id_number)
    if u.stream_exists(claim_id):
        raise RuleViolationError("one_enrollment_per_id_number", "this ID number is already enrolled")
    retiree_id = u.context.new_id or uuid4()  # the caller's choice (the seeded demo), else a random one
    retiree = Retiree.enroll(retiree_id=retiree_id, today=u.today, **values(command), **u.stamp)
    claim = IdentityClaim.claim(claim_id=claim_id, retiree_id=retiree.id, recorded_by=u.context.recorded_by,
                                event_id=uuid5(u.event_id, "claim"))
    return Decision([retiree, claim], str(retiree.id))


def _on_retiree(u: Unit, command: Any, decide: Callable[[Retiree], None], **facts: str | None) -> Decision:
    """Loads the retiree, checks access on its current city and community, lets it decide."""
    retiree = u.retiree(command.retiree_id)
    u.allow(command, retiree_city=retiree.city, retiree_community=retiree.community, **facts)
    decide(retiree)
    return Decision([retiree], str(retiree.id))


@handles(c.TransferToCommunity)
def transfer_to_community(u: Unit, command: c.TransferToCommunity) -> Decision:
    city = u.city_of(command.community)
    return _on_retiree(u, command, lambda r: r.transfer_to_community(**values(command, "retiree_id"), **u.stamp),
                       community_city=city)


@handles(c.Relocate)
def relocate(u: Unit, command: c.Relocate) -> Decision:
    city = u.city_of(command.to_community)
    return _on_retiree(u, command, lambda r: r.relocate(**values(command, "retiree_id"), **u.stamp),
                       community_city=city)


@handles(c.AdjustPension)
def adjust_pension(u: Unit, command: c.AdjustPension) -> Decision:
    return _on_retiree(u, command, lambda r: r.adjust_pension(**values(command, "retiree_id"), **u.stamp))


@handles(c.CertifyEligibility)
def certify_eligibility(u: Unit, command: c.CertifyEligibility) -> Decision:
    return _on_retiree(u, command, lambda r: r.certify_eligibility(**values(command, "retiree_id"),
                                                                   today=u.today, **u.stamp))


@handles(c.SuspendPension)
def suspend_pension(u: Unit, command: c.SuspendPension) -> Decision:
    return _on_retiree(u, command, lambda r: r.suspend_pension(**values(command, "retiree_id"), **u.stamp))


@handles(c.ResumePension)
def resume_pension(u: Unit, command: c.ResumePension) -> Decision:
    return _on_retiree(u, command, lambda r: r.resume_pension(**values(command, "retiree_id"), **u.stamp))


@handles(c.DeliverService)
def deliver_service(u: Unit, command: c.DeliverService) -> Decision:
    """The community answers whether the staff member was active on the day; the retiree decides."""
    active = u.staff_active(command.community, command.staff_id, command.delivered_on)
    return _on_retiree(u, command, lambda r: r.deliver_service(**values(command, "retiree_id"), staff_active=active,
                                                               today=u.today, **u.stamp))


@handles(c.RateSatisfaction)
def rate_satisfaction(u: Unit, command: c.RateSatisfaction) -> Decision:
    return _on_retiree(u, command, lambda r: r.rate_satisfaction(**values(command, "retiree_id"),
                                                                 today=u.today, **u.stamp))


@handles(c.RecordDeath)
def record_death(u: Unit, command: c.RecordDeath) -> Decision:
    return _on_retiree(u, command, lambda r: r.record_death(**values(command, "retiree_id"), today=u.today,
                                                            **u.stamp))
