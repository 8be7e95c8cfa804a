"""``projections.verify``: views rebuilt into a scratch store up to their position and compared row by row;
rows edited in views.db are found (by key and field names), the result is kept with the view."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, date, datetime
from pathlib import Path

import orjson
import pytest

from ledger.application import Ledger
from ledger.config import Settings
from ledger.errors import InvalidInputError
from projections import registry
from projections.runner import ProjectionRunner
from projections.store.memory import InMemoryViewStore
from projections.store.sqlite import SQLiteViewStore
from projections.verify import Check, Difference, choose, last_checks, verify
from tests.integration.projections.support import Hunan

NOW = datetime(2026, 6, 30, 9, 30, tzinfo=UTC)
MONTH = ("month", "CS-YL-001|2023-02")  # a workload row: {"managed": 2, "transfers_in": 2, ...}


def write_facts(ledger: Ledger) -> None:
    h = Hunan(ledger)
    h.community("CS-YL-001")
    h.community("ZZ-TY-001")
    h.staff("CS-YL-001", "s1", date(2023, 1, 5), qualified=True)
    h.staff("ZZ-TY-001", "s2", date(2023, 1, 9), role="part_time")
    for n, code in enumerate(("CS-YL-001", "CS-YL-001", "ZZ-TY-001")):
        retiree = h.enroll(pension=str(2400 + 100 * n))
        h.transfer(retiree, code, date(2023, 2, 1 + n))
        staff = "s1" if code == "CS-YL-001" else "s2"
        h.service(retiree, code, f"SV{n}", "home_visit", date(2023, 3, 3 + n), staff, 30)
        h.rate(retiree, 3 + n % 3, date(2023, 3, 10), f"SV{n}")
        h.certify(retiree, date(2023, 4, 1))
        h.adjust(retiree, str(2400 + 100 * n), str(2500 + 100 * n), "2024-01")


@pytest.fixture
def views(ledger: Ledger, settings: Settings) -> Iterator[SQLiteViewStore]:
    write_facts(ledger)
    store = SQLiteViewStore(settings.views_path)
    ProjectionRunner(ledger, store).catch_up()
    yield store
    store.close()


def check(ledger: Ledger, store: SQLiteViewStore | InMemoryViewStore, *names: str) -> dict[str, Check]:
    chosen = choose(registry.ALL, list(names) or None)
    return {c.view: c for c in verify(ledger, store, chosen, clock=lambda: NOW)}


def edit(path: Path, sql: str, *params: object) -> None:
    """Changes views.db behind the store's back, as someone with the file would."""
    with closing(sqlite3.connect(path)) as db, db:
        assert db.execute(sql, params).rowcount == 1


def change_field(path: Path, view: str, kind: str, key: str, field: str, value: object) -> None:
    with closing(sqlite3.connect(path)) as db:
        data = orjson.loads(db.execute("SELECT data FROM view_rows WHERE view=? AND kind=? AND key=?",
                                       (view, kind, key)).fetchone()[0])
    data[field] = value
    edit(path, "UPDATE view_rows SET data=? WHERE view=? AND kind=? AND key=?", orjson.dumps(data), view, kind, key)


def test_views_caught_up_from_the_log_verify_ok_and_the_result_is_kept(ledger: Ledger, views: SQLiteViewStore) -> None:
    assert last_checks(views) == {}
    ticks: list[tuple[int, int]] = []

    checks = {c.view: c for c in verify(ledger, views, registry.ALL, progress=lambda *t: ticks.append(t),
                                        clock=lambda: NOW)}

    assert list(checks) == [p.name for p in registry.ALL]
    assert all(c.ok and c.differing == 0 and c.summary() == "OK" for c in checks.values())
    assert {c.position for c in checks.values()} == {ledger.head()}
    assert all(c.rows == len(views.rows(c.view)) > 0 for c in checks.values())
    assert ticks[-1] == (ledger.head(), ledger.head())  # one pass: every view stood at the head
    assert last_checks(views) == checks


def test_an_edited_number_is_named_by_key_and_field_and_only_that_view_differs(
    ledger: Ledger, settings: Settings, views: SQLiteViewStore
) -> None:
    assert views.get("workload", *MONTH) is not None
    change_field(settings.views_path, "workload", *MONTH, "managed", 7)

    checks = check(ledger, views)

    assert [name for name, c in checks.items() if not c.ok] == ["workload"]
    workload = checks["workload"]
    assert workload.difference == Difference("different", *MONTH, ("managed",))
    assert workload.differing == 1 and workload.summary() == "different month/CS-YL-001|2023-02 (managed)"
    assert "7" not in workload.summary()  # field names, never values
    assert last_checks(views)["workload"] == workload
    assert last_checks(views)["pensions"].ok


