"""Stored state is sealed to its place: moved or altered blobs never decide anything (both backends)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import date
from decimal import Decimal
from uuid import UUID

import pytest

from ledger import commands as c
from ledger.access import Principal, Role, Scope
from ledger.application import Ledger
from ledger.config import Settings
from ledger.errors import AccessDeniedError
from ledger.sealing import SealError
from tests.backends import backend_settings  # noqa: F401
from tests.conftest import TODAY
from tests.people import id_number

BORN = date(1950, 1, 1)


def enroll(app: Ledger, number: str, city: str, name: str) -> UUID:
    return UUID(app.handle(c.Enroll(
        name=name, id_number=number, sex="female", birth_date=BORN, danwei_code="D-1",
        danwei_name="Mill", retirement_date=date(2005, 1, 1), monthly_pension=Decimal("2000"), agency="SIA",
        city=city, district="D")).id)


def adjust(app: Ledger, rid: UUID, times: int) -> None:
    for n in range(times):
        amount = Decimal(2000 + n)
        app.handle(c.AdjustPension(retiree_id=rid, previous_amount=amount, new_amount=amount + 1,
                                   effective_month=f"{2006 + n}-01", reason="annual_adjustment"))


@pytest.fixture
def app(backend_settings: Settings) -> Iterator[Ledger]:  # noqa: F811
    # no aggregate cache: every load reads the stored snapshot and events, as after a restart
    settings = Settings(**{**backend_settings.__dict__, "snapshot_interval": 3, "aggregate_cache": 0})
    ledger = Ledger(settings, clock=lambda: TODAY)
    yield ledger
    ledger.close()


def snapshot_rows(app: Ledger) -> tuple[str, list[tuple[str, int, bytes]]]:
    assert app.snapshots is not None
    table = app.snapshots.recorder.events_table_name  # type: ignore[attr-defined]
    with closing(sqlite3.connect(app.settings.events_path)) as db:
        rows = db.execute(f"SELECT originator_id, originator_version, state FROM {table}").fetchall()
    return table, rows


def rewrite(app: Ledger, table: str, sql: str, *params: object) -> None:
    with closing(sqlite3.connect(app.settings.events_path)) as db:
        db.execute(f"UPDATE {table} SET {sql}", params)
        db.commit()


def stream_key(rows: list[tuple[str, int, bytes]], rid: UUID) -> list[tuple[str, int, bytes]]:
    return [row for row in rows if str(row[0]).replace("-", "") == rid.hex]


def test_a_snapshot_copied_onto_another_retiree_is_ignored_and_decides_nothing(app: Ledger) -> None:
    changsha = enroll(app, id_number(BORN), "Changsha", "Wang Fang")
    zhuzhou = enroll(app, id_number(BORN, region="430202"), "Zhuzhou", "Li Hua")
    adjust(app, changsha, 2)
    adjust(app, zhuzhou, 2)  # both at version 3: one snapshot each
    table, rows = snapshot_rows(app)
    (source,), (target,) = stream_key(rows, zhuzhou), stream_key(rows, changsha)
    rewrite(app, table, "state=? WHERE originator_id=? AND originator_version=?", source[2], target[0], target[1])
    retiree = app.retiree(changsha)
    assert (retiree.city, retiree.name, retiree.version) == ("Changsha", "Wang Fang", 3)
    zhuzhou_agency = Principal("z1", Role.AGENCY, Scope.parse("city:Zhuzhou"))
    with pytest.raises(AccessDeniedError):  # access follows the events, not the forged snapshot
        app.handle(c.AdjustPension(retiree_id=changsha, previous_amount=Decimal("2002"), new_amount=Decimal("2100"),
                                   effective_month="2010-01", reason="annual_adjustment"),
                   c.Context(access=zhuzhou_agency))
    assert app.snapshots.rejected >= 1  # type: ignore[union-attr]


def test_a_flipped_byte_in_a_snapshot_is_ignored_not_a_failure(app: Ledger) -> None:
    rid = enroll(app, id_number(BORN), "Changsha", "Wang Fang")
    adjust(app, rid, 3)
    table, rows = snapshot_rows(app)
    (row,) = stream_key(rows, rid)
    flipped = bytes(row[2][:-1]) + bytes([row[2][-1] ^ 1])
    rewrite(app, table, "state=? WHERE originator_id=? AND originator_version=?", flipped, row[0], row[1])
    retiree = app.retiree(rid)
    assert retiree.version == 4 and retiree.monthly_pension == Decimal("2003")
    assert app.snapshots.rejected >= 1  # type: ignore[union-attr]


def test_an_event_state_moved_to_another_row_does_not_open(app: Ledger) -> None:
    rid = enroll(app, id_number(BORN), "Changsha", "Wang Fang")
    adjust(app, rid, 1)
    first, second = app.log.select_stream(rid)[:2]
    moved = type(second)(**{**second.__dict__, "state": first.state})
    with pytest.raises(SealError):
        app.mapper.to_domain_event(moved)
    assert app.mapper.to_domain_event(second).originator_version == 2
