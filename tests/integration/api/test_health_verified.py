"""``/health`` reports each view's last ``projections verify`` result, without the row's key (no token needed)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import date

import orjson
from fastapi.testclient import TestClient

from api.main import create_app
from ledger.config import Settings
from projections.verify import verify
from runtime.bootstrap import opened
from tests.integration.projections.support import Hunan


def test_health_reports_the_last_verification_of_each_view(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        assert {view["verified"] for view in client.get("/health").json()["views"]} == {None}
    with opened(settings) as services:
        hunan = Hunan(services.ledger)
        hunan.community("CS-YL-001")
        hunan.staff("CS-YL-001", "s1", date(2023, 1, 5))
        services.settle()
        key = "CS-YL-001|2023-01"
        with closing(sqlite3.connect(settings.views_path)) as db, db:
            db.execute("UPDATE view_rows SET data=? WHERE view='workload' AND kind='month' AND key=?",
                       (orjson.dumps({"staff": 5, "staff_joined": 1, "full_time_staff": 1}), key))
        verify(services.ledger, services.store, services.runner.projections)
        head = services.ledger.head()

    with TestClient(create_app(settings)) as client:
        health = client.get("/health").json()

    views = {view["name"]: view for view in health["views"]}
    assert health["status"] == "ok" and views["workload"]["position"] == head  # a difference is not an outage
    workload = views["workload"]["verified"]
    assert (workload["ok"], workload["position"], workload["differing"]) == (False, head, 1)
    assert workload["difference"] == {"kind": "different", "table": "month", "fields": ["staff"]}
    assert key not in str(health)
    assert all(views[name]["verified"]["ok"] and views[name]["verified"]["difference"] is None
               for name in ("audit", "satisfaction", "pensions", "standards", "compliance", "training", "funding",
                            "directory"))
    assert all(view["verified"]["at"].endswith("+00:00") and view["verified"]["rows"] >= 0 for view in views.values())
