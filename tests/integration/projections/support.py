"""Helpers for the projection tests (no tests here): write facts through a real Ledger, then project.

``Hunan`` wraps ``Ledger.handle`` with short builders; ``project`` runs every registered view
into a fresh in-memory view store and returns it.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

from ledger import commands as c
from ledger.application import Ledger
from projections.runner import ProjectionRunner
from projections.store.memory import InMemoryViewStore
from tests.people import id_number

CITY_OF = {"CS": "Changsha", "ZZ": "Zhuzhou", "CD": "Changde"}


def project(ledger: Ledger) -> InMemoryViewStore:
    store = InMemoryViewStore()
    ProjectionRunner(ledger, store).catch_up()
    return store


class Hunan:
    """Short builders over ``ledger.handle`` (synthetic people; names are placeholders)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._people = 0

    def community(self, code: str) -> None:
        self.ledger.handle(c.RegisterCommunity(code=code, name=f"{code} community", city=CITY_OF[code[:2]],
                                               district="D", street="S", kind="urban_community"))

    def staff(self, code: str, staff_id: str, joined: date, role: str = "full_time", qualified: bool = False) -> None:
        self.ledger.handle(c.JoinStaff(community=code, staff_id=staff_id, name="Staff Member", role=role,
                                       qualified_social_worker=qualified, joined_on=joined))

    def staff_left(self, code: str, staff_id: str, left: date) -> None:
        self.ledger.handle(c.RecordStaffLeft(community=code, staff_id=staff_id, left_on=left, reason="moved"))

    def training(self, code: str, staff_id: str, hours: int, day: date) -> None:
        self.ledger.handle(c.RecordTraining(community=code, staff_id=staff_id, course="care", hours=hours,
                                            completed_on=day))

    def enroll(self, born: date = date(1950, 3, 1), pension: str = "2500", retired: date = date(2010, 1, 1),
               city: str = "Changsha") -> UUID:
        self._people += 1
        appended = self.ledger.handle(c.Enroll(
            name="Test Person", id_number=id_number(born, sequence=self._people % 1000), sex="female", birth_date=born,
            danwei_code="D1", danwei_name="Works", retirement_date=retired, monthly_pension=Decimal(pension),
            agency="CS-SIA", city=city, district="Yuelu",
        ))
        return UUID(appended.id)

    def transfer(self, retiree: UUID, code: str, effective: date) -> None:
        self.ledger.handle(c.TransferToCommunity(retiree_id=retiree, from_danwei="D1", community=code,
                                                 effective_date=effective, approved_by="agency"))

    def relocate(self, retiree: UUID, code: str, effective: date) -> None:
        self.ledger.handle(c.Relocate(retiree_id=retiree, to_community=code, effective_date=effective, reason="family"))

    def service(
        self, retiree: UUID, code: str, service_id: str, kind: str, day: date, staff: str, minutes: int
    ) -> None:
        self.ledger.handle(c.DeliverService(retiree_id=retiree, service_id=service_id, community=code,
                                            service_type=kind, delivered_on=day, staff_id=staff,
                                            duration_minutes=minutes, notes="private note"))

    def rate(self, retiree: UUID, score: int, day: date, service_id: str | None = None) -> None:
        self.ledger.handle(c.RateSatisfaction(retiree_id=retiree, score=score, rated_on=day, channel="phone",
                                              service_id=service_id, comment="private comment"))

    def certify(self, retiree: UUID, day: date) -> None:
        self.ledger.handle(c.CertifyEligibility(retiree_id=retiree, year=day.year, method="in_person",
                                                certified_on=day))

    def adjust(self, retiree: UUID, previous: str, new: str, month: str, reason: str = "annual_adjustment") -> None:
        self.ledger.handle(c.AdjustPension(retiree_id=retiree, previous_amount=Decimal(previous),
                                           new_amount=Decimal(new), effective_month=month, reason=reason))

    def suspend(self, retiree: UUID, month: str) -> None:
        self.ledger.handle(c.SuspendPension(retiree_id=retiree, effective_month=month, reason="certification missed"))

    def resume(self, retiree: UUID, month: str, back_pay: str = "0") -> None:
        self.ledger.handle(c.ResumePension(retiree_id=retiree, effective_month=month, reason="certified",
                                           back_pay=Decimal(back_pay)))

    def death(self, retiree: UUID, day: date) -> None:
        self.ledger.handle(c.RecordDeath(retiree_id=retiree, date_of_death=day, reported_by="family"))
