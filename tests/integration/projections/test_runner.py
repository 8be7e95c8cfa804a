"""The runner: exactly-once positions, stopping on a failing event, rebuilds, versions, status."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import ClassVar

import pytest

from ledger.application import Ledger
from ledger.errors import InvalidInputError
from projections import registry
from projections.base import Handler, ProjectionError, Rows, bump, dispatch
from projections.runner import ProjectionRunner
from projections.store import Write
from projections.store.memory import InMemoryViewStore
from projections.store.sqlite import SQLiteViewStore
from tests.integration.projections.support import Hunan

CS = "CS-YL-001"


class Counter:
    """Counts events by type; ``step`` lets a new version count differently."""

    name = "counter"

    def __init__(self, version: int = 1, step: int = 1, fail_on: str | None = None) -> None:
        self.version, self.step, self.fail_on = version, step, fail_on

    def evolve(self, rows: Rows, event: object) -> None:
        kind = type(event).__name__
        if kind == self.fail_on:
            raise ValueError("cannot apply this one")
        bump(rows, "count", kind, {"n": self.step})
        bump(rows, "count", "all", {"n": self.step})


class Partial:
    """Knows only Registered and Enrolled."""

    name, version = "partial", 1
    handlers: ClassVar[Mapping[str, Handler]] = {
        "Registered": lambda rows, e: rows.put("seen", "registered", {"seq": rows.seq}),
        "Enrolled": lambda rows, e: rows.put("seen", "enrolled", {"seq": rows.seq}),
    }

    def evolve(self, rows: Rows, event: object) -> None:
        dispatch(self.handlers, rows, event)


@pytest.fixture
def store() -> InMemoryViewStore:
    return InMemoryViewStore()


def seed(ledger: Ledger) -> None:
    h = Hunan(ledger)
    h.community(CS)
    h.staff(CS, "s1", date(2020, 1, 1))
    a = h.enroll()  # Enrolled + the identity claim
    h.transfer(a, CS, date(2023, 1, 1))
    h.service(a, CS, "v1", "home_visit", date(2024, 1, 15), "s1", 30)
    h.certify(a, date(2024, 2, 1))


def count(store: InMemoryViewStore, kind: str = "all", view: str = "counter") -> int:
    row = store.get(view, "count", kind)
    return 0 if row is None else int(row["n"])


def test_catch_up_applies_each_event_once(ledger: Ledger, store: InMemoryViewStore) -> None:
    seed(ledger)
    runner = ProjectionRunner(ledger, store, [Counter()], batch_size=2)
    seen: list[tuple[int, int]] = []
    assert runner.catch_up(progress=lambda done, total: seen.append((done, total))) == 7
    assert seen[-1] == (7, 7) and len(seen) == 4
    assert runner.catch_up() == 0
    assert (count(store), count(store, "Claimed"), store.position("counter")) == (7, 1, 7)
    Hunan(ledger).staff(CS, "s2", date(2024, 1, 1))
    assert runner.catch_up() == 1 and count(store) == 8 and count(store, "StaffJoined") == 2


def test_a_failing_event_stops_the_runner_before_it(ledger: Ledger, store: InMemoryViewStore) -> None:
    seed(ledger)
    failing_seq = next(r.id for r in ledger.iter_log() if type(ledger.mapper.to_domain_event(r)).__name__
                       == "ServiceDelivered")
    runner = ProjectionRunner(ledger, store, [Counter(fail_on="ServiceDelivered")], batch_size=100)
    with pytest.raises(ProjectionError) as caught:
        runner.catch_up()
    assert caught.value.view == "counter" and caught.value.seq == failing_seq
    assert "ServiceDelivered" in caught.value.detail and "ValueError: cannot apply this one" in caught.value.detail
    assert store.position("counter") == failing_seq - 1 and count(store) == failing_seq - 1
    with pytest.raises(ProjectionError):
        runner.catch_up()
    assert store.position("counter") == failing_seq - 1 and count(store) == failing_seq - 1
    assert runner.status()[0].lag == ledger.head() - failing_seq + 1


def test_a_view_reads_only_the_event_types_it_has_handlers_for(ledger: Ledger, store: InMemoryViewStore) -> None:
    """A view subscribes to what it reads: other types pass by, and its position still covers them."""
    seed(ledger)
    runner = ProjectionRunner(ledger, store, [Partial()])
    assert runner.catch_up() == ledger.head()
    assert store.position("partial") == ledger.head()
    assert [row.key for row in store.rows("partial")] == ["enrolled", "registered"]
    assert store.get("partial", "seen", "registered") == {"seq": 1}


def test_rebuild_replays_from_the_start_into_a_fresh_view(ledger: Ledger, store: InMemoryViewStore) -> None:
    seed(ledger)
    runner = ProjectionRunner(ledger, store, [Counter()])
    runner.catch_up()
    store.apply("counter", 1, {("count", "all"): {"n": 999}}, store.position("counter"))  # damage the view
    assert runner.rebuild() == 7
    assert count(store) == 7 and store.position("counter") == 7
    assert store.rows("counter~rebuild") == []


def test_a_new_projection_version_rebuilds_the_view_on_catch_up(ledger: Ledger, store: InMemoryViewStore) -> None:
    seed(ledger)
    ProjectionRunner(ledger, store, [Counter(version=1)]).catch_up()
    assert count(store) == 7
    runner = ProjectionRunner(ledger, store, [Counter(version=2, step=10)])
    assert runner.status()[0].stored_version == 1
    assert runner.catch_up() == 7
    assert count(store) == 70 and store.version("counter") == 2


def test_status_reports_position_head_and_lag(ledger: Ledger, store: InMemoryViewStore) -> None:
    seed(ledger)
    runner = ProjectionRunner(ledger, store)
    first_two = [(s.name, s.position, s.head, s.lag) for s in runner.status()][:2]
    assert first_two == [("audit", 0, 7, 7), ("workload", 0, 7, 7)]
    runner.catch_up(["workload"])
    status = {s.name: s for s in runner.status()}
    assert (status["workload"].position, status["workload"].lag, status["audit"].lag) == (7, 0, 7)
    assert status["workload"].version == status["workload"].stored_version == 1


def test_unknown_projection_names_are_invalid_input(ledger: Ledger, store: InMemoryViewStore) -> None:
    with pytest.raises(InvalidInputError):
        registry.by_name("nonsense")
    assert registry.by_name("pensions").name == "pensions"
    with pytest.raises(InvalidInputError):
        ProjectionRunner(ledger, store).catch_up(["nonsense"])



class CountingStore(SQLiteViewStore):
    """Records which views each ``apply_many`` (one transaction) stored."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.batches: list[list[str]] = []

    def apply_many(self, writes: Sequence[Write]) -> dict[str, str]:
        self.batches.append(sorted(write.name for write in writes))
        return super().apply_many(writes)


