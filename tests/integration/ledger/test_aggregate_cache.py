"""The aggregate cache (``LEDGER_AGGREGATE_CACHE``): a hit still sees what another writer appended,
and a refused or failed command leaves the cached state as it was."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from uuid import UUID

import pytest

from ledger import commands as c
from ledger.application import Ledger
from ledger.config import Settings
from ledger.errors import RuleViolationError
from tests.integration.ledger.test_application import TODAY, managed_retiree


@pytest.fixture
def two_writers(tmp_path: Path) -> Iterator[tuple[Ledger, Ledger]]:
    """Two ledgers (as two processes would) on one SQLite file, each with its own cache."""
    settings = Settings(home=tmp_path / "home", keys_dir=tmp_path / "keys")
    first, second = Ledger(settings, clock=lambda: TODAY), Ledger(settings, clock=lambda: TODAY)
    yield first, second
    first.close()
    second.close()


def visit(rid: UUID, service_id: str, day: int = 2) -> c.DeliverService:
    return c.DeliverService(retiree_id=rid, service_id=service_id, community="CS-YL-001", service_type="home_visit",
                            delivered_on=date(2020, 3, day), staff_id="s-1", duration_minutes=40)


def test_a_cached_retiree_sees_what_another_writer_appended(two_writers: tuple[Ledger, Ledger]) -> None:
    first, second = two_writers
    rid = managed_retiree(first)
    first.handle(visit(rid, "sv-1"))
    assert set(first.retiree(rid).services) == {"sv-1"}  # cached now
    second.handle(visit(rid, "sv-2", 3))
    assert set(first.retiree(rid).services) == {"sv-1", "sv-2"}
    with pytest.raises(RuleViolationError):  # decided on the fast-forwarded state, not the stale cache
        first.handle(visit(rid, "sv-2", 4))
    assert first.retiree(rid).version == second.retiree(rid).version == 4


def test_a_refused_command_leaves_the_cached_state_unchanged(two_writers: tuple[Ledger, Ledger]) -> None:
    first, _ = two_writers
    rid = managed_retiree(first)
    first.handle(visit(rid, "sv-1"))
    before = first.retiree(rid)
    with pytest.raises(RuleViolationError):
        first.handle(c.AdjustPension(retiree_id=rid, previous_amount=before.monthly_pension + 1,
                                     new_amount=before.monthly_pension + 2, effective_month="2021-01",
                                     reason="annual_adjustment"))
    after = first.retiree(rid)
    assert (after.version, after.monthly_pension, after.services) == (before.version, before.monthly_pension,
                                                                      before.services)
    before.services["forged"] = {}  # a caller changing its copy changes nothing cached
    assert "forged" not in first.retiree(rid).services


def test_a_service_is_refused_once_another_writer_recorded_the_staff_member_leaving(
    two_writers: tuple[Ledger, Ledger],
) -> None:
    first, second = two_writers
    rid = managed_retiree(first)
    first.handle(visit(rid, "sv-1"))  # the first process holds the community (s-1 active) from here on
    second.handle(c.RecordStaffLeft(community="CS-YL-001", staff_id="s-1", left_on=date(2020, 3, 10),
                                    reason="resigned"))
    with pytest.raises(RuleViolationError) as refused:
        first.handle(visit(rid, "sv-2", 20))
    assert refused.value.rule == "staff_active_in_community"
    assert first.handle(visit(rid, "sv-3", 9)).version == 4  # before leaving: still active
    assert set(first.retiree(rid).services) == {"sv-1", "sv-3"}


def test_a_service_by_staff_who_joined_through_another_writer_is_accepted(
    two_writers: tuple[Ledger, Ledger],
) -> None:
    first, second = two_writers
    rid = managed_retiree(first)
    first.handle(visit(rid, "sv-1"))
    second.handle(c.JoinStaff(community="CS-YL-001", staff_id="s-2", name="Li Na", role="part_time",
                              qualified_social_worker=False, joined_on=date(2019, 1, 1)))
    by_newcomer = c.DeliverService(retiree_id=rid, service_id="sv-2", community="CS-YL-001",
                                   service_type="home_visit", delivered_on=date(2020, 3, 4), staff_id="s-2",
                                   duration_minutes=40)
    assert first.handle(by_newcomer).version == 4  # not refused on the community as this process held it
    batch = first.handle_many([(c.DeliverService(retiree_id=rid, service_id="sv-3", community="CS-YL-001",
                                                 service_type="home_visit", delivered_on=date(2020, 3, 5),
                                                 staff_id="s-2", duration_minutes=40), c.Context())])
    assert [r.version for r in batch if isinstance(r, c.Appended)] == [5]


def test_a_batch_read_of_a_community_another_writer_changed_is_decided_again(
    two_writers: tuple[Ledger, Ledger],
) -> None:
    first, second = two_writers
    rid = managed_retiree(first)
    first.handle(visit(rid, "sv-1"))
    second.handle(c.RecordStaffLeft(community="CS-YL-001", staff_id="s-1", left_on=date(2020, 3, 10),
                                    reason="resigned"))
    results = first.handle_many([(visit(rid, "sv-2", 9), c.Context()), (visit(rid, "sv-3", 20), c.Context())])
    assert isinstance(results[0], c.Appended)
    assert isinstance(results[1], RuleViolationError) and results[1].rule == "staff_active_in_community"
    assert set(first.retiree(rid).services) == {"sv-1", "sv-2"}
