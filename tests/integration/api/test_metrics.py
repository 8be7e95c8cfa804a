"""``/metrics`` parsed by prometheus-client's own parser: values move with appends, labels are route
templates and fixed names (no ids), and each app has its own registry. Also the request id and /health."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.main import create_app
from api.request_log import HEADER, JsonFormatter, RequestIdFilter, request_id
from ledger.config import Settings

LOCAL = "http://127.0.0.1"
COMMUNITY = {"code": "ZZ-HT-001", "name": "Hetang Community", "city": "Zhuzhou", "district": "Hetang",
             "street": "Jianshe Rd", "kind": "urban_community"}
STAFF = {"type": "staff_joined", "staff_id": "s1", "name": "Chen Jing", "role": "full_time",
         "qualified_social_worker": False, "joined_on": "2019-09-01"}


def samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def test_appends_and_their_latency_are_counted_by_event_type_and_outcome(settings: Settings) -> None:
    with TestClient(create_app(settings, dev_mode=True), base_url=LOCAL) as client:
        before = samples(client)
        assert ("ledger_appends_total", (("event_type", "Registered"), ("outcome", "appended"))) not in before
        assert client.post("/v1/communities", json=COMMUNITY).status_code == 201
        assert client.post("/v1/communities", json=COMMUNITY).status_code == 409
        assert client.post("/v1/communities/ZZ-HT-001/events", json=STAFF).status_code == 201
        after = samples(client)
    registered = (("event_type", "Registered"),)
    assert after[("ledger_appends_total", (*registered, ("outcome", "appended")))] == 1
    assert after[("ledger_appends_total", (*registered, ("outcome", "conflict")))] == 1
    assert after[("ledger_append_seconds_count", registered)] == 2
    assert after[("ledger_append_seconds_sum", registered)] > 0
    assert after[("ledger_appends_total", (("event_type", "StaffJoined"), ("outcome", "appended")))] == 1


def test_batch_items_are_counted_by_outcome_without_a_latency_sample(settings: Settings) -> None:
    with TestClient(create_app(settings, dev_mode=True), base_url=LOCAL) as client:
        item = {**COMMUNITY, "type": "registered"}
        answer = client.post("/v1/batches", json=[item, item])
        assert [r["status"] for r in answer.json()["results"]] == [201, 409]
        found = samples(client)
    registered = (("event_type", "Registered"),)
    assert found[("ledger_appends_total", (*registered, ("outcome", "appended")))] == 1
    assert found[("ledger_appends_total", (*registered, ("outcome", "conflict")))] == 1
    assert found.get(("ledger_append_seconds_count", registered), 0) == 0
    assert found[("http_requests_total", (("method", "POST"), ("route", "/v1/batches"), ("status", "200")))] == 1


def test_projection_lag_and_log_head_are_reported_per_view(settings: Settings) -> None:
    with TestClient(create_app(settings, dev_mode=True), base_url=LOCAL) as client:
        client.post("/v1/communities", json=COMMUNITY)
        client.get("/v1/projections/status")  # waits for the views to catch up
        found = samples(client)
    assert found[("ledger_log_head", ())] >= 1
    views = {labels[0][1]: value for (name, labels), value in found.items() if name == "ledger_projection_lag"}
    assert "workload" in views and set(views.values()) == {0}
    assert found[("ledger_projection_failing", (("view", "workload"),))] == 0
    assert not [key for key in found if key[0] == "ledger_kafka_producer_errors_total"]  # SQLite backend


def test_http_requests_are_labelled_by_route_template_never_by_raw_path(settings: Settings) -> None:
    with TestClient(create_app(settings, dev_mode=True), base_url=LOCAL) as client:
        client.post("/v1/communities", json=COMMUNITY)
        client.get("/v1/communities/ZZ-HT-001/history")
        client.get("/v1/retirees/430102195001011234/history")
        client.get("/no/such/430102195001011234")
        text = client.get("/metrics").text
        found = samples(client)
    assert "ZZ-HT-001" not in text and "430102195001011234" not in text
    routes = {dict(labels)["route"] for name, labels in found if name == "http_requests_total"}
    assert "/v1/communities" in routes and "unmatched" in routes
    assert any("{" in route for route in routes)
    assert found[("http_requests_total", (("method", "POST"), ("route", "/v1/communities"), ("status", "201")))] == 1


def test_each_app_has_its_own_registry(settings: Settings, tmp_path: Path) -> None:
    with TestClient(create_app(settings, dev_mode=True), base_url=LOCAL) as first:
        first.post("/v1/communities", json=COMMUNITY)
        with TestClient(create_app(Settings(home=tmp_path / "other"), dev_mode=True), base_url=LOCAL) as second:
            found = samples(second)
    assert not [key for key in found if key[0] == "ledger_appends_total"]


def test_a_request_id_is_given_or_a_sane_one_echoed(settings: Settings) -> None:
    with TestClient(create_app(settings, dev_mode=True), base_url=LOCAL) as client:
        fresh = client.get("/health").headers[HEADER]
        echoed = client.get("/health", headers={HEADER: "abc-123.x"}).headers[HEADER]
        replaced = client.get("/health", headers={HEADER: "430102195001011234"}).headers[HEADER]
        junk = client.get("/health", headers={HEADER: "a b<script>"}).headers[HEADER]
        refused = client.get("/health", params={"q": "x" * 5000})  # refused by the gate, still carries one
    assert len(fresh) == 32 and echoed == "abc-123.x"
    assert replaced != "430102195001011234" and len(replaced) == 32 and len(junk) == 32
    assert refused.status_code == 414 and len(refused.headers[HEADER]) == 32


def test_log_lines_are_json_with_the_request_id_and_no_exception_message() -> None:
    record = logging.LogRecord("api.errors", logging.ERROR, __file__, 1, "failed: %s", ("ValueError",), None)
    try:
        raise ValueError("430102195001011234")
    except ValueError:
        record.exc_info = sys.exc_info()
    token = request_id.set("rid-1")
    try:
        RequestIdFilter().filter(record)
    finally:
        request_id.reset(token)
    line = JsonFormatter().format(record)
    parsed = orjson.loads(line)
    assert parsed["request_id"] == "rid-1" and parsed["error"] == "ValueError" and parsed["level"] == "ERROR"
    assert "430102195001011234" not in line


def test_health_lists_the_log_and_each_view_with_lag_and_error(settings: Settings) -> None:
    with TestClient(create_app(settings, dev_mode=True), base_url=LOCAL) as client:
        client.post("/v1/communities", json=COMMUNITY)
        client.get("/v1/projections/status")
        health = client.get("/health").json()
    assert health["log"] == {"backend": "sqlite", "head": health["head"], "topic": None}
    assert health["index"] is None
    assert {view["name"] for view in health["views"]} >= {"workload", "pensions", "audit"}
    assert all(view["lag"] == 0 and view["error"] is None for view in health["views"])


def test_under_uvicorns_logging_our_loggers_and_uvicorns_write_json_lines() -> None:
    script = """
