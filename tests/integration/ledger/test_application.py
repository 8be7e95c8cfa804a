"""The application on every backend: rules across aggregates, concurrency, idempotency, queries."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import StoredEvent

from ledger import codec
from ledger import commands as c
from ledger.application import Ledger
from ledger.config import Settings
from ledger.domain.retiree import Retiree
from ledger.errors import (
    ConflictError,
    IdempotencyKeyReusedError,
    InvalidInputError,
    NotFoundError,
    RuleViolationError,
    VersionConflictError,
)
from ledger.integrity.chain import first_break
from tests.backends import backend_settings  # noqa: F401  (fixture)
from tests.people import check_character
from tests.people import id_number as id_number_of
from tests.unit.ledger.test_commands import ENROLL

TODAY = date(2026, 6, 30)
BORN = date(1955, 5, 5)
ID_NUMBER = id_number_of(BORN)


@pytest.fixture
def app(backend_settings: Settings) -> Iterator[Ledger]:  # noqa: F811
    ledger = Ledger(backend_settings, clock=lambda: TODAY)
    yield ledger
    ledger.close()


def community(app: Ledger, code: str = "CS-YL-001") -> None:
    app.handle(c.RegisterCommunity(code=code, name="Yuelu Street", city="Changsha", district="Yuelu",
                                   street="Yinpenling", kind="urban_community"))
    app.handle(c.JoinStaff(community=code, staff_id="s-1", name="Zhou Min", role="full_time",
                           qualified_social_worker=True, joined_on=date(2012, 1, 1)))


def enroll(app: Ledger, id_number: str = ID_NUMBER, **context: object) -> c.Appended:
    return app.handle(
        c.Enroll(name="Wang Fang", id_number=id_number, sex="female", birth_date=BORN,
                 danwei_code="D-TEX-01", danwei_name="Changsha Textile Mill", retirement_date=date(2005, 6, 1),
                 monthly_pension=Decimal("2100"), agency="CS-SIA", city="Changsha", district="Yuelu"),
        c.Context(**context),  # type: ignore[arg-type]
    )


def managed_retiree(app: Ledger) -> UUID:
    community(app)
    rid = UUID(enroll(app).id)
    app.handle(c.TransferToCommunity(retiree_id=rid, from_danwei="D-TEX-01", community="CS-YL-001",
                                     effective_date=date(2006, 1, 1), approved_by="agency-1"))
    return rid


def test_one_enrollment_per_id_number_across_retirees(app: Ledger) -> None:
    first = enroll(app)
    head = app.head()
    with pytest.raises(RuleViolationError) as caught:
        enroll(app, id_number=f" {ID_NUMBER} ")
    assert caught.value.rule == "one_enrollment_per_id_number"
    assert app.head() == head
    assert app.find_retiree(ID_NUMBER) == UUID(first.id)
    assert app.find_retiree("430102195505050000") is None


@pytest.mark.parametrize(("id_number", "why"), [
    (ID_NUMBER[:17] + ("0" if ID_NUMBER[17] != "0" else "1"), "check character"),
    (id_number_of(date(1955, 5, 6)), "birth date in id_number"),
    ("43010219550231123" + check_character("43010219550231123"), "not a birth date"),  # 31 February
])
def test_an_id_number_with_a_wrong_check_or_another_birth_date_is_refused_and_not_echoed(
    app: Ledger, id_number: str, why: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        enroll(app, id_number=id_number)
    assert why in caught.value.detail
    assert id_number not in caught.value.detail and id_number[6:14] not in caught.value.detail
    assert app.head() == 0 and app.find_retiree(id_number) is None


def test_transfer_into_an_unregistered_community_is_refused(app: Ledger) -> None:
    rid = UUID(enroll(app).id)
    with pytest.raises(RuleViolationError) as caught:
        app.handle(c.TransferToCommunity(retiree_id=rid, from_danwei="D-TEX-01", community="NOPE",
                                         effective_date=date(2006, 1, 1), approved_by="a"))
    assert caught.value.rule == "community_registered"


def test_service_by_staff_not_active_that_day_is_refused(app: Ledger) -> None:
    rid = managed_retiree(app)
    with pytest.raises(RuleViolationError) as caught:
        app.handle(c.DeliverService(retiree_id=rid, service_id="sv-1", community="CS-YL-001",
                                    service_type="home_visit", delivered_on=date(2011, 6, 1), staff_id="s-1",
                                    duration_minutes=30))
    assert caught.value.rule == "staff_active_in_community"


def test_registering_a_community_twice_conflicts(app: Ledger) -> None:
    community(app)
    with pytest.raises(ConflictError):
        community(app)


def test_expected_version_mismatch_is_a_conflict_and_appends_nothing(app: Ledger) -> None:
    rid = managed_retiree(app)
    head = app.head()
    command = c.CertifyEligibility(retiree_id=rid, year=2021, method="in_person", certified_on=date(2021, 3, 1))
    with pytest.raises(VersionConflictError):
        app.handle(command, c.Context(expected_version=1))
    assert app.head() == head
    assert app.handle(command, c.Context(expected_version=2)).version == 3


def test_replayed_idempotency_key_returns_the_first_result_and_appends_nothing(app: Ledger) -> None:
    rid = managed_retiree(app)
    command = c.CertifyEligibility(retiree_id=rid, year=2021, method="in_person", certified_on=date(2021, 3, 1))
    first = app.handle(command, c.Context(principal="community-1", idempotency_key="req-1"))
    head = app.head()
    again = app.handle(command, c.Context(principal="community-1", idempotency_key="req-1"))
    assert (again.id, again.version, again.seq, again.replayed) == (first.id, first.version, first.seq, True)
    assert app.head() == head
    enrolled = enroll(app, id_number=id_number_of(BORN, sequence=111), idempotency_key="e-1")
    assert enroll(app, id_number=id_number_of(BORN, sequence=111), idempotency_key="e-1").seq == enrolled.seq


def test_state_at_a_version_and_as_of_a_date(app: Ledger) -> None:
    rid = managed_retiree(app)
    for year, new in ((2019, "2200"), (2020, "2300"), (2021, "2400")):
        current = app.retiree(rid).monthly_pension
        app.handle(c.AdjustPension(retiree_id=rid, previous_amount=current, new_amount=Decimal(new),
                                   effective_month=f"{year}-01", reason="annual_adjustment"))
    assert app.retiree(rid).monthly_pension == Decimal("2400.00")
    assert app.retiree(rid, version=3).monthly_pension == Decimal("2200.00")
    assert app.retiree(rid, as_of=date(2020, 6, 30)).monthly_pension == Decimal("2300.00")
    assert app.retiree(rid, as_of=date(2005, 12, 31)).community is None
    with pytest.raises(NotFoundError):
        app.retiree(rid, as_of=date(2000, 1, 1))
    with pytest.raises(NotFoundError):
        app.retiree(rid, version=99)


def test_history_lists_every_event_with_its_seq_and_author(app: Ledger) -> None:
    rid = managed_retiree(app)
    history = app.history(rid)
    assert [(h.version, h.type, h.recorded_by) for h in history] == [
        (1, "Enrolled", "system"), (2, "TransferredToCommunity", "system"),
    ]
    assert history[0].seq < history[1].seq and history[1].prev_hash != history[0].prev_hash
    with pytest.raises(NotFoundError):
        app.history(uuid4())


def test_long_histories_are_read_from_snapshots(backend_settings: Settings) -> None:  # noqa: F811
    settings = Settings(**{**backend_settings.__dict__, "snapshot_interval": 5})
    app = Ledger(settings, clock=lambda: TODAY)
    try:
        rid = managed_retiree(app)
        for year in range(2006, 2020):
            app.handle(c.CertifyEligibility(retiree_id=rid, year=year, method="data_matching",
                                            certified_on=date(year, 2, 1)))
        assert app.snapshots is not None
        snapshots = list(app.snapshots.get(rid))
        assert [s.originator_version for s in snapshots] == [5, 10, 15]
        assert app.retiree(rid).certified_years == list(range(2006, 2020))
        assert app.retiree(rid, version=12).certified_years == list(range(2006, 2016))
    finally:
        app.close()


def test_an_old_shape_event_is_read_back_through_its_upcaster(app: Ledger) -> None:
    rid = managed_retiree(app)
    v1_state = {
        "timestamp": codec.loads(codec.dumps({"t": app.retiree(rid).modified_on}))["t"],
        "recorded_by": "legacy-import", "event_id": uuid4(), "service_id": "sv-legacy", "community": "CS-YL-001",
        "service_type": "home_visit", "delivered_on": date(2013, 4, 2), "staff_id": "s-1", "duration_minutes": 40,
    }  # version 1 of ServiceDelivered: no "notes", no class_version key
    topic = "ledger.domain.retiree:Retiree.ServiceDelivered"
    state = codec.dumps(v1_state)
    if app.mapper.seals:  # stored as the ledger stores it: encrypted at rest, sealed to its place
        state = app.mapper.seal(StoredEvent(rid, 3, topic, state))
    app.log.insert_events([StoredEvent(rid, 3, topic, state)])
    event = app.history(rid)[-1]
    assert (event.type, event.data["notes"], event.data["duration_minutes"]) == ("ServiceDelivered", "", 40)
    assert app.retiree(rid).services["sv-legacy"]["service_type"] == "home_visit"
    assert Retiree.ServiceDelivered.class_version == 2


def test_the_log_verifies_after_a_session_of_commands(app: Ledger) -> None:
    managed_retiree(app)
    assert first_break(app.iter_log()) is None
    assert [r.id for r in app.read_log(after=2, limit=2)] == [3, 4]


def test_personal_data_is_encrypted_at_rest(app: Ledger) -> None:
    rid = UUID(enroll(app).id)
    stored = app.log.select_stream(rid)[0].state
    assert b"Wang Fang" not in stored and ID_NUMBER.encode() not in stored
    assert app.retiree(rid).name == "Wang Fang"


def test_concurrent_writers_without_expected_version_all_land(app: Ledger) -> None:
    import threading

    rid = managed_retiree(app)
    errors: list[Exception] = []

    def certify(year: int) -> None:
        try:
            app.handle(c.CertifyEligibility(retiree_id=rid, year=year, method="in_person",
                                            certified_on=date(year, 3, 1)))
        except Exception as error:  # pragma: no cover - reported by the assertion
            errors.append(error)

    threads = [threading.Thread(target=certify, args=(year,)) for year in range(2010, 2018)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(app.retiree(rid).certified_years) == list(range(2010, 2018))


def test_every_write_checks_role_and_scope_and_records_the_principal(app: Ledger) -> None:
    from ledger.access import Principal, Role, Scope
    from ledger.errors import AccessDeniedError

    rid = managed_retiree(app)
    own = Principal("t1", Role.COMMUNITY, Scope.parse("community:CS-YL-001"))
    other = Principal("t2", Role.COMMUNITY, Scope.parse("community:CS-FR-002"))
    agency_elsewhere = Principal("t3", Role.AGENCY, Scope.parse("city:Zhuzhou"))
    certify = c.CertifyEligibility(retiree_id=rid, year=2021, method="in_person", certified_on=date(2021, 3, 1))
    head = app.head()
    for principal, command in ((other, certify), (agency_elsewhere, certify),
                               (agency_elsewhere, c.RecordDeath(retiree_id=rid, date_of_death=date(2022, 1, 1),
                                                                reported_by="family"))):
        with pytest.raises(AccessDeniedError):
            app.handle(command, c.Context(access=principal))
    assert app.head() == head
    app.handle(certify, c.Context(access=own))
    assert app.history(rid)[-1].recorded_by == own.name


def test_implausible_input_is_refused_before_anything_is_written(ledger: Ledger) -> None:
    with pytest.raises(InvalidInputError):
        ledger.handle(replace(ENROLL, monthly_pension=Decimal("99999999")))
    assert ledger.head() == 0


def test_an_idempotency_key_reused_with_another_body_is_refused_and_appends_nothing(app: Ledger) -> None:
    rid = managed_retiree(app)
    first = c.CertifyEligibility(retiree_id=rid, year=2021, method="in_person", certified_on=date(2021, 3, 1))
    context = c.Context(principal="community-1", idempotency_key="req-2")
    appended = app.handle(first, context)
    head = app.head()
    other = c.CertifyEligibility(retiree_id=rid, year=2022, method="in_person", certified_on=date(2022, 3, 1))
    with pytest.raises(IdempotencyKeyReusedError):
        app.handle(other, context)  # same kind, same stream, another body: the second request is not dropped
    assert app.head() == head
    assert app.handle(first, context) == c.Appended(appended.id, appended.version, appended.seq, replayed=True)
    assert app.handle(other, c.Context(principal="community-1", idempotency_key="req-3")).replayed is False
