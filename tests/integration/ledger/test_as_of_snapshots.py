"""``Ledger.retiree(as_of=)`` starts from the latest snapshot whose events all took effect by that day,
and answers exactly what folding the whole stream answers (also for events recorded late, back-dated)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from unittest import mock
from uuid import UUID

import pytest

from api.presenters import _public_state
from bench.workload import START, populate, service
from ledger.application import Ledger
from ledger.config import Settings
from ledger.domain.retiree import Retiree
from tests.conftest import TODAY


def state(retiree: Retiree) -> dict[str, Any]:
    return {"version": retiree.version, **_public_state(retiree)}


def folded(ledger: Ledger, rid: UUID, day: date) -> dict[str, Any]:
    """The answer without any snapshot: the whole stream folded."""
    with mock.patch.object(ledger, "_snapshot_covering", return_value=None):
        return state(ledger.retiree(rid, as_of=day))


@pytest.fixture
def ledger(tmp_path: Path, settings: Settings) -> Any:
    app = Ledger(replace(settings, home=tmp_path / "home", snapshot_interval=10), clock=lambda: TODAY)
    yield app
    app.close()


def test_as_of_uses_a_covering_snapshot_and_agrees_with_the_full_fold(ledger: Ledger) -> None:
    (rid,) = populate(ledger, 1)
    for n in range(45):  # services on consecutive days: snapshots at versions 10, 20, 30, 40
        ledger.handle(service(rid, n))
    late = service(rid, 1000)  # recorded last, took effect on day 3: folded into every later answer
    ledger.handle(replace(late, delivered_on=START + timedelta(days=3)))
    for offset in (-1, 0, 3, 7, 17, 25, 38, 44, 60):
        day = START + timedelta(days=offset)
        covering = ledger._snapshot_covering(rid, day)
        if offset >= 17:  # version 20 holds the enrolment, the transfer and services of days 0..17
            assert covering is not None and covering.originator_version >= 20
        assert state(ledger.retiree(rid, as_of=day)) == folded(ledger, rid, day)
    assert ledger._snapshot_covering(rid, START - timedelta(days=1)) is None


def test_a_day_before_the_last_snapshots_dates_uses_an_earlier_one(ledger: Ledger) -> None:
    (rid,) = populate(ledger, 1)
    for n in range(30):
        ledger.handle(service(rid, n))
    versions = [ledger._snapshot_covering(rid, START + timedelta(days=d)).originator_version for d in (9, 19, 29)]
    assert versions == [10, 20, 30]


def test_snapshots_written_before_the_date_was_kept_are_not_used(ledger: Ledger) -> None:
    (rid,) = populate(ledger, 1)
    for n in range(25):
        ledger.handle(service(rid, n))
    original = Retiree.Event.mutate

    def without_the_date(self: Retiree.Event, aggregate: Any) -> Any:  # a snapshot of the old shape
        result = original(self, aggregate)
        vars(result).pop("_latest_business_date", None)
        return result

    with mock.patch.object(Retiree.Event, "mutate", without_the_date):
        for n in range(25, 40):
            ledger.handle(service(rid, n))
    ledger.handle(service(rid, 40))
    for d in (5, 30, 45):
        day = START + timedelta(days=d)
        assert state(ledger.retiree(rid, as_of=day)) == folded(ledger, rid, day)
    snapshot = ledger._snapshot_covering(rid, START + timedelta(days=45))
    assert snapshot is not None and snapshot.originator_version == 20  # 30, 40 have no date; 50 not reached
