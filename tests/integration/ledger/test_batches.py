"""``Ledger.handle_many``: each command decided as ``handle`` would, saved in few transactions (both backends)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from ledger import commands as c
from ledger.access import Principal, Role, Scope
from ledger.application import Ledger
from ledger.config import Settings
from ledger.errors import AccessDeniedError, InvalidInputError, LedgerError, RuleViolationError
from tests.backends import backend_settings  # noqa: F401
from tests.conftest import TODAY
from tests.people import id_number

BORN = date(1950, 1, 1)
SYSTEM = c.Context()


@pytest.fixture
def app(backend_settings: Settings) -> Iterator[Ledger]:  # noqa: F811
    ledger = Ledger(Settings(**{**backend_settings.__dict__, "snapshot_interval": 3}), clock=lambda: TODAY)
    yield ledger
    ledger.close()


def enrollment(sequence: int, city: str = "Changsha") -> c.Enroll:
    return c.Enroll(name=f"Retiree {sequence}", id_number=id_number(BORN, sequence), sex="female", birth_date=BORN,
                    danwei_code="D-1", danwei_name="Mill", retirement_date=date(2005, 1, 1),
                    monthly_pension=Decimal("2000"), agency="SIA", city=city, district="D")


def adjustment(retiree: UUID | c.Ref, previous: str, new: str, month: str = "2024-01") -> c.AdjustPension:
    return c.AdjustPension(retiree_id=retiree, previous_amount=Decimal(previous),  # type: ignore[arg-type]
                           new_amount=Decimal(new), effective_month=month, reason="annual_adjustment")


def appended(results: list[c.Appended | LedgerError]) -> list[c.Appended]:
    assert all(isinstance(result, c.Appended) for result in results), results
    return results  # type: ignore[return-value]


def test_each_command_is_decided_on_the_state_the_earlier_ones_left(app: Ledger) -> None:
    items = [(enrollment(1), SYSTEM), (adjustment(c.Ref(0), "2000", "2100"), SYSTEM),
             (adjustment(c.Ref(0), "2100", "2200", "2025-01"), SYSTEM), (adjustment(c.Ref(0), "2200", "2300",
                                                                                      "2026-01"), SYSTEM)]
    results = appended(app.handle_many(items))
    retiree = UUID(results[0].id)
    assert [(r.id, r.version) for r in results] == [(str(retiree), v) for v in (1, 2, 3, 4)]
    assert [r.seq for r in results] == sorted({r.seq for r in results}) and results[0].seq > 0
    assert app.retiree(retiree).monthly_pension == Decimal("2300")
    history = app.history(retiree)
    assert [(e.seq, e.version) for e in history] == [(r.seq, r.version) for r in results]
    assert app.snapshots is not None and app.snapshots.get(retiree)  # snapshots are taken as by handle


def test_a_failing_command_saves_nothing_and_the_others_go_on(app: Ledger) -> None:
    retiree = UUID(app.handle(enrollment(1)).id)
    head = app.head()
    results = app.handle_many([(adjustment(retiree, "2000", "2100"), SYSTEM),
                               (adjustment(retiree, "9999", "2200", "2025-01"), SYSTEM),  # wrong previous amount
                               (adjustment(retiree, "2100", "2200", "2025-01"), SYSTEM)])
    assert isinstance(results[1], RuleViolationError)
    assert [type(r) for r in results] == [c.Appended, RuleViolationError, c.Appended]
    assert app.head() == head + 2
    assert app.retiree(retiree).monthly_pension == Decimal("2200")


def test_stop_at_error_saves_what_came_before_and_nothing_after(app: Ledger) -> None:
    retiree = UUID(app.handle(enrollment(1)).id)
    results = app.handle_many([(adjustment(retiree, "2000", "2100"), SYSTEM),
                               (adjustment(retiree, "9999", "2200", "2025-01"), SYSTEM),
                               (adjustment(retiree, "2100", "2200", "2025-01"), SYSTEM)], stop_at_error=True)
    assert [type(r) for r in results] == [c.Appended, RuleViolationError]
    assert app.retiree(retiree).monthly_pension == Decimal("2100")


def test_access_is_checked_per_command(app: Ledger) -> None:
    changsha, zhuzhou = (UUID(app.handle(enrollment(n, city)).id) for n, city in ((1, "Changsha"), (2, "Zhuzhou")))
    agency = c.Context(access=Principal("z1", Role.AGENCY, Scope.parse("city:Zhuzhou")))
    results = app.handle_many([(adjustment(changsha, "2000", "2100"), agency),
                               (adjustment(zhuzhou, "2000", "2100"), agency)])
    assert [type(r) for r in results] == [AccessDeniedError, c.Appended]
    assert (app.retiree(changsha).monthly_pension, app.retiree(zhuzhou).monthly_pension) == (2000, 2100)
    assert app.history(zhuzhou)[-1].recorded_by == agency.recorded_by


def test_two_enrollments_of_one_person_in_a_batch_keep_the_first(app: Ledger) -> None:
    results = app.handle_many([(enrollment(1), SYSTEM), (enrollment(2), SYSTEM), (enrollment(1), SYSTEM)])
    assert [type(r) for r in results] == [c.Appended, c.Appended, RuleViolationError]
    assert isinstance(results[2], RuleViolationError) and results[2].rule == "one_enrollment_per_id_number"
    assert app.find_retiree(id_number(BORN, 1)) == UUID(results[0].id)  # type: ignore[union-attr]


def test_a_batch_repeated_with_its_event_ids_appends_nothing(app: Ledger) -> None:
    ids = [uuid4() for _ in range(3)]
    items = [(enrollment(1), c.Context(event_id=ids[0])), (adjustment(c.Ref(0), "2000", "2100"),
                                                          c.Context(event_id=ids[1])),
             (enrollment(2), c.Context(event_id=ids[2]))]
    first = appended(app.handle_many(items))
    head = app.head()
    again = appended(app.handle_many(items))
    assert app.head() == head
    assert [(r.id, r.version, r.seq, r.replayed) for r in again] == [(r.id, r.version, r.seq, True) for r in first]


def test_commands_span_several_transactions_and_refs_cross_them(app: Ledger) -> None:
    items = [(enrollment(n), SYSTEM) for n in range(5)] + [(adjustment(c.Ref(n), "2000", "2100"), SYSTEM)
                                                            for n in range(5)]
    results = appended(app.handle_many(items, chunk=3))
    assert [r.version for r in results] == [1] * 5 + [2] * 5
    assert [r.id for r in results[5:]] == [r.id for r in results[:5]]
    assert app.head() == 15  # 5 x (enrolled + identity claim) + 5 adjustments


def test_a_ref_to_a_failed_or_later_command_is_refused(app: Ledger) -> None:
    results = app.handle_many([(adjustment(c.Ref(1), "2000", "2100"), SYSTEM),
                               (c.Enroll(**{**vars(enrollment(1)), "birth_date": date(1951, 1, 1)}), SYSTEM),
                               (adjustment(c.Ref(1), "2000", "2100"), SYSTEM)])
    assert [type(r) for r in results] == [InvalidInputError, InvalidInputError, InvalidInputError]
    assert "does not come before" in str(results[0]) and "which failed" in str(results[2])
    assert app.head() == 0


def test_a_keyed_retry_whose_first_save_reached_the_index_only_after_its_first_look_is_a_replay(
        app: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    """A save whose acknowledgement was lost (a broker killed) is retried with its key; the retry's
    first look finds nothing (the writer's index not yet caught up), then its own ID claims refuse the
    enrollments: each must still answer the first result, not ``one_enrollment_per_id_number``."""
    keyed = [(enrollment(n), c.Context(idempotency_key=f"batch-7#{n}")) for n in range(3)]
    first = appended(app.handle_many(keyed))
    head = app.head()
    looked: set[str] = set()
    find_event = app.log.find_event

    def index_behind_at_first_look(event_id: str) -> object:
        if event_id not in looked:
            looked.add(event_id)
            return None
        return find_event(event_id)

    monkeypatch.setattr(app.log, "find_event", index_behind_at_first_look)
    again = appended(app.handle_many(keyed))
    assert [(r.id, r.seq, r.replayed) for r in again] == [(r.id, r.seq, True) for r in first]
    looked.clear()
    alone = app.handle(*keyed[1])
    assert (alone.id, alone.seq, alone.replayed) == (first[1].id, first[1].seq, True)
    assert app.head() == head
