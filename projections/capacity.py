"""The facts the capacity views (compliance, training, funding) keep: pure row writers, shared.

Each of the three views is its own projection with its own rows; it picks the writers it needs
from ``FACTS`` by event type. Rows hold facts with their business dates, not figures: the figures
(a share on a period's last day, the standard's version in force then) are computed by the views'
queries (``projections.compliance`` and friends), so a fact recorded late with an earlier date, a
standard revised with an earlier effective date or a course's hours are all taken into account
whatever the order in which they arrived (a rebuild equals incremental catch-up).

Rows (all keys ``|``-joined, dates ISO):

* ``("community", stream id)``: code, name, city, district, kind;
* ``("agency", stream id)``: area; ``("standard", "AREA|CODE")``: area, code, indicator, period and
  ``versions`` [{version, threshold, effective_from, retired, policy_reference}];
* ``("course", "AREA|CODE")``: title, hours, topic;
* ``("retiree", retiree id)``: ``placements`` and ``death`` (``projections.timeline``), ``birth_year``,
  ``certified_years``, ``home_visits`` (days), ``transfers`` [[community, day, contact_card]],
  ``ratings`` [[day, score]];
* ``("staff", "CODE|STAFF")``: role, ``qualified`` (at joining), ``stints`` [[joined, left|None]],
  ``qualifications`` [[level, day]], ``enrolled`` {course: day}, ``completed`` {course: day},
  ``trained`` [[day, hours]] (``StaffTrained``);
* ``("funding", "CODE|YEAR")``: ``total``, ``source:<s>`` and ``purpose:<p>`` amounts (Decimal strings);
* ``("facility", "CODE|ID")``: kind, area_m2, opened_on;
* ``("meta", "last_day")``: ``day``, the latest business date of any fact (periods are judged up to it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from ledger.domain.agency import Agency
from ledger.domain.community import Community
from ledger.domain.retiree import Retiree
from ledger.domain.values import ServiceType
from projections.base import Handler, Row, Rows, bump, cell_key, community_row, stream_id
from projections.shards import Merge, latest, merged
from projections.timeline import died, life_of, new_life, placed

SHARED: dict[str, Merge] = {"meta": latest("day")}
"""The capacity views' rows that gather many streams' facts: the last day seen, a maximum (``projections.shards``)."""


def _seen(rows: Rows, day: str) -> None:
    meta = rows.get("meta", "last_day")
    if meta is None or meta["day"] < day:
        rows.put("meta", "last_day", {"day": day})


def _code(rows: Rows, event: Community.Event) -> str:
    community = rows.get("community", stream_id(event))
    if community is None:
        raise LookupError(f"community stream {event.originator_id} has no Registered event before this one")
    return str(community["code"])


def _area(rows: Rows, event: Agency.Event) -> str:
    agency = rows.get("agency", stream_id(event))
    if agency is None:
        raise LookupError(f"agency stream {event.originator_id} has no AgencyEstablished event before this one")
    return str(agency["area"])


def _life(rows: Rows, event: Retiree.Event, change: Callable[[Row], None], day: str) -> None:
    life = life_of(rows, stream_id(event))
    change(life)
    rows.put("retiree", stream_id(event), life)
    _seen(rows, day)


def _staff(rows: Rows, event: Community.Event, staff_id: str, change: Callable[[Row], None], day: str) -> None:
    key = cell_key(_code(rows, event), staff_id)
    member = rows.get("staff", key)
    if member is None:
        raise LookupError(f"staff member {key} never joined")
    change(member)
    rows.put("staff", key, member)
    _seen(rows, day)


def registered(rows: Rows, e: Community.Registered) -> None:
    rows.put("community", stream_id(e), community_row(e))


def established(rows: Rows, e: Agency.AgencyEstablished) -> None:
    rows.put("agency", stream_id(e), {"area": e.area})


def adopted(rows: Rows, e: Agency.StandardAdopted) -> None:
    area = _area(rows, e)
    rows.put("standard", cell_key(area, e.code), {
        "area": area, "code": e.code, "indicator": e.indicator, "period": e.period,
        "versions": [_version(1, e.threshold, e.effective_from.isoformat(), False, e.policy_reference)],
    })


def _version(number: int, threshold: Decimal, effective_from: str, retired: bool, reference: str) -> Row:
    return {"version": number, "threshold": str(threshold), "effective_from": effective_from, "retired": retired,
            "policy_reference": reference}


def _new_version(rows: Rows, e: Agency.StandardRevised | Agency.StandardRetired, retired: bool) -> None:
    key = cell_key(_area(rows, e), e.code)
    standard = rows.get("standard", key)
    if standard is None:
        raise LookupError(f"standard {key} was never adopted")
    versions = standard["versions"]
    threshold = versions[-1]["threshold"] if retired else str(getattr(e, "threshold"))  # noqa: B009
    versions.append(_version(len(versions) + 1, Decimal(threshold), e.effective_from.isoformat(), retired,
                             e.policy_reference))
    rows.put("standard", key, standard)


def revised(rows: Rows, e: Agency.StandardRevised) -> None:
    _new_version(rows, e, retired=False)


def retired(rows: Rows, e: Agency.StandardRetired) -> None:
    _new_version(rows, e, retired=True)


def offered(rows: Rows, e: Agency.CourseOffered) -> None:
    rows.put("course", cell_key(_area(rows, e), e.code), {"title": e.title, "hours": e.hours, "topic": e.topic})


def enrolled(rows: Rows, e: Retiree.Enrolled) -> None:
    life = new_life(birth_year=e.birth_date.year, certified_years=[], home_visits=[], transfers=[], ratings=[])
    rows.put("retiree", stream_id(e), life)


def transferred(rows: Rows, e: Retiree.TransferredToCommunity) -> None:
    day = e.effective_date.isoformat()

    def change(life: Row) -> None:
        placed(e.community, day)(life)
        life["transfers"].append([e.community, day, e.contact_card])

    _life(rows, e, change, day)


def relocated(rows: Rows, e: Retiree.Relocated) -> None:
    _life(rows, e, placed(e.to_community, e.effective_date.isoformat()), e.effective_date.isoformat())


def deceased(rows: Rows, e: Retiree.Deceased) -> None:
    _life(rows, e, died(e.date_of_death.isoformat()), e.date_of_death.isoformat())


def certified(rows: Rows, e: Retiree.EligibilityCertified) -> None:
    _life(rows, e, lambda life: life["certified_years"].append(e.year), e.certified_on.isoformat())


def serviced(rows: Rows, e: Retiree.ServiceDelivered) -> None:
    day = e.delivered_on.isoformat()
    if e.service_type == ServiceType.HOME_VISIT:
        _life(rows, e, lambda life: life["home_visits"].append(day), day)
    else:
        _seen(rows, day)


def rated(rows: Rows, e: Retiree.SatisfactionRated) -> None:
    day = e.rated_on.isoformat()
    _life(rows, e, lambda life: life["ratings"].append([day, e.score]), day)


def staff_joined(rows: Rows, e: Community.StaffJoined) -> None:
    key = cell_key(_code(rows, e), e.staff_id)
    member = rows.get("staff", key) or {"stints": [], "qualifications": [], "enrolled": {}, "completed": {},
                                        "trained": []}
    member.update(role=e.role, qualified=e.qualified_social_worker)
    member["stints"].append([e.joined_on.isoformat(), None])
    rows.put("staff", key, member)
    _seen(rows, e.joined_on.isoformat())


def staff_left(rows: Rows, e: Community.StaffLeft) -> None:
    day = e.left_on.isoformat()
    _staff(rows, e, e.staff_id, lambda m: m["stints"][-1].__setitem__(1, day), day)


def trained(rows: Rows, e: Community.StaffTrained) -> None:
    day = e.completed_on.isoformat()
    _staff(rows, e, e.staff_id, lambda m: m["trained"].append([day, e.hours]), day)


def enrolled_in_course(rows: Rows, e: Community.EnrolledInCourse) -> None:
    day = e.enrolled_on.isoformat()
    _staff(rows, e, e.staff_id, lambda m: m["enrolled"].__setitem__(e.course, day), day)


def course_completed(rows: Rows, e: Community.CourseCompleted) -> None:
    day = e.completed_on.isoformat()
    _staff(rows, e, e.staff_id, lambda m: m["completed"].__setitem__(e.course, day), day)


def qualification(rows: Rows, e: Community.QualificationObtained) -> None:
    day = e.obtained_on.isoformat()
    _staff(rows, e, e.staff_id, lambda m: m["qualifications"].append([e.level, day]), day)


def facility(rows: Rows, e: Community.FacilityRecorded) -> None:
    rows.put("facility", cell_key(_code(rows, e), e.facility_id),
             {"kind": e.kind, "area_m2": e.area_m2, "opened_on": e.opened_on.isoformat()})


def funding(rows: Rows, e: Community.FundingAllocated) -> None:
    bump(rows, "funding", cell_key(_code(rows, e), f"{e.year:04d}"), {
        "total": e.amount, f"source:{e.source}": e.amount, f"purpose:{e.purpose}": e.amount,
    })


FACTS: Mapping[str, Handler] = {
    "Registered": registered,
    "AgencyEstablished": established,
    "StandardAdopted": adopted,
    "StandardRevised": revised,
    "StandardRetired": retired,
    "CourseOffered": offered,
    "Enrolled": enrolled,
    "TransferredToCommunity": transferred,
    "Relocated": relocated,
    "Deceased": deceased,
    "EligibilityCertified": certified,
    "ServiceDelivered": serviced,
    "SatisfactionRated": rated,
    "StaffJoined": staff_joined,
    "StaffLeft": staff_left,
    "StaffTrained": trained,
    "EnrolledInCourse": enrolled_in_course,
    "CourseCompleted": course_completed,
    "QualificationObtained": qualification,
    "FacilityRecorded": facility,
    "FundingAllocated": funding,
}


def facts(*types: str) -> dict[str, Handler]:
    """The writers of ``types`` (a view's handler table)."""
    return {name: FACTS[name] for name in types}


def load(store: Any, view: str) -> dict[str, dict[str, Row]]:
    """Every row of ``view`` as {kind: {key: data}} (a ``ViewStore``)."""
    kinds = ("community", "agency", "standard", "course", "retiree", "staff", "funding", "facility", "meta")
    return {kind: {row.key: row.data for row in merged(store.rows(view, kind), SHARED)} for kind in kinds}