def test_a_catch_up_stores_every_views_batch_in_one_transaction(ledger: Ledger, tmp_path: Path) -> None:
    seed(ledger)
    store = CountingStore(tmp_path / "views.db")
    ProjectionRunner(ledger, store, [Counter(), Partial()]).catch_up()  # empty views: filled in memory
    h = Hunan(ledger)
    h.staff(CS, "s2", date(2024, 1, 1))
    retiree = h.enroll(born=date(1951, 4, 2))
    h.transfer(retiree, CS, date(2023, 1, 1))
    h.service(retiree, CS, "v9", "home_visit", date(2024, 3, 1), "s1", 30)
    failing_seq = ledger.head()
    h.staff(CS, "s3", date(2024, 1, 1))
    store.batches.clear()
    assert ProjectionRunner(ledger, store, [Counter(), Partial()], batch_size=3).catch_up(["partial"]) == 6
    assert store.batches == [["partial"], ["partial"]]  # one view, two batches of 3
    with pytest.raises(ProjectionError):  # the counter fails at the service: partial keeps what it applied
        ProjectionRunner(ledger, store, [Partial(), Counter(fail_on="ServiceDelivered")], batch_size=3).catch_up()
    assert store.position("counter") == failing_seq - 1 and count(store) == failing_seq - 1  # type: ignore[arg-type]
    assert store.position("partial") == ledger.head()
    assert store.get("partial", "seen", "enrolled") == {"seq": failing_seq - 3}
    Hunan(ledger).staff(CS, "s4", date(2024, 1, 1))
    Hunan(ledger).staff(CS, "s5", date(2024, 1, 1))
    store.batches.clear()
    ProjectionRunner(ledger, store, [Partial(), Counter(fail_on="Enrolled")], batch_size=100).catch_up()
    assert store.batches == [["counter", "partial"]]  # both views' rows and positions: one commit
    assert store.position("counter") == store.position("partial") == ledger.head()
    assert count(store, "StaffJoined") == 5  # type: ignore[arg-type]


def test_two_runners_on_one_store_apply_every_event_once(ledger: Ledger, tmp_path: Path) -> None:
    """Two runners (two workers, two processes) on one store: the positions are a compare-and-set, so
    whichever stores a batch first wins and the other starts again from the stored positions."""
    seed(ledger)
    stores = [SQLiteViewStore(tmp_path / "views.db") for _ in range(2)]
    runners = [ProjectionRunner(ledger, s, [Counter()], batch_size=1) for s in stores]
    h = Hunan(ledger)

    appending = threading.Event()
    appending.set()

    def follow(runner: ProjectionRunner) -> None:
        while appending.is_set():
            runner.catch_up()

    threads = [threading.Thread(target=follow, args=(runner,)) for runner in runners]
    for thread in threads:
        thread.start()
    for n in range(60):
        h.staff(CS, f"extra-{n}", date(2024, 1, 1))
    appending.clear()
    for thread in threads:
        thread.join()
    for runner in runners:
        runner.catch_up()
    head = ledger.head()
    assert count(stores[0]) == head == stores[1].position("counter")  # type: ignore[arg-type]
    assert count(stores[0], "StaffJoined") == 61  # type: ignore[arg-type]
    for store in stores:
        store.close()