def test_a_deleted_row_is_missing_and_a_bogus_row_is_extra(
    ledger: Ledger, settings: Settings, views: SQLiteViewStore
) -> None:
    edit(settings.views_path, "DELETE FROM view_rows WHERE view='workload' AND kind=? AND key=?", *MONTH)
    edit(settings.views_path, "INSERT INTO view_rows (view, kind, key, data) VALUES ('satisfaction', 'cell', ?, ?)",
         "ZZ-TY-001|2031-01|home_visit", orjson.dumps({"count": 1, "sum": 5}))

    checks = check(ledger, views)

    assert checks["workload"].difference == Difference("missing", *MONTH)
    assert checks["satisfaction"].difference == Difference("extra", "cell", "ZZ-TY-001|2031-01|home_visit")
    assert {name for name, c in checks.items() if not c.ok} == {"workload", "satisfaction"}


def test_the_first_difference_in_kind_and_key_order_is_named_and_the_others_counted(
    ledger: Ledger, settings: Settings, views: SQLiteViewStore
) -> None:
    change_field(settings.views_path, "workload", "month", "ZZ-TY-001|2023-03", "service_minutes", 1)
    change_field(settings.views_path, "workload", *MONTH, "transfers_in", 0)

    workload = check(ledger, views, "workload")["workload"]

    assert workload.difference == Difference("different", *MONTH, ("transfers_in",))
    assert workload.differing == 2 and workload.summary().endswith("(+1 more)")


def test_a_view_behind_the_log_is_replayed_only_up_to_its_position(ledger: Ledger, views: SQLiteViewStore) -> None:
    at = ledger.head()
    Hunan(ledger).staff("ZZ-TY-001", "s3", date(2023, 5, 1))  # not caught up: the views stay at ``at``

    checks = check(ledger, views)

    assert all(c.ok and c.position == at < ledger.head() for c in checks.values())


def test_a_worker_moving_the_views_meanwhile_changes_nothing(
    ledger: Ledger, settings: Settings, views: SQLiteViewStore
) -> None:
    worker = SQLiteViewStore(settings.views_path)  # another connection, as a `projections run` process has
    runner = ProjectionRunner(ledger, worker)
    hunan, done = Hunan(ledger), threading.Event()

    def work() -> None:
        for n in range(40):
            hunan.staff("ZZ-TY-001", f"w{n}", date(2023, 5, 1 + n % 28))
            runner.catch_up()
        done.set()

    thread = threading.Thread(target=work)
    thread.start()
    try:
        rounds = [check(ledger, views, "workload", "standards") for _ in range(3)]
        while not done.is_set():
            rounds.append(check(ledger, views, "workload", "standards"))
    finally:
        thread.join()
        worker.close()
    assert all(c.ok for checks in rounds for c in checks.values())
    assert len({checks["workload"].position for checks in rounds}) > 1  # the views did move meanwhile


def test_a_view_whose_position_is_past_the_end_of_the_log_differs(ledger: Ledger, views: SQLiteViewStore) -> None:
    workload = registry.by_name("workload")
    views.apply("workload", workload.version, {}, ledger.head() + 5)

    result = check(ledger, views, "workload")["workload"]

    assert result.position == ledger.head() + 5 and result.difference == Difference("position")


def test_a_rebuild_clears_the_last_result_and_fixes_the_view(
    ledger: Ledger, settings: Settings, views: SQLiteViewStore
) -> None:
    change_field(settings.views_path, "workload", *MONTH, "managed", 7)
    assert not check(ledger, views)["workload"].ok

    ProjectionRunner(ledger, views).rebuild(["workload"])

    assert "workload" not in last_checks(views) and "audit" in last_checks(views)
    assert check(ledger, views, "workload")["workload"].ok


def test_a_view_in_memory_is_verified_too(ledger: Ledger) -> None:
    write_facts(ledger)
    store = InMemoryViewStore()
    ProjectionRunner(ledger, store).catch_up()
    store.apply("standards", registry.by_name("standards").version, {("year", "CS-YL-001|2023"): None}, {})

    checks = check(ledger, store)

    assert checks["standards"].difference == Difference("missing", "year", "CS-YL-001|2023")
    assert [name for name, c in checks.items() if not c.ok] == ["standards"]
    assert last_checks(store) == checks


def test_an_empty_ledger_verifies_ok_with_nothing_to_compare(ledger: Ledger) -> None:
    checks = check(ledger, InMemoryViewStore())
    assert all(c.ok and (c.position, c.rows) == (0, 0) for c in checks.values())


def test_an_unknown_view_name_is_refused(ledger: Ledger) -> None:
    with pytest.raises(InvalidInputError, match="unknown projection"):
        choose(registry.ALL, ["nope"])