import logging, logging.config
from uvicorn.config import LOGGING_CONFIG
from api.request_log import json_logs, request_id
logging.config.dictConfig(LOGGING_CONFIG)
json_logs(); logging.config.dictConfig(LOGGING_CONFIG); json_logs()  # a second server in the process
request_id.set("rid-7")
logging.getLogger("api.errors").warning("refused %s", "x")
logging.getLogger("uvicorn.error").info("started")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    lines = [orjson.loads(line) for line in done.stderr.splitlines()]
    assert [(line["logger"], line["message"], line["request_id"]) for line in lines] == [
        ("api.errors", "refused x", "rid-7"), ("uvicorn.error", "started", "rid-7")]


@pytest.mark.kafka
def test_on_kafka_health_lists_the_index_and_metrics_the_producer_errors(tmp_path: Path, kafka_bootstrap: str) -> None:
    settings = Settings(home=tmp_path / "home", log_url=f"kafka://{kafka_bootstrap}",
                        kafka_topic="health-metrics.events")
    with TestClient(create_app(settings, dev_mode=True), base_url=LOCAL) as client:
        assert client.post("/v1/communities", json=COMMUNITY).status_code == 201
        health = client.get("/health").json()
        found = samples(client)
    assert health["log"] == {"backend": "kafka", "head": health["head"], "topic": "health-metrics.events"}
    assert health["index"]["head"] == health["head"] >= 1 and health["index"]["fenced"] is False
    assert health["index"]["partitions"] and health["index"]["write_failures"] == {}
    assert found[("ledger_appends_total", (("event_type", "Registered"), ("outcome", "appended")))] == 1
