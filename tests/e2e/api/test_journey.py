"""A journey across the routers over real HTTP, on the shared development-mode servers (conftest.py).

The flow registers a community, hires staff, enrolls a retiree, transfers them, delivers services,
rates them and adjusts the pension; then history (retirees), ``?as_of=`` state, ``?version=`` state,
the global log (log) and the projections (projections, communities) must tell the same story, in
numbers. Other tests' events share the log, so sequence numbers are compared with ``head()``.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import httpx

from tests.e2e.api.conftest import BORN, community, created, head, retiree, service, staff_joined
from tests.people import id_number


def test_history_state_and_projections_agree(http: httpx.Client) -> None:
    code = "CS-YL-001"
    start = head(http)
    assert created(http.post("/v1/communities", json=community(code))) == {"id": code, "version": 1, "seq": start + 1}
    assert created(http.post(f"/v1/communities/{code}/events", json=staff_joined("s1")))["version"] == 2
    assert created(http.post(f"/v1/communities/{code}/events", json=staff_joined("s2", "volunteer")))["version"] == 3
    enrolled = created(http.post("/v1/retirees", json=retiree(id_number(BORN, 123, "430104"))))
    rid = enrolled["id"]
    assert enrolled["version"] == 1
    events = f"/v1/retirees/{rid}/events"
    transfer = {"type": "transferred_to_community", "from_danwei": "HN-RAIL-02", "community": code,
                "effective_date": "2011-01-01", "approved_by": "agency officer", "expected_version": 1}
    assert created(http.post(events, json=transfer))["version"] == 2
    created(http.post(events, json=service("svc-1", code, "home_visit", "2024-03-10", 60)))
    created(http.post(events, json=service("svc-2", code, "health_check", "2024-03-20", 30)))
    created(http.post(events, json=service("svc-3", code, "home_visit", "2024-04-02", 45)))
    created(http.post(events, json={"type": "satisfaction_rated", "service_id": "svc-1", "score": 4,
                                    "rated_on": "2024-03-11", "channel": "phone"}))
    created(http.post(events, json={"type": "satisfaction_rated", "service_id": "svc-2", "score": 2,
                                    "rated_on": "2024-03-21", "channel": "in_person", "comment": "late"}))
    created(http.post(events, json={"type": "satisfaction_rated", "score": 5, "rated_on": "2024-04-03",
                                    "channel": "app"}))
    adjusted = created(http.post(events, json={
        "type": "pension_adjusted", "previous_amount": "2500.00", "new_amount": 2612.5, "effective_month": "2024-01",
        "reason": "annual_adjustment", "policy_reference": "Hunan 2024 adjustment", "expected_version": 8,
    }))
    assert adjusted["version"] == 9

    # history: every event once, in order, stamped, hash-linked along the global log
    history = http.get(f"/v1/retirees/{rid}/history").json()
    assert [e["type"] for e in history] == [
        "Enrolled", "TransferredToCommunity", "ServiceDelivered", "ServiceDelivered", "ServiceDelivered",
        "SatisfactionRated", "SatisfactionRated", "SatisfactionRated", "PensionAdjusted",
    ]
    assert [e["version"] for e in history] == list(range(1, 10))
    assert all(e["recorded_by"] == "dev" and e["stream"] == rid and e["event_id"] for e in history)
    assert history[-1]["seq"] == adjusted["seq"] == head(http)
    log = http.get("/v1/log", params={"after": 0, "limit": 1000}).json()
    assert log["next_after"] == head(http) == len(log["events"])
    assert [e["seq"] for e in log["events"]] == list(range(1, head(http) + 1))
    assert log["events"][0]["prev_hash"] == "0" * 64
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(log["events"], log["events"][1:], strict=False))
    by_seq = {e["seq"]: e for e in log["events"]}
    assert all(by_seq[e["seq"]] == e for e in history)

    # state now, as of business dates, and at versions
    now = http.get(f"/v1/retirees/{rid}").json()
    assert (now["version"], now["monthly_pension"], now["stage"], now["community"]) == (9, "2612.50", "community", code)
    assert sorted(now["services"]) == ["svc-1", "svc-2", "svc-3"]
    before_2024 = http.get(f"/v1/retirees/{rid}", params={"as_of": "2023-12-31"}).json()
    assert (before_2024["monthly_pension"], before_2024["services"], before_2024["version"]) == ("2500.00", {}, 2)
    mid_march = http.get(f"/v1/retirees/{rid}", params={"as_of": "2024-03-15"}).json()
    assert mid_march["monthly_pension"] == "2612.50"  # effective 2024-01, though recorded last
    assert mid_march["services"] == {
        "svc-1": {"community": code, "service_type": "home_visit", "delivered_on": "2024-03-10", "rated": True}
    }
    at_v2 = http.get(f"/v1/retirees/{rid}", params={"version": 2}).json()
    assert (at_v2["version"], at_v2["stage"], at_v2["services"], at_v2["monthly_pension"]) == (
        2, "community", {}, "2500.00")
    at_v8 = http.get(f"/v1/retirees/{rid}", params={"version": 8}).json()
    assert at_v8["monthly_pension"] == "2500.00" and len(at_v8["services"]) == 3
    assert at_v8["overall_rated_on"] == ["2024-04-03"]

    # projections, read right after the writes, against figures computed here from the history
    minutes: dict[str, int] = defaultdict(int)
    services: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for e in history:
        if e["type"] == "ServiceDelivered":
            month = e["data"]["delivered_on"][:7]
            minutes[month] += e["data"]["duration_minutes"]
            services[month][e["data"]["service_type"]] += 1
    window = {"community": code, "month_from": "2024-03", "month_to": "2024-04"}
    workload = http.get("/v1/projections/workload", params=window).json()["rows"]
    assert [row["month"] for row in workload] == ["2024-03", "2024-04"]
    for row in workload:
        assert row["community"] == code and row["city"] == "Changsha"
        assert row["service_minutes"] == minutes[row["month"]]
        assert {k: v for k, v in row["services"].items() if v} == services[row["month"]]
        assert row["services_total"] == sum(services[row["month"]].values())
        assert (row["retirees_managed"], row["full_time_staff"], row["staff"]) == (1, 1, 2)
        assert row["retirees_per_full_time_staff"] == 1
    assert (workload[0]["service_minutes"], workload[1]["service_minutes"]) == (90, 45)

    satisfaction = http.get("/v1/projections/satisfaction", params=window).json()["rows"]
    assert [(r["month"], r["service_type"], r["count"], r["mean"]) for r in satisfaction] == [
        ("2024-03", "health_check", 1, 2), ("2024-03", "home_visit", 1, 4), ("2024-04", "overall", 1, 5),
    ]
    assert satisfaction[0]["distribution"] == {"1": 0, "2": 1, "3": 0, "4": 0, "5": 0}
    home_visits = http.get("/v1/projections/satisfaction", params={**window, "service_type": "home_visit"}).json()
    assert [r["mean"] for r in home_visits["rows"]] == [4]

    pensions = http.get("/v1/projections/pensions", params={"community": code, "month_from": "2023-12",
                                                           "month_to": "2024-02"}).json()["rows"]
    assert [(r["month"], r["total_monthly_pension"], r["adjustments"], r["adjustments_sum"]) for r in pensions] == [
        ("2023-12", "2500.00", 0, "0.00"), ("2024-01", "2612.50", 1, "112.50"), ("2024-02", "2612.50", 0, "0.00"),
    ]
    adjustment = history[-1]["data"]
    assert Decimal(adjustment["new_amount"]) - Decimal(adjustment["previous_amount"]) == Decimal(
        pensions[1]["adjustments_sum"])
    assert Decimal(pensions[-1]["total_monthly_pension"]) == Decimal(now["monthly_pension"])

    assert http.get("/v1/projections/workload", params={**window, "city": "Changsha"}).json()["rows"] == workload
    assert http.get("/v1/projections/workload", params={**window, "city": "Atlantis"}).status_code == 404  # no city
    views = http.get("/v1/projections/status").json()["views"]
    assert views and all(v["lag"] == 0 and v["position"] == v["head"] == head(http) for v in views)

    staff = http.get(f"/v1/communities/{code}").json()
    assert [(s["staff_id"], s["role"], s["active"]) for s in staff["staff"]] == [
        ("s1", "full_time", True), ("s2", "volunteer", True)]
