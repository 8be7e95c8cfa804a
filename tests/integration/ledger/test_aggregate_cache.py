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
