"""The read side off the write path: appends never wait for the views; reads wait for them (bounded)."""

from __future__ import annotations

import threading
import time
from datetime import date
from typing import Any

from fastapi.testclient import TestClient

from api.main import create_app
from ledger import commands as c
from ledger.config import Settings
from projections.base import Rows
from runtime.bootstrap import bootstrap

COMMUNITY = c.RegisterCommunity(code="ZZ-HT-001", name="Hetang Community", city="Zhuzhou", district="Hetang",
                                street="Jianshe Rd", kind="urban_community")
COMMUNITY_DAY = date(2019, 9, 1)


class Blocking:
    """A view whose evolve waits until released (a slow or stuck projection)."""

    name = "blocking"
    version = 1

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def evolve(self, rows: Rows, event: object) -> None:
        self.entered.set()
        assert self.release.wait(30), "never released"
        rows.put("seen", str(rows.seq), {"type": type(event).__name__})


def test_an_append_returns_while_a_projection_is_blocked(settings: Settings) -> None:
    view = Blocking()
    services = bootstrap(settings, follow=True, projections=[view], poll_s=0.05)
    try:
        services.ledger.handle(COMMUNITY)
        assert view.entered.wait(10)  # the follower is now stuck inside evolve
        started = time.monotonic()
        appended = services.ledger.handle(c.JoinStaff(community="ZZ-HT-001", staff_id="s1", name="Chen Jing",
                                                      role="full_time", qualified_social_worker=False,
                                                      joined_on=COMMUNITY_DAY))
        assert time.monotonic() - started < 5 and appended.seq == 2
        services.read_wait_s = 0.2
        assert services.view_position("blocking", 2) == 0  # bounded wait, then the lag is known
        view.release.set()
        services.read_wait_s = 10
        assert services.view_position("blocking", 2) == 2
        assert [row.data["type"] for row in services.store.rows("blocking")] == ["Registered", "StaffJoined"]
    finally:
        view.release.set()
        services.close()


def test_a_get_after_a_post_sees_the_write(settings: Settings) -> None:
    with TestClient(create_app(settings, dev_mode=True), base_url="http://127.0.0.1") as client:
        body: dict[str, Any] = {"code": "ZZ-HT-001", "name": "Hetang Community", "city": "Zhuzhou",
                                "district": "Hetang", "street": "Jianshe Rd", "kind": "urban_community"}
        assert client.post("/v1/communities", json=body).status_code == 201
        for n in range(5):
            staff = {"type": "staff_joined", "staff_id": f"s{n}", "name": "Chen Jing", "role": "full_time",
                     "qualified_social_worker": False, "joined_on": "2019-09-01"}
            seq = client.post("/v1/communities/ZZ-HT-001/events", json=staff).json()["seq"]
            answer = client.get("/v1/projections/workload", params={"community": "ZZ-HT-001"},
                                headers={"Ledger-Min-Seq": str(seq)})
            assert answer.json()["lag"] == 0 and answer.headers["Ledger-Position"] == str(seq)
            assert answer.json()["rows"][0]["staff_joined"] == n + 1


def test_a_failing_view_is_reported_and_the_others_go_on(settings: Settings) -> None:
    class Failing:
        name, version = "failing", 1

        def evolve(self, rows: Rows, event: object) -> None:
            raise ValueError("cannot apply")

    from projections.audit import AuditView

    services = bootstrap(settings, follow=True, projections=[Failing(), AuditView()], poll_s=0.05)
    try:
        services.ledger.handle(COMMUNITY)
        assert services.view_position("audit", 1) == 1
        deadline = time.monotonic() + 10
        while "failing" not in services.read_side().errors and time.monotonic() < deadline:
            time.sleep(0.02)
        side = services.read_side()
        assert "cannot apply" in side.errors["failing"] and side.positions["failing"] == 0
        assert side.running
    finally:
        services.close()



def test_without_a_running_follower_the_status_still_names_a_failing_view(settings: Settings) -> None:
    """One-shot commands (``ledger projections status``) run one catch-up cycle and keep its failures."""

    class Failing:
        name, version = "failing", 1

        def evolve(self, rows: Rows, event: object) -> None:
            raise ValueError("cannot apply")

    from projections.audit import AuditView

    services = bootstrap(settings, projections=[Failing(), AuditView()])
    try:
        services.ledger.handle(COMMUNITY)
        side = services.read_side()
        assert not side.running and "cannot apply" in side.errors["failing"]
        assert side.positions == {"failing": 0, "audit": 1}
    finally:
        services.close()
